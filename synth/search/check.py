"""`check_tasks`: a synthesized search-QA task must pass with the env's reference and with a replay of its chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.api import Action, Task, ToolCall
from agentgym.registry import make
from agentgym.synth.search.chains import replay
from agentgym.synth.search.session import ToolSession


async def check_tasks(tasks: Sequence[Task], env_kwargs: dict[str, Any] | None = None) -> list[str]:
    """Problems found, [] when every task passes: the env's `reference_action` must get reward 1, and replaying the
    recorded chain through the tools (never reading the answer) must reach the recorded answer."""
    problems: list[str] = []
    env = make("search", **(env_kwargs or {}))
    session = ToolSession(env_kwargs)
    try:
        for task in tasks:
            await env.reset(task)
            action = env.reference_action(task) if hasattr(env, "reference_action") else Action(
                tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])
            result = await env.step(action)
            if result.verdict is None or not result.verdict.passed:
                problems.append(f"{task.id}: the env's reference answer does not pass")
            if task.data.get("hops") or task.data.get("final"):
                _, answer = await replay(session, task.data["start"], task.data["hops"], task.data["final"])
                if answer not in task.data["answers"]:
                    problems.append(f"{task.id}: replaying the chain gives {answer!r}, not {task.data['answers']}")
    finally:
        await env.close()
        await session.close()
    return problems
