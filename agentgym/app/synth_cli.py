"""`agentgym synth general`: run the general-agent pipeline with a progress bar and print the funnel per stage."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from agentgym.synth.general.generator import Generator
from agentgym.synth.general.pipeline import (
    FUNNEL_STAGES,
    Funnel,
    Pipeline,
    PipelineConfig,
)
from agentgym.synth.general.procedural import ProceduralGenerator
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

STAGE_LABELS = {"generated": "generated", "consistent": "consistent", "escalated": "escalated (all levels)",
                "checks_passed": "checks passed", "deduped": "deduped", "stored": "stored"}  # fmt: skip


def funnel_table(funnel: Funnel) -> Table:
    """One row per stage: tasks surviving it and the share of the stage before."""
    table = Table(title=f"general synthesis funnel ({funnel.num_units} units)")
    table.add_column("stage")
    table.add_column("tasks", justify="right")
    table.add_column("of previous", justify="right")
    previous = None
    for stage in FUNNEL_STAGES:
        count = funnel.tasks[stage]
        share = f"{count / previous:.0%}" if previous else "-"
        table.add_row(STAGE_LABELS[stage], str(count), share)
        previous = count
    return table


def synth_general_command(category: str, n: int, out: Path, seed: int = 0, *, generator: Generator | None = None,
                          max_level: int = 3, concurrency: int = 2, max_units: int | None = None,
                          progress: bool = True, console: Console | None = None) -> Funnel:  # fmt: skip
    """Synthesize `n` general-agent tasks of `category` ("all" cycles through every category) into `out`.

    Rerunning with the same arguments resumes: finished stages are read back from `out`, nothing is stored twice.
    The tasks land in ``out/tasks.jsonl`` (for `agentgym.taskio.load_tasks` and the `general` env).

    Raises:
        ValueError: unknown category or bad numbers (the message lists the known categories).
    """
    generator = generator or ProceduralGenerator()
    categories = tuple(generator.categories()) if category == "all" else (category,)
    config = PipelineConfig(categories=categories, num_tasks=n, seed=seed, max_level=max_level,
                            concurrency=concurrency, max_units=max_units)  # fmt: skip
    pipeline = Pipeline(generator, out, config)
    console = console or Console()
    bar = Progress(TextColumn("[bold]synth general"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[units]} units"), TimeElapsedColumn(), console=console,
                   disable=not progress)  # fmt: skip
    started = time.perf_counter()
    with bar:
        handle = bar.add_task("tasks", total=n, completed=len(pipeline.tasks), units=0)

        def on_unit(funnel: Funnel) -> None:
            bar.update(handle, completed=min(n, len(pipeline.tasks)), units=funnel.num_units)

        funnel = asyncio.run(pipeline.run(on_unit))
    console.print(funnel_table(funnel))
    rate = funnel.num_false_accepts / max(1, funnel.num_non_answers)
    console.print(f"stored {len(pipeline.tasks)} tasks in {out / 'tasks.jsonl'} "
                  f"({time.perf_counter() - started:.1f} s); verifier false accepts on non-answers during checks: "
                  f"{funnel.num_false_accepts}/{funnel.num_non_answers} ({rate:.2%}, those tasks were dropped)")
    return funnel


def funnel_dict(funnel: Funnel) -> dict[str, Any]:
    """The funnel as plain data (for JSON output)."""
    return {"tasks": dict(funnel.tasks), "num_units": funnel.num_units, "num_non_answers": funnel.num_non_answers,
            "num_false_accepts": funnel.num_false_accepts, "rejections": dict(funnel.rejections)}
