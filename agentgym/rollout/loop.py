"""The agent loop: one env, one policy, one task → a `Trajectory`. Nothing a plugin or policy does crashes it."""

from __future__ import annotations

import traceback
from typing import Any

from agentgym.api import Env, Message, Task, Trajectory
from agentgym.rollout.policy import Policy

DEFAULT_MAX_TURNS = 32


def _failure(trajectory: Trajectory, where: str, error: BaseException) -> Trajectory:
    """Mark an infrastructure failure (env or policy raised): never trained on as if the model were wrong."""
    trajectory.error = "env_error"
    trajectory.info["failure"] = f"{where}: {type(error).__name__}: {error}"
    trajectory.info["traceback"] = "".join(traceback.format_exception(error))[-4000:]
    return trajectory


async def run_episode(
    env: Env, policy: Policy, task: Task, *, seed: int | None = None, max_turns: int = DEFAULT_MAX_TURNS
) -> Trajectory:
    """Play one episode of `task` for up to `max_turns` assistant turns.

    Returns the trajectory: all messages, one `Turn` record per assistant turn, the summed reward, the final verdict,
    `terminated`/`truncated` (with `truncation_reason`), the count of the agent's tool-call errors, and `error`
    ("env_error" when the env or the policy's infrastructure failed; the failure is described in `info`).
    """
    trajectory = Trajectory(task_id=task.id, env=getattr(env, "name", task.env), seed=seed)
    try:
        observation = await env.reset(task, seed=seed)
        tools = env.tools()
    except Exception as e:  # noqa: BLE001
        return _failure(trajectory, "env.reset", e)
    messages: list[Message] = list(observation.messages)
    trajectory.messages = messages
    for _ in range(max_turns):
        try:
            decision = await policy.act(messages, tools)
        except Exception as e:  # noqa: BLE001
            return _failure(trajectory, "policy.act", e)
        action = decision.action
        trajectory.num_prompt_tokens += decision.num_prompt_tokens
        trajectory.num_completion_tokens += decision.num_completion_tokens
        messages.append(
            Message(role="assistant", content=action.text, reasoning=action.reasoning, tool_calls=action.tool_calls)
        )
        turn = decision.turn.model_copy()
        trajectory.turns.append(turn)
        try:
            result = await env.step(action)
        except Exception as e:  # noqa: BLE001
            return _failure(trajectory, "env.step", e)
        messages.extend(result.observation.messages)
        turn.reward = result.reward
        trajectory.reward += result.reward
        if result.error == "model_error":
            trajectory.num_tool_errors += 1
        elif result.error == "env_error":
            trajectory.error = "env_error"
        if result.verdict is not None:
            trajectory.verdict = result.verdict
        if result.terminated or result.truncated:
            trajectory.terminated = result.terminated
            trajectory.truncated = result.truncated
            if result.truncated:
                trajectory.truncation_reason = str(result.info.get("truncation_reason", "truncated by the env"))
            break
    else:
        trajectory.truncated = True
        trajectory.truncation_reason = f"agent loop turn budget of {max_turns} reached"
    return trajectory


def episode_key(task_id: str, sample_index: int) -> str:
    """The identity of one episode in a batch: the task and which of its samples (resume skips finished keys)."""
    return f"{task_id}#{sample_index}"


def stamp(trajectory: Trajectory, key: str, extra: dict[str, Any] | None = None) -> Trajectory:
    trajectory.info["episode"] = key
    if extra:
        trajectory.info.update(extra)
    return trajectory
