"""The pass@k filter end to end on `arith` tasks with policies whose success on each attempt is known in advance."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

import pytest
from agentgym.synth import filter as filter_module
from agentgym.synth.filter import filter_command, run_filter
from agentgym.synth.filter_rules import (
    DEFAULT_TOO_EASY_TEST,
    FilterConfig,
    TaskState,
    decide,
)
from agentgym.synth.routing_env import RoutingEnv

import agentgym
from agentgym.api import Action, Observation, Task, ToolCall
from agentgym.rollout import PolicyStep


class PlannedPolicy:
    """Submits the right answer on attempt j of a task iff `succeeds(task, j)`; counts attempts per task."""

    def __init__(self, tasks: list[Task], succeeds: Callable[[Task, int], bool]) -> None:
        self.by_prompt = {t.prompt: t for t in tasks}
        self.succeeds = succeeds
        self.attempts: Counter[str] = Counter()

    async def act(self, messages, tools):
        task = self.by_prompt[next(m.content for m in messages if m.role == "user")]
        attempt = self.attempts[task.id]
        self.attempts[task.id] += 1
        answer = task.data["answer"] + (0 if self.succeeds(task, attempt) else 1)
        return PolicyStep(action=Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})]))


def tasks_with(plans: list[str]) -> list[Task]:
    base = agentgym.make("arith").sample_tasks(len(plans), seed=5)
    return [t.model_copy(update={"meta": {**t.meta, "plan": p}}) for t, p in zip(base, plans)]


def by_plan(task: Task, attempt: int) -> bool:
    plan = task.meta["plan"]
    if plan == "never":
        return False
    if plan == "always":
        return True
    if plan.startswith("at"):
        return attempt == int(plan[2:])
    if plan == "half":
        return attempt % 2 == 0
    raise AssertionError(plan)


def run(tasks, config=None, **kwargs):
    policy = PlannedPolicy(tasks, by_plan)
    result = asyncio.run(run_filter(tasks, policy, config, progress=False, **kwargs))
    return result, policy


def test_keeps_at_first_success_and_drops_unsolvable_after_the_sprt_boundary():
    tasks = tasks_with(["always", "never", "at30", "at90"])
    result, policy = run(tasks)
    states = {s.task_id: s for s in result.states}
    always, never, at30, at90 = (states[t.id] for t in tasks)
    assert (always.stopped_by, always.is_kept, always.num_episodes) == ("first_success", True, 8)
    assert (never.stopped_by, never.is_kept, never.num_episodes) == ("sprt_unsolvable", False, 64)
    assert (at30.stopped_by, at30.is_kept, at30.num_episodes) == ("first_success", True, 56)  # rounds 8+16+32
    assert at90.stopped_by == "sprt_unsolvable" and not at90.is_kept  # the price of stopping early
    assert [t.id for t in result.kept] == [tasks[0].id, tasks[2].id]
    assert result.num_episodes == sum(policy.attempts.values()) == 8 + 64 + 56 + 64
    stats = result.kept[1].meta["passk"][-1]
    assert stats["num_attempts"] == 56 and stats["num_successes"] == 1 and stats["stopped_by"] == "first_success"
    assert stats["outcomes"].count(True) == 1 and len(stats["outcomes"]) == 56
    assert 0 < stats["wilson_low"] < 1 / 56 < stats["wilson_high"]
    assert stats["pass_at_k_estimate"] is None  # no unbiased estimate exists under early stopping
    assert result.dropped[0].meta["passk"][-1]["stopped_by"] == "sprt_unsolvable"


def test_every_round_is_one_rollout_batch_over_all_live_tasks(monkeypatch):
    calls = []
    real = filter_module.run_episodes

    async def spy(make_env, policy, tasks, config, **kwargs):
        calls.append(([t.id for t in tasks], config.num_samples))
        return await real(make_env, policy, tasks, config, **kwargs)

    monkeypatch.setattr(filter_module, "run_episodes", spy)
    tasks = tasks_with(["always", "never", "never", "at20"])
    run(tasks)
    ids = [t.id for t in tasks]
    assert calls == [(ids, 8), (ids[1:], 16), (ids[1:3], 32), (ids[1:3], 8)]


def test_without_early_drop_a_task_with_no_success_runs_all_k():
    result, _ = run(tasks_with(["never", "at90"]), FilterConfig(drop_test=None))
    never, at90 = result.states
    assert (never.stopped_by, never.num_episodes, never.is_kept) == ("budget", 100, False)
    assert at90.stopped_by == "first_success" and at90.is_kept and len(at90.outcomes) == 100  # 8+16+32+44


def test_naive_mode_runs_exactly_k_and_records_the_codex_estimate():
    result, policy = run(tasks_with(["half", "never"]), FilterConfig(k=20, sequential=False))
    assert all(s.stopped_by == "fixed_n" and s.num_episodes == 20 for s in result.states)
    assert [s.is_kept for s in result.states] == [True, False]
    stats = result.kept[0].meta["passk"][-1]
    assert stats["num_successes"] == 10 and stats["pass_at_k_estimate"] == 1.0 and stats["stopped_by"] == "fixed_n"
    assert sorted(result.kept[0].meta["passk"][-1]["outcomes"]) == [0] * 10 + [1] * 10
    assert sum(policy.attempts.values()) == 40


def test_too_easy_tasks_are_dropped_with_the_same_machinery():
    result, _ = run(tasks_with(["always", "half", "never"]), FilterConfig(too_easy_test=DEFAULT_TOO_EASY_TEST))
    always, half, never = result.states
    assert (always.stopped_by, always.is_kept, always.num_episodes) == ("sprt_too_easy", False, 8)
    assert (half.stopped_by, half.is_kept, half.num_episodes) == ("sprt_not_too_easy", True, 8)
    assert never.stopped_by == "sprt_unsolvable"


class FlakyEnv:
    """Wraps arith; `reset` raises for the first `num_failures` resets of each task (an infrastructure failure)."""

    failures: ClassVar[Counter[str]] = Counter()

    def __init__(self, num_failures: int) -> None:
        self.inner = agentgym.make("arith")
        self.num_failures = num_failures
        self.name = "arith"

    def tools(self):
        return self.inner.tools()

    async def reset(self, task, *, seed=None) -> Observation:
        if FlakyEnv.failures[task.id] < self.num_failures:
            FlakyEnv.failures[task.id] += 1
            raise RuntimeError("sandbox failed to start")
        return await self.inner.reset(task, seed=seed)

    async def step(self, action):
        return await self.inner.step(action)

    async def close(self):
        await self.inner.close()


def test_env_errors_are_retried_and_never_counted_as_failures():
    FlakyEnv.failures.clear()
    tasks = tasks_with(["never"])
    result, _ = run(tasks, FilterConfig(concurrency=1), make_env=lambda: FlakyEnv(3))
    (state,) = result.states
    assert state.num_env_errors == 3 and state.num_episodes == 67 and len(state.outcomes) == 64
    assert state.stopped_by == "sprt_unsolvable"


def test_a_task_whose_env_keeps_failing_stops_undecided():
    FlakyEnv.failures.clear()
    result, _ = run(tasks_with(["always"]), FilterConfig(max_env_errors=2), make_env=lambda: FlakyEnv(10**6))
    (state,) = result.states
    assert state.stopped_by == "env_errors" and state.is_kept is False and state.outcomes == []
    assert result.dropped[0].meta["passk"][-1]["pass_at_k_estimate"] is None


@pytest.mark.parametrize("outcomes, expected", [
    ([False] * 63, (None, None)),
    ([False] * 64, ("sprt_unsolvable", False)),
    ([False] * 7 + [True], ("first_success", True)),
])
def test_decide(outcomes, expected):
    state = TaskState(task_id="t", outcomes=list(outcomes))
    decide(state, FilterConfig())
    assert (state.stopped_by, state.is_kept) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be a positive integer, got 0"),
    ({"growth": 0.5}, "growth must be a number >= 1, got 0.5"),
    ({"max_env_errors": -1}, "max_env_errors must be a non-negative integer, got -1"),
    ({"drop_test": 0.1}, "drop_test must be an SPRTConfig or None, got 0.1"),
])
def test_filter_config_names_the_bad_field(kwargs, message):
    with pytest.raises(ValueError, match=f"^{__import__('re').escape(message)}$"):
        FilterConfig(**kwargs)


def test_routing_env_mixes_envs_in_one_batch():
    made = []

    def make(name, **kwargs):
        made.append((name, kwargs))
        return agentgym.make("arith", **kwargs)

    env = RoutingEnv({"arith": {"max_turns": 3}}, make_env=make)
    task = tasks_with(["always"])[0]
    asyncio.run(env.reset(task))
    asyncio.run(env.reset(task))
    assert made == [("arith", {"max_turns": 3})] and env.name == "arith" and env.tools()[0].name == "calculator"
    asyncio.run(env.close())
    with pytest.raises(agentgym.errors.ResetNeeded):
        env.tools()


def test_filter_command_writes_kept_dropped_and_state(tmp_path, capsys):
    tasks = agentgym.make("arith").sample_tasks(3, seed=2)
    tasks[1] = tasks[1].model_copy(update={"data": {**tasks[1].data, "answer": 35}})
    task_file = tmp_path / "tasks.jsonl"
    task_file.write_text("".join(t.model_dump_json() + "\n" for t in tasks))
    script = tmp_path / "policy.jsonl"
    script.write_text(json.dumps({"tool_calls": [{"name": "submit", "arguments": {"answer": 35}}]}) + "\n")
    result = filter_command(task_file, f"scripted:{script}", k=100, out=tmp_path / "kept.jsonl", progress=False)
    kept = [json.loads(line) for line in (tmp_path / "kept.jsonl").read_text().splitlines()]
    dropped = (tmp_path / "kept.dropped.jsonl").read_text().splitlines()
    assert [t["id"] for t in kept] == [tasks[1].id] and len(dropped) == 2
    assert kept[0]["meta"]["passk"][-1]["policy"] == f"scripted:{script}"
    assert result.num_episodes == 8 + 64 + 64 and (tmp_path / "kept.state.jsonl").exists()
    again = filter_command(task_file, f"scripted:{script}", out=tmp_path / "kept.jsonl", progress=False)
    assert [s.to_dict() for s in again.states] == [s.to_dict() for s in result.states]
