"""`agentgym recipe v32|status|report`: run the V3.2 recipe, show a run's stages, export its report."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from agentgym.app.console import console, friendly
from agentgym.errors import AgentGymError

if TYPE_CHECKING:
    from agentgym.app.recipe.pipeline import RecipeResult

recipe_app = typer.Typer(help="The DeepSeek-V3.2 post-training recipe (docs/recipe.md).", no_args_is_help=True)


def v32(config_path: str | Path, out_dir: str | Path, *, from_stage: str | None = None,
        progress: bool | None = None) -> RecipeResult:
    """Run (or continue) the recipe in `config_path` under `out_dir` (a bad key raises `ConfigError` naming it)."""
    from agentgym.app.recipe.config import load_recipe
    from agentgym.app.recipe.pipeline import run_recipe

    config = load_recipe(config_path)
    if progress is not None:
        config = config.model_copy(update={"progress": progress})
    return run_recipe(config, out_dir, from_stage=from_stage,
                      config_text=Path(config_path).read_text(encoding="utf-8"))


def status(run_dir: str | Path) -> None:
    """Print a table of the run's stages: done / partial / pending, with wall times."""
    from rich.console import Console
    from rich.table import Table

    from agentgym.app.recipe.stages import stage_status

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a recipe run directory (no config.json)")
    table = Table(title=f"recipe run {run_dir}")
    for column in ("stage", "state", "seconds", "finished at"):
        table.add_column(column)
    colors = {"done": "green", "partial": "yellow", "pending": "dim"}
    for row in stage_status(run_dir):
        table.add_row(row["stage"], f"[{colors[row['state']]}]{row['state']}", str(row.get("seconds", "")),
                      row.get("finished_at", ""))
    Console().print(table)


def export_report(run_dir: str | Path, out_file: str | Path) -> Path:
    """Rebuild the run's report from its stored files into `out_file` (Markdown) and `<out_file stem>_curves/`.

    Used to publish a finished run, e.g. `agentgym recipe report runs/recipe_v32_cpu --out
    docs/results/recipe_v32_cpu.md`; the copied config sits next to it as `<stem>_config.yaml`.
    """
    from agentgym.app.recipe.report import write_report
    from agentgym.app.recipe.stages import read_json, write_json_atomic

    run_dir, out_file = Path(run_dir), Path(out_file)
    if out_file.suffix != ".md":
        raise ValueError(f"--out must be a .md file, got {out_file}")
    staging = out_file.parent / f"{out_file.stem}_curves"
    report = write_report(run_dir, staging)
    text = report.read_text(encoding="utf-8").replace("](curves/", f"]({staging.name}/")
    for png in (staging / "curves").glob("*.png"):
        shutil.move(str(png), staging / png.name)
    shutil.rmtree(staging / "curves", ignore_errors=True)
    report.unlink()
    data = read_json(staging / "report.json")
    data["curves"] = [c.replace("curves/", f"{staging.name}/", 1) for c in data["curves"]]
    write_json_atomic(out_file.with_suffix(".json"), data)
    (staging / "report.json").unlink()
    if (run_dir / "config.yaml").is_file():
        shutil.copy(run_dir / "config.yaml", out_file.parent / f"{out_file.stem}_config.yaml")
    out_file.write_text(text, encoding="utf-8")
    return out_file


@recipe_app.command("v32")
@friendly
def recipe_v32(
    config: Path = typer.Argument(..., help="a YAML recipe config (e.g. configs/recipe_smoke.yaml)"),
    out: Path = typer.Option(Path("runs/recipe"), "--out", help="the run directory (rerunning skips done stages)"),
    from_stage: Optional[str] = typer.Option(None, "--from-stage", help="redo this stage and every later one"),
) -> None:
    """RPT → specialists → distillation → mixed RL → report, as resumable stages under one run directory."""
    from agentgym.app.recipe.stages import STAGES
    from agentgym.rl.config import ConfigError

    if not config.is_file():
        raise AgentGymError(f"config file {str(config)!r} does not exist")
    if from_stage is not None and from_stage not in STAGES:
        raise AgentGymError(f"unknown stage {from_stage!r}; stages: {', '.join(STAGES)}")
    try:
        result = v32(config, out, from_stage=from_stage, progress=sys.stderr.isatty() or None)
    except ConfigError as e:
        raise AgentGymError(str(e)) from None
    status(out)
    console.print(f"ran {', '.join(result.ran) or 'nothing'}; skipped {', '.join(result.skipped) or 'nothing'}; "
                  f"report: {result.report}")


@recipe_app.command("status")
@friendly
def recipe_status(run_dir: Path = typer.Argument(..., help="a recipe run directory")) -> None:
    """Which stages of a recipe run are done, partial or pending."""
    if not (run_dir / "config.json").is_file():
        raise AgentGymError(f"{str(run_dir)!r} is not a recipe run directory (no config.json)")
    status(run_dir)


@recipe_app.command("report")
@friendly
def recipe_report(
    run_dir: Path = typer.Argument(..., help="a recipe run directory"),
    out: Path = typer.Option(..., "--out", help="Markdown file to write, e.g. docs/results/recipe_v32_cpu.md"),
) -> None:
    """Rebuild a run's report from its stored files and publish it (curves beside it in <stem>_curves/)."""
    if not (run_dir / "config.json").is_file():
        raise AgentGymError(f"{str(run_dir)!r} is not a recipe run directory (no config.json)")
    if out.suffix != ".md":
        raise AgentGymError(f"--out must be a .md file, got {str(out)!r}")
    console.print(f"report: {export_report(run_dir, out)}")
