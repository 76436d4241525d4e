"""The gymnasium adapter: gymnasium's own checker passes, seeding is reproducible, text actions carry tool calls."""

from __future__ import annotations

import json
import re
import warnings

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.api import Message
from agentgym.errors import ResetNeeded
from agentgym.gym import AnyText, GymEnv, render_messages


@pytest.fixture
def tasks():
    return agentgym.make("arith").sample_tasks(8, seed=0)


@pytest.fixture
def gym_env(tasks):
    env = GymEnv(agentgym.make("arith"), tasks)
    yield env
    env.close()


def hermes(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def test_gymnasium_check_env_passes_without_warnings(gym_env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym_env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    assert isinstance(gym_env, gymnasium.Env)


def test_same_seed_same_first_observation(tasks):
    a, b = GymEnv(agentgym.make("arith"), tasks), GymEnv(agentgym.make("arith"), tasks)
    try:
        for seed in (0, 1, 12345):
            assert a.reset(seed=seed) == b.reset(seed=seed)
        first = {a.reset(seed=seed)[1]["task_id"] for seed in range(12)}
        assert len(first) > 1  # different seeds reach different tasks
    finally:
        a.close()
        b.close()


def test_reset_shows_the_task(gym_env, tasks):
    obs, info = gym_env.reset(seed=3, options={"task_index": 2})
    assert info == {"task_id": tasks[2].id}
    assert obs.startswith("[system] You solve arithmetic problems.")
    assert obs.endswith(f"[user] {tasks[2].prompt}")
    assert gym_env.observation_space.contains(obs)


def test_a_text_action_with_a_hermes_tool_call_works(gym_env, tasks):
    task = tasks[5]
    gym_env.reset(seed=0, options={"task_index": 5})
    obs, reward, terminated, truncated, info = gym_env.step(hermes("calculator", expression=task.data["expression"]))
    assert obs == f"[tool calculator] {task.data['answer']}"
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert "error" not in info and "verdict" not in info
    obs, reward, terminated, truncated, info = gym_env.step(hermes("submit", answer=task.data["answer"]))
    assert obs == "[tool submit] submitted; reward 1"
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["verdict"]["passed"] is True and info["verdict"]["reward"] == 1.0


def test_a_mistake_is_an_observation_with_the_error_in_info(gym_env):
    gym_env.reset(seed=0)
    obs, reward, terminated, truncated, info = gym_env.step("no tool call here")
    assert obs.startswith("[user] No tool call found in your message.")
    assert info["error"] == "model_error"
    assert (reward, terminated, truncated) == (0.0, False, False)


def test_stepping_after_the_end_needs_a_reset(gym_env, tasks):
    gym_env.reset(seed=0, options={"task_index": 0})
    gym_env.step(hermes("submit", answer=tasks[0].data["answer"]))
    with pytest.raises(ResetNeeded):
        gym_env.step("again")
    gym_env.reset(seed=1)
    assert gym_env.step("again")[4]["error"] == "model_error"


def test_truncation_by_the_inner_turn_budget(tasks):
    env = GymEnv(agentgym.make("arith", max_turns=2), tasks)
    try:
        env.reset(seed=0)
        assert env.step("x")[3] is False
        *_, truncated, info = env.step("x")
        assert truncated is True and info["truncation_reason"] == "turn budget of 2 steps reached"
    finally:
        env.close()


def test_close_twice_closes_the_inner_env_once(tasks):
    inner = agentgym.make("arith")
    closes = []
    original = inner.aclose

    async def counting_aclose():
        closes.append(1)
        await original()

    inner.aclose = counting_aclose
    env = GymEnv(inner, tasks)
    env.reset(seed=0)
    env.close()
    env.close()
    assert closes == [1] and inner.is_closed


def test_empty_task_list_is_rejected():
    with pytest.raises(ValueError, match=r"^tasks must contain at least one Task$"):
        GymEnv(agentgym.make("arith"), [])


def test_long_observations_are_clipped_to_the_space(tasks):
    env = GymEnv(agentgym.make("arith"), tasks, max_length=60)
    try:
        obs, _ = env.reset(seed=0)
        assert len(obs) <= 60 and obs.endswith("\n[... truncated ...]")
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_any_text_space_accepts_unicode_and_checks_length():
    space = AnyText(5)
    assert space.contains("héllo") and space.contains("") and space.contains("計算")
    assert not space.contains("toolong") and not space.contains(3)
    assert re.fullmatch(r"AnyText\(0, 5\)", repr(space))
    assert all(space.contains(space.sample()) for _ in range(20))


def test_render_messages():
    assert render_messages([
        Message(role="tool", name="calculator", content="35"),
        Message(role="user", content="hi"),
    ]) == "[tool calculator] 35\n[user] hi"
