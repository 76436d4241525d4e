"""Cold-start demonstrations from each env's reference solution, as one-turn SFT examples.

A raw small model never answers in any env's format, so GRPO would only see flat groups; SFT on the reference
solution's first tool call (rendered as the text the model must learn to emit) teaches the format first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.api import Env, Message, Task, Trajectory
from agentgym.rl.sft import SFTExample, sft_example
from agentgym.tools import render_tool_calls


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
