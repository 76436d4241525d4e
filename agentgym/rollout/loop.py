"""The agent loop: one env, one policy, one task → a `Trajectory`. Nothing a plugin or policy does crashes it."""

from __future__ import annotations

import traceback
from typing import Any

from agentgym.api import Env, Message, Task, Trajectory
from agentgym.rollout.budget import BudgetConfig, ContextWindowFull
from agentgym.rollout.context import ContextConfig
from agentgym.rollout.limits import EpisodeLimits, truncate
from agentgym.rollout.policy import Policy

DEFAULT_MAX_TURNS = 32


def _failure(trajectory: Trajectory, where: str, error: BaseException) -> Trajectory:
    """Mark an infrastructure failure (env or policy raised): never trained on as if the model were wrong."""
    trajectory.error = "env_error"
    trajectory.info["failure"] = f"{where}: {type(error).__name__}: {error}"
    trajectory.info["traceback"] = "".join(traceback.format_exception(error))[-4000:]
    return trajectory


async def run_episode(
    env: Env, policy: Policy, task: Task, *, seed: int | None = None, max_turns: int = DEFAULT_MAX_TURNS,
    context: ContextConfig | None = None, budget: BudgetConfig | None = None,
) -> Trajectory:
    """Play one episode of `task` for up to `max_turns` assistant turns.

    `context` manages what the policy sees (reasoning across tool calls, summary/discard past 80 % of the window;
    docs/context.md); `budget` caps the episode's tokens (docs/truncation.md). A prompt or reply that no longer fits
    the model's window ends the episode as truncated, with the reason.

    Returns the trajectory: all messages, one `Turn` record per assistant turn, the summed reward, the final verdict,
    `terminated`/`truncated` (with `truncation_reason`), the count of the agent's tool-call errors, and `error`
    ("env_error" when the env or the policy's infrastructure failed, "model_error" when the episode failed by the
    model's doing, None when it succeeded; the failure is described in `info["failure"]`).
    """
    trajectory = Trajectory(task_id=task.id, env=getattr(env, "name", task.env), seed=seed)
    try:
        observation = await env.reset(task, seed=seed)
        tools = env.tools()
    except Exception as e:  # noqa: BLE001
        return _failure(trajectory, "env.reset", e)
    messages: list[Message] = list(observation.messages)
    trajectory.messages = messages
    limits = EpisodeLimits(policy, tools, messages, context=context, budget=budget)
    for _ in range(max_turns):
        view = await limits.before_act(trajectory)
        if view is None:
            break
        try:
            decision = await policy.act(view, tools)
        except ContextWindowFull as e:
            truncate(trajectory, f"context window full: {e}")
            break
        except Exception as e:  # noqa: BLE001
            return _failure(trajectory, "policy.act", e)
        action = decision.action
        trajectory.num_prompt_tokens += decision.num_prompt_tokens
        trajectory.num_completion_tokens += decision.num_completion_tokens
        message = Message(role="assistant", content=action.text, reasoning=action.reasoning,
                          tool_calls=action.tool_calls)
        messages.append(message)
        turn = decision.turn.model_copy()
        trajectory.turns.append(turn)
        if limits.after_act(trajectory, decision, message):
            break
        try:
            result = await env.step(action)
        except Exception as e:  # noqa: BLE001
            return _failure(trajectory, "env.step", e)
        messages.extend(result.observation.messages)
        limits.observed(result.observation.messages)
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
    limits.finish(trajectory)
    return _label_model_failure(trajectory)


def _label_model_failure(trajectory: Trajectory) -> Trajectory:
    """An episode whose answer was rejected (or that earned nothing without a verdict), and that the env did not
    break, failed by the model's doing: wrong answer, turn budget spent, its own code timing out."""
    verdict = trajectory.verdict
    is_failed = not verdict.passed if verdict is not None else trajectory.reward <= 0
    if trajectory.error is None and is_failed:
        trajectory.error = "model_error"
        if trajectory.verdict is not None:
            why = "; ".join(trajectory.verdict.reasons[:2]) or f"reward {trajectory.verdict.reward:g}"
            trajectory.info.setdefault("failure", f"answer rejected: {why}")
        else:
            trajectory.info.setdefault("failure", f"no answer: {trajectory.truncation_reason or 'no verdict'}")
    return trajectory


def episode_key(task_id: str, sample_index: int) -> str:
    """The identity of one episode in a batch: the task and which of its samples (resume skips finished keys)."""
    return f"{task_id}#{sample_index}"


def stamp(trajectory: Trajectory, key: str, extra: dict[str, Any] | None = None) -> Trajectory:
    trajectory.info["episode"] = key
    if extra:
        trajectory.info.update(extra)
    return trajectory
