"""Shared fixture for the per-category generator tests: run every level of a unit's chain in a real sandbox."""

from __future__ import annotations

from types import ModuleType

import pytest
from agentgym.synth.general.checks import run_reference
from agentgym.synth.general.sandbox import CandidateSandbox


@pytest.fixture
def run_chain():
    """`run_chain(module, seed)` → [(accepted, num_tool_calls, answer)] for levels 0..MAX_LEVEL on the top env."""

    def run(module: ModuleType, seed: int) -> list[tuple[bool, int, object]]:
        env = module.environment(seed, module.MAX_LEVEL)
        with CandidateSandbox() as box:
            box.build(env.sql, env.tools_source, env.tool_names())
            out = []
            for level in range(module.MAX_LEVEL + 1):
                report, _, accepted, reasons = run_reference(box, module.task(seed, level))
                out.append((accepted, len(report["calls"]), report["answer"]))
            return out

    return run
