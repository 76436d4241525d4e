"""`GeneralEnv()` with no tasks serves the shipped synthesized set: large enough to hold tasks out, cheap on first use."""

from __future__ import annotations

import time

from agentgym.envs.general import builtin
from agentgym.envs.general.env import GeneralEnv
from agentgym.heldout import content_hash, split_heldout


def test_default_set_has_enough_distinct_tasks_for_a_disjoint_heldout_split():
    tasks = GeneralEnv().sample_tasks(200, seed=0)
    assert len({content_hash(t) for t in tasks}) >= 128
    assert len({t.meta["category"] for t in tasks}) == 5
    split = split_heldout(tasks, 32, seed=0)
    assert len({content_hash(t) for t in split.train}) >= 128 and not (
        {content_hash(t) for t in split.train} & {content_hash(t) for t in split.heldout})


def test_first_use_materializes_the_set_into_the_cache_quickly(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builtin.builtin_root.cache_clear()
    try:
        started = time.perf_counter()
        root = builtin.builtin_root()
        assert time.perf_counter() - started < 10.0
        assert root.is_relative_to(tmp_path) and len(list((root / "envs").iterdir())) >= 50
        assert not [p for p in root.parent.iterdir() if p.name.startswith(".build-")]  # the atomic write cleaned up
    finally:
        builtin.builtin_root.cache_clear()
