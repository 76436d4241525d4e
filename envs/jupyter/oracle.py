"""A scripted oracle policy: runs a task's solution code in the kernel with `execute`, then submits what it printed.

It proves that tasks are solvable inside the sandbox (the computation really runs there) and that the verifier
accepts right answers; `wrong_answer` gives a plausible but wrong submission to prove that it rejects others.
"""

from __future__ import annotations

from typing import Any

from agentgym.api import Action, StepResult, Task, ToolCall


def _call(name: str, **arguments: Any) -> Action:
    return Action(tool_calls=[ToolCall(id=f"oracle-{name}", name=name, arguments=arguments)])


def printed_answer(observation_text: str) -> str:
    """The last line of the stdout section of an `execute` observation ("" when there is none)."""
    if not observation_text.startswith("stdout:\n"):
        return ""
    stdout = observation_text[len("stdout:\n") :].split("\nstderr:\n", 1)[0].split("\nresult:\n", 1)[0]
    lines = [line for line in stdout.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


async def solve(env: Any, task: Task, *, seed: int = 0) -> StepResult:
    """One oracle episode on `env` (a JupyterEnv): reset, execute the solution, submit its printed answer."""
    await env.reset(task, seed=seed)
    result = await env.step(_call("execute", code=task.data["solution_code"]))
    if result.terminated or result.truncated:
        return result
    return await env.step(_call("submit", answer=printed_answer(result.observation.messages[0].content)))


def wrong_answer(task: Task) -> str:
    """A well-formed but wrong answer of the task's kind (off by one, another name, another expression)."""
    data = task.data
    kind, answer = data["answer_kind"], str(data["answer"])
    if kind == "integer":
        return str(int(answer) + 1)
    if kind == "number":
        return f"{float(answer) + 1:.2f}"
    if kind == "text":
        return "zzz-" + answer
    return f"{answer} + x + 1"


async def submit_wrong(env: Any, task: Task, *, seed: int = 0) -> StepResult:
    """One episode that submits `wrong_answer(task)` straight away."""
    await env.reset(task, seed=seed)
    return await env.step(_call("submit", answer=wrong_answer(task)))
