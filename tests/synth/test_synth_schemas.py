"""Synthesis schemas: PassKStats consistency rules and the TaskMeta shape stored with general tasks."""

from __future__ import annotations

import pytest
from agentgym.synth.schemas import Difficulty, PassKStats, Provenance, TaskMeta
from pydantic import ValidationError


def test_passk_stats_accepts_a_first_success_run():
    stats = PassKStats(k=100, num_attempts=3, num_successes=1, stopped_by="first_success", outcomes=[0, 0, 1],
                       wilson_low=0.06, wilson_high=0.79)
    assert stats.pass_at_k_estimate is None and stats.outcomes == [0, 0, 1]


@pytest.mark.parametrize("fields, message", [
    ({"num_successes": 4}, "num_successes \\(4\\) exceeds num_attempts \\(3\\)"),
    ({"outcomes": [0, 2, 1]}, "outcomes must be 0 or 1"),
    ({"wilson_low": 0.9}, "wilson_low \\(0.9\\) exceeds wilson_high"),
])
def test_passk_stats_rejects_inconsistent_numbers(fields, message):
    base = dict(k=100, num_attempts=3, num_successes=1, stopped_by="sprt_drop", outcomes=[0, 0, 1], wilson_low=0.1,
                wilson_high=0.8)
    with pytest.raises(ValidationError, match=message):
        PassKStats(**(base | fields))


def test_task_meta_round_trips():
    meta = TaskMeta(category="inventory", env_id="e", env_sha256="h", dedup_key="sig:p",
                    difficulty=Difficulty(level=2, parent_task_id="t-L1", knobs={"num_tools": 4}, num_ref_tool_calls=5),
                    provenance=Provenance(generator="procedural:inventory", seed=0, unit_index=3))
    assert TaskMeta.model_validate(meta.model_dump(mode="json")) == meta
    with pytest.raises(ValidationError):
        Difficulty(level=-1, num_ref_tool_calls=0)
