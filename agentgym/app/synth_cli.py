"""`agentgym synth general|code|search` and `agentgym filter`: synthesize verifiable tasks, keep the solvable ones.

The `synth_*_command` functions run a pipeline with a progress bar and print its funnel; the Typer commands at the end
only parse options and call them (or `agentgym.synth.filter.filter_command`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentgym.app.console import console as app_console, friendly
from agentgym.errors import AgentGymError

if TYPE_CHECKING:
    from agentgym.synth.code.pipeline import Funnel as CodeFunnel
    from agentgym.synth.general.generator import Generator
    from agentgym.synth.general.pipeline import Funnel
    from agentgym.synth.search.pipeline import SynthReport

synth_app = typer.Typer(help="Synthesize verifiable tasks (general agent, search QA).", no_args_is_help=True)


# --- general-agent tasks ----------------------------------------------------------------------------------------------
STAGE_LABELS = {"generated": "generated", "consistent": "consistent", "escalated": "escalated (all levels)",
                "checks_passed": "checks passed", "deduped": "deduped", "stored": "stored"}  # fmt: skip


def general_funnel_table(funnel: Funnel) -> Table:
    """One row per stage: tasks surviving it and the share of the stage before."""
    from agentgym.synth.general.pipeline import FUNNEL_STAGES

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
                          progress: bool = True, console: Console | None = None,
                          rubric: bool = False) -> Funnel:  # fmt: skip
    """Synthesize `n` general-agent tasks of `category` ("all" cycles through every category) into `out`.

    Rerunning with the same arguments resumes: finished stages are read back from `out`, nothing is stored twice.
    The tasks land in ``out/tasks.jsonl`` (for `agentgym.taskio.load_tasks` and the `general` env).

    Raises:
        ValueError: unknown category or bad numbers (the message lists the known categories).
    """
    from agentgym.synth.general.pipeline import Pipeline, PipelineConfig
    from agentgym.synth.general.procedural import ProceduralGenerator

    generator = generator or ProceduralGenerator()
    categories = tuple(generator.categories()) if category == "all" else (category,)
    config = PipelineConfig(categories=categories, num_tasks=n, seed=seed, max_level=max_level,
                            concurrency=concurrency, max_units=max_units, rubric=rubric)  # fmt: skip
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
    console.print(general_funnel_table(funnel))
    rate = funnel.num_false_accepts / max(1, funnel.num_non_answers)
    console.print(f"stored {len(pipeline.tasks)} tasks in {out / 'tasks.jsonl'} "
                  f"({time.perf_counter() - started:.1f} s); verifier false accepts on non-answers during checks: "
                  f"{funnel.num_false_accepts}/{funnel.num_non_answers} ({rate:.2%}, those tasks were dropped)")
    return funnel


# --- code-repair tasks ------------------------------------------------------------------------------------------------
def synth_code_command(project: str, *, n: int = 50, out: str | Path = "tasks/code.jsonl", seed: int = 0,
                       num_workers: int | None = None, max_candidates: int | None = None,
                       test_deps: tuple[str, ...] = (), show_progress: bool | None = None,
                       issue_policy: str | None = None) -> CodeFunnel:  # fmt: skip
    """`agentgym synth code --project NAME|NAME==VER|PATH --n 50 --out tasks/code.jsonl`: run the pipeline with a
    progress bar on stderr, print the funnel summary, and return the funnel.

    `issue_policy` (a ``--policy`` form such as ``openai:MODEL@URL``) writes the issue texts; default: the template.
    """
    from agentgym.synth.code.issue import policy_writer
    from agentgym.synth.code.pipeline import SynthConfig, synthesize
    from agentgym.synth.code.projects import resolve_project

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

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), transient=False) as bar:  # fmt: skip
            bar_id = bar.add_task(f"synth {spec.label}", total=n, info="preparing")

            def update(f: CodeFunnel) -> None:
                bar.update(bar_id, completed=f.kept, info=f"{f.candidates} tried, {f.failing} failing")

            funnel = synthesize(config, progress=update)
    print(funnel.summary(), file=sys.stderr)
    return funnel


def list_default_projects() -> list[str]:
    """`agentgym synth code --list`: the pinned default projects."""
    from agentgym.synth.code.projects import DEFAULT_PROJECTS

    return [spec.label for spec in DEFAULT_PROJECTS]


# --- search-QA tasks --------------------------------------------------------------------------------------------------
def search_funnel_table(report: SynthReport) -> Table:
    """One row per stage: units surviving it, then one row per rejection reason."""
    from agentgym.synth.search.pipeline import STAGES

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
    from agentgym.rollout.specs import make_policy
    from agentgym.synth.search.check import check_tasks
    from agentgym.synth.search.pipeline import SearchSynthConfig, synthesize
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
    console.print(search_funnel_table(report))
    problems = asyncio.run(check_tasks(report.tasks, env_kwargs))
    if problems:
        raise AgentGymError("synthesized tasks failed their check:\n" + "\n".join(problems))
    console.print(f"check: the search env's reference and a chain replay solve all {len(report.tasks)} task(s)")
    return report


# --- the commands -----------------------------------------------------------------------------------------------------
@synth_app.command("general")
@friendly
def synth_general(
    category: str = typer.Option("all", help="trip_planning, inventory, scheduling, library, expenses, or 'all'"),
    n: int = typer.Option(20, "--n", min=1, help="tasks to keep"),
    out: Path = typer.Option(..., help="output folder (environments, tasks.jsonl, a resumable journal)"),
    seed: int = typer.Option(0, help="seed"),
    max_level: int = typer.Option(3, min=0, help="highest escalation level"),
    generator: Optional[str] = typer.Option(None, help="an LLM generator 'openai:MODEL@URL' (default: the offline "
                                                        "procedural generators)"),
    corpus: Optional[Path] = typer.Option(None, help="with --generator: the builder agent builds --n environments "
                                                     "of --category (free text) from this folder of text files"),
    max_turns: int = typer.Option(40, min=1, help="builder agent: turns per environment"),
    rubric: bool = typer.Option(False, help="give every task a rubric (data.rubric) for a judge's rubric reward"),
) -> None:
    """General-agent tasks: DB + tools + task + solution + verifier, checked, escalated, deduplicated."""
    if corpus is not None:
        if generator is None:
            raise AgentGymError("--corpus needs --generator (the chat model that drives the builder agent)")
        from agentgym.app.synth_build import synth_build_command

        try:
            synth_build_command(generator, (category,), corpus, out, num_envs=n, seed=seed, max_level=max_level,
                                max_turns=max_turns)
        except ValueError as e:
            raise AgentGymError(str(e)) from None
        return
    gen = None
    if generator is not None:
        from agentgym.rollout.specs import make_policy
        from agentgym.synth.general.llm import LLMGenerator
        from agentgym.synth.general.procedural import ProceduralGenerator

        categories = tuple(ProceduralGenerator().categories()) if category == "all" else (category,)
        gen = LLMGenerator(make_policy(generator), categories=categories, model=generator)
    try:
        synth_general_command(category, n, out, seed, generator=gen, max_level=max_level,
                              progress=sys.stderr.isatty(), rubric=rubric)
    except ValueError as e:
        raise AgentGymError(str(e)) from None


@synth_app.command("code")
@friendly
def synth_code(
    project: Optional[str] = typer.Option(None, help="NAME, NAME==VERSION (a PyPI sdist with its tests) or a local "
                                                      "project PATH"),
    n: int = typer.Option(50, "--n", min=1, help="tasks to keep"),
    out: Path = typer.Option(Path("tasks/code.jsonl"), help="output JSONL (appended; rerunning resumes)"),
    seed: int = typer.Option(0, help="mutation seed"),
    test_dep: list[str] = typer.Option([], help="extra test dependency to install into the prepared venv"),
    issue_policy: Optional[str] = typer.Option(None, help="write issue texts with a chat model 'openai:MODEL@URL' "
                                                           "(default: a template from the failing tests)"),
    list_projects: bool = typer.Option(False, "--list", help="print the default projects and exit"),
) -> None:
    """Code-repair tasks from a real project: inject bugs (AST mutations), keep those its test suite catches."""
    if list_projects:
        app_console.print("\n".join(list_default_projects()))
        return
    if project is None:
        raise AgentGymError("--project is required (or --list to see the default projects)")
    synth_code_command(project, n=n, out=out, seed=seed, test_deps=tuple(test_dep), issue_policy=issue_policy)


@synth_app.command("search")
@friendly
def synth_search(
    out: Path = typer.Option(..., help="output folder (tasks.jsonl, units.store.jsonl); rerunning resumes"),
    n: int = typer.Option(20, "--n", min=1, help="tasks to keep"),
    min_hops: int = typer.Option(2, min=1, help="shortest question chain"),
    max_hops: int = typer.Option(3, min=1, help="longest question chain"),
    breadth: int = typer.Option(1, min=1, help="entities named per question"),
    seed: int = typer.Option(0, help="seed"),
    index_dir: Optional[str] = typer.Option(None, help="search index folder (default: the python-docs index)"),
    question_policy: Optional[str] = typer.Option(None, help="LLM question agent ('openai:MODEL@URL'); default: "
                                                                  "the procedural builder"),
    answer_policy: list[str] = typer.Option([], help="LLM answer agent(s); default: procedural baselines"),
) -> None:
    """Search-QA synthesis: multi-hop questions every answer agent gets wrong, verified against the corpus."""
    synth_search_command(out, n, min_hops=min_hops, max_hops=max_hops, breadth=breadth, seed=seed,
                         index_dir=index_dir, question_policy=question_policy, answer_policies=answer_policy,
                         progress=sys.stderr.isatty())


@friendly
def filter_(
    tasks: Path = typer.Option(..., help="JSONL task file or a folder with tasks.jsonl (an 'agentgym synth' output)"),
    policy: str = typer.Option(..., help="'openai:MODEL@URL' or 'scripted:FILE'"),
    k: int = typer.Option(100, min=1, help="keep a task iff it is solved at least once in k attempts"),
    out: Optional[Path] = typer.Option(None, help="kept tasks (default: TASKS.passk.jsonl); rerunning resumes"),
    first_round_size: int = typer.Option(8, min=1, help="attempts per live task in the first round"),
    p0: float = typer.Option(0.005, help="SPRT H0: success rate <= p0 (drop)"),
    p1: float = typer.Option(0.05, help="SPRT H1: success rate >= p1 (keep going)"),
    alpha: float = typer.Option(0.05, help="SPRT type-I error"),
    beta: float = typer.Option(0.05, help="SPRT type-II error"),
    early_drop: bool = typer.Option(True, help="drop a task early when the SPRT says failure is all but certain"),
    drop_too_easy: bool = typer.Option(False, help="also drop tasks that are (almost) always solved"),
    naive: bool = typer.Option(False, help="run exactly k attempts per task (no early stopping)"),
    concurrency: int = typer.Option(16, min=1, help="episodes in flight"),
    max_turns: int = typer.Option(32, min=1, help="assistant turns per episode"),
    seed: int = typer.Option(0, help="base seed"),
) -> None:
    """Keep the tasks a policy solves at least once in k attempts (first-success stop, SPRT early drop)."""
    from agentgym.synth.filter import filter_command

    filter_command(tasks, policy, k, out, first_round_size=first_round_size, p0=p0, p1=p1, alpha=alpha, beta=beta,
                   early_drop=early_drop, drop_too_easy=drop_too_easy, naive=naive, concurrency=concurrency,
                   max_turns=max_turns, seed=seed, progress=sys.stderr.isatty())
