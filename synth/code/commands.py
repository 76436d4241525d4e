"""Plain functions behind `agentgym synth code ...` (the CLI module wires them; nothing here imports typer)."""

from __future__ import annotations

import sys
from pathlib import Path

from agentgym.synth.code.issue import policy_writer
from agentgym.synth.code.pipeline import Funnel, SynthConfig, synthesize
from agentgym.synth.code.projects import DEFAULT_PROJECTS, resolve_project


def synth_code(project: str, *, n: int = 50, out: str | Path = "tasks/code.jsonl", seed: int = 0,
               num_workers: int | None = None, max_candidates: int | None = None,
               test_deps: tuple[str, ...] = (), show_progress: bool | None = None,
               issue_policy: str | None = None) -> Funnel:  # fmt: skip
    """`agentgym synth code --project NAME|NAME==VER|PATH --n 50 --out tasks/code.jsonl`: run the pipeline with a
    progress bar on stderr, print the funnel summary, and return the funnel.

    `issue_policy` (a ``--policy`` form such as ``openai:MODEL@URL``) writes the issue texts; default: the template.
    """
    spec = resolve_project(project, test_deps=tuple(test_deps))
    kwargs: dict = {} if num_workers is None else {"num_workers": num_workers}
    if issue_policy:
        from agentgym.rollout.specs import make_policy

        kwargs["issue_writer"] = policy_writer(make_policy(issue_policy))
    config = SynthConfig(project=spec, out=Path(out), n=n, seed=seed, max_candidates=max_candidates, **kwargs)
    draw = sys.stderr.isatty() if show_progress is None else show_progress
    if not draw:
        funnel = synthesize(config)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), transient=False) as bar:  # fmt: skip
            bar_id = bar.add_task(f"synth {spec.label}", total=n, info="preparing")

            def update(f: Funnel) -> None:
                bar.update(bar_id, completed=f.kept, info=f"{f.candidates} tried, {f.failing} failing")

            funnel = synthesize(config, progress=update)
    print(funnel.summary(), file=sys.stderr)
    return funnel


def list_default_projects() -> list[str]:
    """`agentgym synth code --list`: the pinned default projects."""
    return [spec.label for spec in DEFAULT_PROJECTS]
