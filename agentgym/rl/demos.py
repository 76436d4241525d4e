"""Cold-start demonstrations: each env's reference trajectories (and the model's own successes) as SFT examples.

A raw small model never answers in any env's format, so GRPO would only see flat groups; SFT on whole reference
trajectories (every tool call rendered as the text the model must learn to emit, every observation read back the way
the agent loop shows it) teaches the format and the multi-turn rhythm first. `reference_demonstrations` plays each
task with the env's `reference_policy(task)` hook through `run_episode` and keeps the episodes that earned reward 1;
`rejection_demonstrations` does the same for the model's own rejection-sampled successes. `reference_examples` is the
older one-turn form (the reference action's first call as the only reply), kept for envs without the hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agentgym.api import Env, Message, Task, ToolSpec, Trajectory
from agentgym.rl.sft import SFTExample, rejection_sample, sft_example
from agentgym.rollout import ScriptedPolicy, run_episode
from agentgym.rollout.compute_thread import run_episodes_loop
from agentgym.tools import render_tool_calls


def reference_trajectories(make_env: Callable[[], Env], tasks: Sequence[Task], *, max_turns: int = 16,
                           seed: int = 0) -> list[tuple[Trajectory, list[ToolSpec]]]:
    """Play every task once with the env's `reference_policy(task)` through the agent loop; returns the episodes
    that earned reward 1 (passed, no error), each with the tools the env offered in it (per task for `general`).

    Raises:
        TypeError: the env has no `reference_policy` hook.
    """

    async def play() -> list[tuple[Trajectory, list[ToolSpec]]]:
        env = make_env()
        if not callable(getattr(env, "reference_policy", None)):
            await env.close()
            raise TypeError(f"env {getattr(env, 'name', type(env).__name__)!r} has no reference_policy(task) hook "
                            "(see agentgym.api.Env); use reference_examples for one-turn demonstrations")
        kept = []
        try:
            for i, task in enumerate(tasks):
                policy = ScriptedPolicy(env.reference_policy(task))  # type: ignore[attr-defined]
                t = await run_episode(env, policy, task, seed=seed + i, max_turns=max_turns)
                if t.reward >= 1.0 and t.error is None and (t.verdict is None or t.verdict.passed):
                    kept.append((t, env.tools()))
        finally:
            await env.close()
        return kept

    return run_episodes_loop(play)


def reference_demonstrations(make_env: Callable[[], Env], tasks: Sequence[Task], tokenizer: Any, *,
                             max_turns: int = 16, seed: int = 0) -> list[SFTExample]:
    """One multi-turn SFT example per task whose reference trajectory earned reward 1: every assistant turn (the
    tool-call text, and its end token) is trained; system, user, template and tool-output tokens are not."""
    return [sft_example(t, tokenizer, tools)
            for t, tools in reference_trajectories(make_env, tasks, max_turns=max_turns, seed=seed)]


def rejection_demonstrations(make_env: Callable[[], Env], policy: Any, tasks: Sequence[Task], tokenizer: Any, *,
                             num_samples: int = 4, max_turns: int = 16, seed: int = 0,
                             tools: Sequence[ToolSpec] | None = None) -> list[SFTExample]:
    """The policy's own successful trajectories (`rl.sft.rejection_sample`, reward 1) as SFT examples, to mix with
    `reference_demonstrations` (``examples = reference + rejection``). `tools` defaults to a fresh env's `tools()`;
    pass them for an env whose tools differ per task."""
    kept = rejection_sample(make_env, policy, tasks, num_samples=num_samples, min_reward=1.0, max_turns=max_turns,
                            seed=seed)
    if tools is None:
        probe = make_env()
        tools = probe.tools()
        run_episodes_loop(probe.close)
    return [sft_example(t, tokenizer, tools) for t in kept]


def reference_trajectory(env: Env, task: Task) -> Trajectory:
    """System prompt (when the env has one), the task prompt, and the reference action's first call as the reply."""
    call = render_tool_calls(env.reference_action(task).tool_calls[:1])  # type: ignore[attr-defined]
    system = getattr(env, "system_prompt", "")
    messages = ([Message(role="system", content=system)] if system else []) + [
        Message(role="user", content=task.prompt), Message(role="assistant", content=call)]
    return Trajectory(task_id=task.id, env=getattr(env, "name", task.env), messages=messages, reward=1.0)


def reference_examples(env: Env, tasks: Sequence[Task], tokenizer: Any) -> list[SFTExample]:
    """One SFT example per task (assistant tokens trained only)."""
    tools = env.tools()
    return [sft_example(reference_trajectory(env, task), tokenizer, tools) for task in tasks]
