"""Every built-in env holds up against hostile agent input (`agentgym.fuzz`), and the fuzzer reports what breaks."""

from __future__ import annotations

import asyncio
import random

import pytest

import agentgym
from agentgym.api import Action, ToolCall, Verdict
from agentgym.fuzz import Finding, fuzz_env, make_action, render_action
from agentgym.toolenv import ToolEnv, tool

# Rounds of (case x tool): every case meets every tool of the env at least ROUNDS times.
ROUNDS = {"arith": 4, "rpt": 4, "search": 2, "general": 2, "jupyter": 1, "code_repair": 1}
SLOW = {"jupyter", "code_repair"}
NUM_CASES = 10


def _params():
    return [pytest.param(name, rounds, marks=[pytest.mark.slow] if name in SLOW else [], id=name)
            for name, rounds in ROUNDS.items()]


def test_every_registered_env_is_fuzzed():
    assert {spec.name for spec in agentgym.list_envs()} <= set(ROUNDS)


@pytest.mark.parametrize(("name", "rounds"), _params())
def test_builtin_env_survives_fuzzing(name, rounds):
    env = agentgym.make(name)
    task = env.sample_tasks(1, seed=0)[0]
    num_tools = max(1, len(_tools_after_reset(env, task)))
    findings = fuzz_env(name, n=NUM_CASES * num_tools * rounds, seed=0, step_timeout_s=30)
    assert [f.describe() for f in findings] == []


def _tools_after_reset(env, task):
    async def run():
        try:
            await env.reset(task, seed=0)
            return env.tools()
        finally:
            await env.close()

    return asyncio.run(run())


# --- the fuzzer itself ----------------------------------------------------------------------------------------------
class BrittleEnv(ToolEnv):
    """An env with the mistakes the fuzzer exists to find."""

    name = "brittle"

    @tool("Look a key up (forgets that the agent may send any key).")
    async def lookup(self, key: str) -> str:
        return {"a": "1"}[key]  # KeyError: an env_error caused by the agent's input

    @tool("Think for a while (longer for longer text).")
    async def think(self, text: str) -> str:
        await asyncio.sleep(5 if len(text) > 1000 else 0)
        return "done"

    @tool("Submit.")
    async def submit(self, answer: str) -> Verdict:
        return Verdict(reward=0.0, passed=False)

    async def step(self, action: Action):
        if any(isinstance(c.arguments, dict) and c.arguments.get("answer") is None for c in action.tool_calls
               if c.name == "submit"):
            raise RuntimeError("step crashed on a null answer")
        return await super().step(action)

    def sample_tasks(self, n, *, seed=0):
        from agentgym.api import Task

        return [Task(id=f"b-{i}", env="brittle", prompt="?") for i in range(n)]


def test_fuzzer_reports_env_errors_timeouts_and_escaped_exceptions():
    findings = fuzz_env(BrittleEnv, n=NUM_CASES * 3 * 2, seed=0, step_timeout_s=0.5)
    kinds = {(f.kind, f.action.split("(")[0]) for f in findings}
    assert ("env_error", "lookup") in kinds
    assert ("timeout", "think") in kinds
    assert ("exception", "submit") in kinds
    crash = next(f for f in findings if f.kind == "exception")
    assert crash.describe() == f"brittle: exception on {crash.case}: {crash.action} -> RuntimeError: step crashed on a " \
                               "null answer"
    assert all("\n" not in f.describe() and f.describe().isascii() for f in findings)


def test_fuzzer_is_deterministic_and_covers_every_case_on_every_tool():
    tools = BrittleEnv().tools()
    first = [make_action(i, random.Random(0), tools) for i in range(NUM_CASES * len(tools))]
    again = [make_action(i, random.Random(0), tools) for i in range(NUM_CASES * len(tools))]
    assert first == again
    assert len({case for case, _ in first}) == NUM_CASES


def test_finding_describes_itself_on_one_line():
    finding = Finding("arith", "env_error", "huge-number", "submit(answer=<int of 401 digits>)", "internal error")
    assert finding.describe() == "arith: env_error on huge-number: submit(answer=<int of 401 digits>) -> internal error"


def test_render_action_is_short_and_ascii():
    shown = render_action(Action(tool_calls=[ToolCall(name="t", arguments={"x": 10**5000, "s": "\udcff" * 999})]))
    assert shown.isascii() and len(shown) <= 120
    assert shown.startswith("t(x=<int of 5001 digits>, s='\\udcff")
    assert render_action(Action(text="<tool_call>\udcff")) == "text '<tool_call>\\udcff'"
