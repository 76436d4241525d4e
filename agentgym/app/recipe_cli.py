"""What `agentgym recipe ...` calls: run the V3.2 recipe, show a run's stages, export its report."""

from __future__ import annotations

import shutil
from pathlib import Path

from agentgym.recipe.config import load_recipe
from agentgym.recipe.pipeline import RecipeResult, run_recipe


def v32(config_path: str | Path, out_dir: str | Path, *, from_stage: str | None = None,
        progress: bool | None = None) -> RecipeResult:
    """Run (or continue) the recipe in `config_path` under `out_dir` (a bad key raises `ConfigError` naming it)."""
    config = load_recipe(config_path)
    if progress is not None:
        config = config.model_copy(update={"progress": progress})
    return run_recipe(config, out_dir, from_stage=from_stage,
                      config_text=Path(config_path).read_text(encoding="utf-8"))


def status(run_dir: str | Path) -> None:
    """Print a table of the run's stages: done / partial / pending, with wall times."""
    from rich.console import Console
    from rich.table import Table

    from agentgym.recipe.stages import stage_status

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
    from agentgym.recipe.report import write_report
    from agentgym.recipe.stages import read_json, write_json_atomic

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
