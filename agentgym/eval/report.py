"""Read a run directory back and (re)build its derived files: `results.json`, `report.md` and the PNG plots.

Everything here is computed from the stored trajectories, so `agentgym report RUN_DIR` after a change to the metrics
gives the same files a fresh run would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentgym.api import Trajectory
from agentgym.errors import DependencyNotInstalled, TaskFileError
from agentgym.eval.markdown import render_report
from agentgym.eval.metrics import EnvMetrics, summarize
from agentgym.rollout import read_trajectories

RUN_FILE = "run.json"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
TRAJECTORY_DIR = "trajectories"
PLOT_DIR = "plots"


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, list[Trajectory]]]:
    """(the run's `run.json` metadata or {}, {env: trajectories}) for a run directory.

    Raises:
        TaskFileError: the directory does not exist or holds no trajectory files.
    """
    run_dir = Path(run_dir)
    folder = run_dir / TRAJECTORY_DIR
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise TaskFileError(
            f"{str(run_dir)!r} is not an eval run directory: no {TRAJECTORY_DIR}/*.jsonl files in it "
            f"(create one with `agentgym eval --out-dir {run_dir} ...`)"
        )
    meta_path = run_dir / RUN_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except json.JSONDecodeError as e:
        raise TaskFileError(f"{meta_path}: not valid JSON ({e.msg} at line {e.lineno}); delete it to report "
                            f"from the trajectories alone") from None
    envs = meta.get("config", {}).get("envs")
    if envs:  # exactly the envs of the last `eval` into this folder, in the order it was given them
        files = [folder / f"{env}.jsonl" for env in envs if (folder / f"{env}.jsonl").is_file()]
    runs = {path.stem: list(read_trajectories(path)) for path in files}
    return meta, {env: trajectories for env, trajectories in runs.items() if trajectories}


def build_report(run_dir: str | Path, *, make_plots: bool = True) -> list[EnvMetrics]:
    """Compute the metrics of every env in `run_dir` and write results.json, report.md and (by default) the plots.

    Without matplotlib the plots are skipped, and results.json (`plots_skipped`) and report.md say why.
    """
    run_dir = Path(run_dir)
    meta, runs = load_run(run_dir)
    if not runs:
        raise TaskFileError(f"{str(run_dir)!r}: every trajectory file is empty; nothing to report")
    wall = meta.get("wall_time_s", {})
    seed = int(meta.get("config", {}).get("seed", 0))
    metrics = [summarize(env, trajectories, wall_time_s=wall.get(env), seed=seed) for env, trajectories in runs.items()]
    plots: dict[str, list[str]] = {}
    plots_skipped = None if make_plots else "plots not requested"
    if make_plots:
        from agentgym.eval.plots import plot_env

        try:
            plots = {m.env: [p.relative_to(run_dir).as_posix() for p in plot_env(m, runs[m.env], run_dir / PLOT_DIR)]
                     for m in metrics}
        except DependencyNotInstalled as e:  # never lose a finished run's numbers to a missing plotting library
            plots_skipped = str(e)
    results = {"run": meta, "envs": {m.env: m.to_json() for m in metrics}, "plots": plots,
               "plots_skipped": plots_skipped}
    (run_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (run_dir / REPORT_FILE).write_text(render_report(meta, metrics, plots, plots_skipped), encoding="utf-8")
    return metrics
