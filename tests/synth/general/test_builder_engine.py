"""The embedded engine drives a build end to end (its output fails the checks): the build fails cleanly, and leaves
no process and no sandbox folder behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
import pytest
from agentgym.synth.general.builder import BuilderConfig, BuildRun, BuildRunConfig, Corpus

from agentgym.rollout.specs import make_policy
from agentgym.sandbox.workdir import default_workdir_root

FIXTURES = Path(__file__).parent / "builder_fixtures"


def sandbox_dirs() -> set[str]:
    root = default_workdir_root()
    return set(os.listdir(root)) if os.path.isdir(root) else set()


@pytest.mark.slow
def test_engine_policy_build_fails_cleanly_and_leaves_nothing_behind(tmp_path):
    policy = make_policy("engine:smollm2-135m")
    before_dirs, me = sandbox_dirs(), psutil.Process()
    before_children = {p.pid for p in me.children(recursive=True)}
    config = BuildRunConfig(categories=("bookstore",), num_envs=1,
                            builder=BuilderConfig(max_turns=3, max_level=0, max_repairs=0))
    [record] = asyncio.run(BuildRun(policy, Corpus(FIXTURES / "corpus"), tmp_path, config,
                                    model="engine:smollm2-135m").run())
    assert record["status"] == "rejected"
    assert record["failed_stage"] in ("data", "tools", "task", "consistent", "checks")
    assert record["reason"]
    assert (tmp_path / "transcripts" / f"{record['key']}.jsonl").is_file()
    assert not (tmp_path / "envs").exists()
    assert {p.pid for p in me.children(recursive=True)} <= before_children
    assert sandbox_dirs() <= before_dirs
