"""`agentgym synth search`: build search-QA tasks, print the funnel, and check that the env's reference solves them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentgym.synth.search.chains import replay
from agentgym.synth.search.pipeline import (
    STAGES,
    SearchSynthConfig,
    SynthReport,
    synthesize,
)
from agentgym.synth.search.session import ToolSession
from rich.console import Console
from rich.table import Table

from agentgym.api import Action, Task, ToolCall
from agentgym.registry import make


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


def funnel_table(report: SynthReport) -> Table:
    table = Table(title=f"search-QA synthesis: {len(report.tasks)} task(s) kept, {report.num_tool_calls} tool calls")
    table.add_column("stage")
    table.add_column("units", justify="right")
    for stage in STAGES:
        table.add_row(stage, str(report.funnel[stage]))
    for reason, count in sorted(report.rejections.items()):
        table.add_row(f"rejected: {reason}", str(count))
    return table


def synth_search_command(
    out: Path,
    n: int = 20,
    *,
    max_units: int = 200,
    min_hops: int = 2,
    max_hops: int = 3,
    breadth: int = 1,
    max_mentions: int = 3,
    seed: int = 0,
    source: str | None = None,
    index_dir: str | None = None,
    question_policy: str | None = None,
    answer_policies: Sequence[str] = (),
    answer_temperatures: Sequence[float] = (),
    progress: bool = True,
) -> SynthReport:
    """`agentgym synth search --out DIR --n N`: writes ``DIR/tasks.jsonl`` (accepted tasks) and
    ``DIR/units.store.jsonl`` (every unit's outcome; a rerun resumes from it), prints the funnel, runs the checks.

    `question_policy` / `answer_policies` are ``--policy`` forms (``openai:MODEL@URL``, ...); each answer policy runs
    once per entry of `answer_temperatures` when that is given (OpenAI-compatible policies only), so several answer
    agents with different settings vote. With none, the procedural question builder and baselines do the work.
    """
    from agentgym.errors import AgentGymError
    from agentgym.rollout.specs import make_policy
    from agentgym.taskio import save_tasks

    env_kwargs = {k: v for k, v in (("source", source), ("index_dir", index_dir)) if v is not None}
    config = SearchSynthConfig(num_tasks=n, max_units=max_units, min_hops=min_hops, max_hops=max_hops,
                               breadth=breadth, max_mentions=max_mentions, seed=seed, env_kwargs=env_kwargs)
    agents = []
    for i, spec in enumerate(answer_policies):
        if answer_temperatures and spec.startswith("openai:"):
            from agentgym.rollout.openai_policy import OpenAIPolicy

            agents += [(f"llm{i}-t{t:g}", OpenAIPolicy.from_spec(spec, temperature=t)) for t in answer_temperatures]
        else:
            agents.append((f"llm{i}", make_policy(spec)))
    questioner = make_policy(question_policy) if question_policy else None
    model = question_policy.partition(":")[2].partition("@")[0] if question_policy else "llm"
    out = Path(out)
    report = asyncio.run(synthesize(config, out / "units.store.jsonl", question_policy=questioner,
                                    question_model=model, answer_policies=agents, progress=progress))
    save_tasks(out / "tasks.jsonl", report.tasks)
    console = Console()
    console.print(funnel_table(report))
    problems = asyncio.run(check_tasks(report.tasks, env_kwargs))
    if problems:
        raise AgentGymError("synthesized tasks failed their check:\n" + "\n".join(problems))
    console.print(f"check: the search env's reference and a chain replay solve all {len(report.tasks)} task(s)")
    return report
