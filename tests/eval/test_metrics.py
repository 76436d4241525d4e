"""Per-env metrics from hand-built trajectories: pass@k over tasks, rewards, turns, tokens and error counts."""

from __future__ import annotations

import pytest

from agentgym.api import Message, ToolCall, Trajectory, Turn, Verdict
from agentgym.eval.metrics import (
    TOKENS_FROM_CHARACTERS,
    TOKENS_FROM_POLICY,
    TOKENS_FROM_TURNS,
    count_tokens,
    summarize,
)


def episode(task_id: str, passed: bool, *, turns: int = 1, tool_errors: int = 0, env_error: bool = False,
            truncated: bool = False) -> Trajectory:
    messages = [Message(role="user", content="q")]
    for _ in range(turns):
        messages += [Message(role="assistant", content="a"), Message(role="tool", content="r")]
    return Trajectory(
        task_id=task_id, env="arith", messages=messages, turns=[Turn() for _ in range(turns)],
        reward=1.0 if passed else 0.0, verdict=Verdict(reward=float(passed), passed=passed),
        num_tool_errors=tool_errors, error="env_error" if env_error else None, truncated=truncated,
        info={"failure": "env.step: RuntimeError: boom"} if env_error else {},
    )


def test_two_tasks_hand_computed():
    # Task a: 2 of 5 pass; task b: 5 of 5 pass. pass@2 = (0.7 + 1)/2, pass^2 = (0.1 + 1)/2 (C(2,2)/C(5,2) = 0.1).
    trajectories = [episode("a", i < 2, turns=2, tool_errors=1 if i == 0 else 0) for i in range(5)]
    trajectories += [episode("b", True, turns=1) for _ in range(5)]
    m = summarize("arith", trajectories, wall_time_s=1.5)
    assert (m.num_tasks, m.num_samples, m.num_episodes) == (2, 5, 10)
    assert m.pass_at_k[1] == pytest.approx(0.7)
    assert m.pass_at_k[2] == pytest.approx(0.85)
    assert m.pass_hat_k[2] == pytest.approx(0.55)
    assert m.pass_at_k[5] == 1.0 and m.pass_hat_k[5] == pytest.approx(0.5)
    assert m.mean_reward == pytest.approx(0.7)
    assert m.reward_ci_low <= 0.7 <= m.reward_ci_high
    assert m.mean_turns == pytest.approx(15 / 10)
    assert m.tool_error_rate == pytest.approx(1 / 15)  # one bad step out of 15 assistant turns
    assert (m.num_env_errors, m.num_truncated, m.wall_time_s) == (0, 0, 1.5)
    assert set(m.to_json()["pass_at_k"]) == {"1", "2", "3", "4", "5"}


def test_env_errors_count_as_failures_and_are_reported():
    trajectories = [episode("a", True), episode("a", True, env_error=True), episode("b", False, truncated=True),
                    episode("b", False)]
    m = summarize("arith", trajectories)
    assert m.pass_at_k[1] == pytest.approx((0.5 + 0.0) / 2)  # the env-error episode's verdict does not count
    assert m.num_env_errors == 1 and m.num_truncated == 1
    assert m.failures == ["a: env.step: RuntimeError: boom"]


def test_empty_trajectories_raise():
    with pytest.raises(ValueError, match="env 'x': no trajectories"):
        summarize("x", [])


def test_token_count_falls_back_to_characters():
    t = Trajectory(task_id="t", env="e", messages=[
        Message(role="system", content="12345"),                       # 5 characters of context
        Message(role="user", content="123"),                           # 3 more
        Message(role="assistant", content="ab", reasoning="xyz"),      # turn 1 sees 8; writes 5
        Message(role="tool", content="1"),                             # 1 more
        Message(role="assistant", tool_calls=[ToolCall(name="f", arguments={"a": 1})]),  # sees 14; writes 1 + 8
    ])
    assert count_tokens(t) == (8 + 14, 5 + 9, TOKENS_FROM_CHARACTERS)


def test_token_count_prefers_policy_counts_then_turn_records():
    turns = [Turn(prompt_ids=[1, 2, 3], completion_ids=[4, 5]), Turn(prompt_ids=[6], completion_ids=[7])]
    t = Trajectory(task_id="t", env="e", turns=turns)
    assert count_tokens(t) == (4, 3, TOKENS_FROM_TURNS)
    t.num_prompt_tokens, t.num_completion_tokens = 100, 7
    assert count_tokens(t) == (100, 7, TOKENS_FROM_POLICY)
