"""`agentgym eval|report|compare|show`: evaluate a policy, rebuild a report, compare two runs, print an episode.

The `*_command` functions print with rich and raise `AgentGymError` subclasses for user mistakes (the CLI prints them
as one line); the Typer commands at the end only parse options and call them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentgym.app.console import friendly
from agentgym.errors import AgentGymError, TaskFileError, UnregisteredEnv

if TYPE_CHECKING:
    from agentgym.eval.metrics import EnvMetrics


POLICY_HELP = (
    "'engine:MODEL[:KEY=VALUE,...]' (the embedded engine with pretrained weights, e.g. engine:smollm2-135m or "
    "engine:smollm2-135m:max_new_tokens=128,temperature=0; keys: max_new_tokens, temperature, top_p, top_k, "
    "max_batch, max_seq_len), 'openai:MODEL@URL' (any OpenAI-compatible endpoint), 'scripted:FILE' (JSONL actions "
    "replayed each episode) or 'reference[:P]' (the env's reference_action, right with probability P)"
)


def _console() -> Console:
    return Console(highlight=False)


def _print_summary(console: Console, metrics: list[EnvMetrics], run_dir: Path) -> None:
    """One column per env and one row per metric, so several envs still fit an 80-column terminal."""
    from agentgym.eval.markdown import SUMMARY_COLUMNS, summary_row
    from agentgym.eval.report import PLOT_DIR, REPORT_FILE, RESULTS_FILE, TRAJECTORY_DIR

    table = Table(title="evaluation")
    table.add_column("metric")
    for m in metrics:
        table.add_column(escape(m.env), justify="right")
    rows = [summary_row(m) for m in metrics]
    for i, label in enumerate(SUMMARY_COLUMNS[1:], start=1):
        table.add_row(label, *(escape(row[i]) for row in rows))
    table.add_row("pass@k, k = 1…n", *(" ".join(f"{v:.2f}" for v in m.pass_at_k.values()) for m in metrics))
    table.add_row("pass^k, k = 1…n", *(" ".join(f"{v:.2f}" for v in m.pass_hat_k.values()) for m in metrics))
    console.print(table)
    units = sorted({m.token_unit for m in metrics})
    console.print(f"reward CI: {metrics[0].ci_method}; tokens: {'; '.join(units)}", soft_wrap=True)
    console.print(f"wrote {run_dir / RESULTS_FILE}, {run_dir / REPORT_FILE}, {run_dir / PLOT_DIR}/*.png and "
                  f"{run_dir / TRAJECTORY_DIR}/*.jsonl", soft_wrap=True)
    if importlib.util.find_spec("matplotlib") is None:
        console.print("[yellow]plots skipped: matplotlib is not installed (pip install 'agentgym-rl[eval]')[/]",
                      soft_wrap=True)


def parse_env_names(env: str) -> tuple[str, ...]:
    """``"arith, search,arith"`` → ``("arith", "search")``: comma-separated, blanks dropped, repeats removed."""
    names = tuple(dict.fromkeys(part.strip() for part in env.split(",") if part.strip()))
    if not names:
        raise UnregisteredEnv(f"no env named in {env!r}; give one or more names, e.g. --env arith,search")
    return names


@contextlib.contextmanager
def env_defaults(kwargs: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """While inside, `agentgym.make(name)` builds each env of `kwargs` with those kwargs added to its defaults.

    `run_eval` makes its envs by name through the registry, so this is how a task source's needs
    (`TaskFile.env_kwargs`: general's `root`, search's `index_dir`) reach them; envs that need nothing are untouched.
    """
    from agentgym import registry

    saved = {}
    try:
        for name, extra in kwargs.items():
            if extra:
                spec = saved[name] = registry.default.spec(name)
                registry.default.specs[name] = dataclasses.replace(spec, defaults={**spec.defaults, **extra})
        yield
    finally:
        registry.default.specs.update(saved)


def eval_command(env: str, tasks: Path | None, policy: str, n: int, out_dir: Path, concurrency: int,
                 max_turns: int | None = None, seed: int = 0, num_tasks: int = 16, progress: bool = False,
                 resume: bool = False) -> list[EnvMetrics]:
    """Evaluate `policy` on each env in `env` (comma-separated), `n` samples per task; write the run to `out_dir`.

    `tasks` is a task source (`agentgym.tasksource`: a JSONL file, or a folder with ``tasks.jsonl`` such as a
    ``agentgym synth`` output); each env is made with what its tasks need (`TaskFile.env_kwargs`). `max_turns` None
    gives each env its own turn budget; `resume` keeps the episodes an interrupted run with the same settings already
    stored in `out_dir` and plays only the rest."""
    from agentgym.eval.runner import EvalConfig, run_eval
    from agentgym.tasksource import read_task_files

    try:
        config = EvalConfig(envs=parse_env_names(env), num_samples=n, num_tasks=num_tasks, concurrency=concurrency,
                            max_turns=max_turns, seed=seed, progress=progress)
    except ValueError as e:
        raise AgentGymError(f"invalid eval settings: {e}") from None
    sources = read_task_files(tasks, config.envs) if tasks is not None else {}
    task_list = [t for source in sources.values() for t in source.tasks] if tasks is not None else None
    with env_defaults({name: source.env_kwargs for name, source in sources.items()}):
        metrics = run_eval(config, policy, out_dir, tasks=task_list, tasks_file=None if tasks is None else str(tasks),
                           resume=resume)
    _print_summary(_console(), metrics, out_dir)
    return metrics


def report_command(run_dir: Path) -> list[EnvMetrics]:
    """Rebuild results.json, report.md and the plots of `run_dir` from its stored trajectories."""
    from agentgym.eval.report import build_report

    metrics = build_report(run_dir)
    _print_summary(_console(), metrics, run_dir)
    return metrics


def compare_command(run_a: Path, run_b: Path, num_resamples: int = 2000, seed: int = 0) -> None:
    """Print B − A per env for mean reward and pass@1, with paired-bootstrap CIs and p-values."""
    from agentgym.eval.compare import compare_runs

    if num_resamples < 1:
        raise AgentGymError(f"num_resamples must be a positive integer, got {num_resamples}")
    comparisons = compare_runs(run_a, run_b, num_resamples=num_resamples, seed=seed)
    table = Table(title=f"B − A  (A = {escape(str(run_a))}, B = {escape(str(run_b))})", box=box.SIMPLE_HEAD)
    for col in ("env", "metric", "A", "B", "B − A [95% CI]", "p", ""):
        table.add_column(col, no_wrap=col in ("metric", "B − A [95% CI]"))
    for c in comparisons:
        for name, a, b, d in (("reward", c.reward_a, c.reward_b, c.reward),
                              ("pass@1", c.pass_a, c.pass_b, c.pass_at_1)):
            significant = d.p_value < 0.05
            mark = "[green]better[/]" if significant and d.diff > 0 else "[red]worse[/]" if significant else "n.s."
            table.add_row(escape(c.env), name, f"{a:.3f}", f"{b:.3f}",
                          f"{d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}]", f"{d.p_value:.4f}", mark)
    console = _console()
    console.print(table)
    tasks = ", ".join(f"{c.env}: {c.reward.num_tasks}" for c in comparisons)
    console.print("reward: mean episode reward; pass@1: mean per-task pass rate", soft_wrap=True)
    console.print(f"paired bootstrap over the tasks both runs ran ({tasks}; {num_resamples} resamples, seed {seed}); "
                  f"two-sided p for no difference; significant at p < 0.05", soft_wrap=True)
    for c in comparisons:
        if c.num_unpaired:
            console.print(f"[yellow]{escape(c.env)}: {c.num_unpaired} tasks ran in only one of the runs and are "
                          f"left out[/]")


def show_command(traj_file: Path, index: int = 0) -> None:
    """Print episode `index` (negative counts from the end) of a trajectory JSONL file as a colored transcript."""
    from agentgym.eval.transcript import render_trajectory
    from agentgym.rollout import read_trajectories

    if not Path(traj_file).is_file():
        raise TaskFileError(f"trajectory file {str(traj_file)!r} does not exist")
    trajectories = list(read_trajectories(traj_file))
    if not -len(trajectories) <= index < len(trajectories):
        raise TaskFileError(
            f"{traj_file} holds {len(trajectories)} episodes; --index must be in "
            f"[{-len(trajectories)}, {len(trajectories) - 1}], got {index}"
        )
    _console().print(render_trajectory(trajectories[index], index=index % len(trajectories)))


@friendly
def eval_(
    env: str = typer.Option(..., help="env name(s), comma-separated"),
    tasks: Optional[Path] = typer.Option(None, help="JSONL task file or a folder with tasks.jsonl (an 'agentgym "
                                                    "synth' output); default: each env's sample_tasks"),
    policy: str = typer.Option(..., help=POLICY_HELP),
    n: int = typer.Option(8, "--n", min=1, help="samples per task (pass@1 … pass@n)"),
    out_dir: Path = typer.Option(Path("runs/eval"), help="run directory"),
    concurrency: int = typer.Option(16, min=1, help="episodes in flight"),
    max_turns: Optional[int] = typer.Option(None, min=1, help="assistant turns per episode (default: each env's "
                                            "own turn budget, e.g. arith 4; else 32)"),
    seed: int = typer.Option(0, help="base seed"),
    num_tasks: int = typer.Option(16, min=1, help="tasks drawn from sample_tasks when --tasks is not given"),
    resume: bool = typer.Option(False, "--resume", help="keep the episodes already in --out-dir (an interrupted "
                                "run's trajectories/*.jsonl.partial) and play only the rest; use the same settings"),
) -> None:
    """Evaluate a policy: pass@k, pass^k, reward CI, turns, tokens, errors; writes JSON, Markdown, PNGs.

    Progress goes to stderr: a bar on a terminal, plain lines (done/total, rate, ETA) in a log or CI."""
    eval_command(env, tasks, policy, n, out_dir, concurrency, max_turns=max_turns, seed=seed, num_tasks=num_tasks,
                 progress=True, resume=resume)


@friendly
def report(run_dir: Path = typer.Argument(..., help="an eval run directory")) -> None:
    """Rebuild results.json, report.md and the plots from a run's stored trajectories."""
    report_command(run_dir)


@friendly
def compare(run_a: Path = typer.Argument(...), run_b: Path = typer.Argument(...),
            resamples: int = typer.Option(2000, min=1), seed: int = typer.Option(0)) -> None:
    """Per-env B − A with paired-bootstrap CIs and p-values."""
    compare_command(run_a, run_b, num_resamples=resamples, seed=seed)


@friendly
def show(traj_file: Path = typer.Argument(...), index: int = typer.Option(0, "--index", "-i")) -> None:
    """Print one episode of a trajectory file as a colored transcript."""
    show_command(traj_file, index)
