"""One oracle test over the whole registry: a new env is done when it passes this file, unedited.

For every registered env: its reference solution earns reward 1.0 and a pass on its sample tasks, an empty or wrong
submission earns no pass, and the full contract checker (`agentgym envs check`) passes.
"""

from __future__ import annotations

from typing import Any

import pytest

import agentgym
from agentgym.checker import mutate_action
from agentgym.api import Action, StepResult
from agentgym.checker import check_env

ENV_NAMES = [spec.name for spec in agentgym.list_envs()]
NUM_TASKS = 4


def test_the_registry_is_not_empty():
    assert "arith" in ENV_NAMES


@pytest.fixture(params=ENV_NAMES)
def env_name(request) -> str:
    return request.param


def _hooks(env: Any) -> None:
    for hook in ("reference_action", "sample_tasks"):
        assert callable(getattr(env, hook, None)), (
            f"env {env.name!r} needs a {hook} hook for the oracle test (see agentgym.api.Env)"
        )


async def _play(env: Any, task, action: Action) -> StepResult:
    await env.reset(task, seed=0)
    return await env.step(action)


def test_spec_is_not_broken(env_name):
    spec = next(s for s in agentgym.list_envs() if s.name == env_name)
    assert spec.error is None, spec.error


async def test_reference_solution_gets_full_reward(env_name):
    env = agentgym.make(env_name)
    try:
        _hooks(env)
        tasks = env.sample_tasks(NUM_TASKS, seed=0)
        assert len(tasks) == NUM_TASKS
        for task in tasks:
            result = await _play(env, task, env.reference_action(task))
            assert result.verdict is not None, f"{env_name}: reference action on {task.id} gave no verdict"
            assert result.verdict.passed, f"{env_name}: reference failed {task.id}: {result.verdict}"
            assert result.reward == 1.0 and result.verdict.reward == 1.0
            assert result.terminated and result.error is None
            assert result.verdict.reasons, "every reward needs a stated reason"
    finally:
        await env.close()


async def test_empty_submission_does_not_pass(env_name):
    env = agentgym.make(env_name)
    try:
        task = env.sample_tasks(1, seed=0)[0]
        result = await _play(env, task, Action())
        assert result.verdict is None or not result.verdict.passed
        assert result.reward == 0.0
        assert result.error == "model_error"
    finally:
        await env.close()


async def test_wrong_submission_does_not_pass(env_name):
    env = agentgym.make(env_name)
    try:
        _hooks(env)
        for task in env.sample_tasks(NUM_TASKS, seed=1):
            reference = env.reference_action(task)
            wrong = mutate_action(reference)
            assert wrong.tool_calls, f"{env_name}: the reference action must be made of tool calls"
            result = await _play(env, task, wrong)
            assert result.verdict is None or not result.verdict.passed, f"{env_name}: {wrong} passed {task.id}"
            assert result.reward < 1.0
    finally:
        await env.close()


def test_contract_checker_passes(env_name):
    results = check_env(lambda: agentgym.make(env_name))
    assert all(r.passed for r in results)
    assert "gymnasium" in [r.name for r in results]
