"""`run_recipe`: the stages in order, each skipped when its `stage.json` says it is done.

tasks       (before any stage) each env's held-out split, written once to RUN/tasks/ and used by every stage below
            (`agentgym.app.recipe.tasks`); a held-out set that overlaps training or demonstrations refuses to start
base        evaluate the base model on every domain
cold_start  (optional) SFT on the envs' reference solutions, then evaluate
rpt         (optional) GRPO on the `rpt` env from the latest checkpoint, then evaluate
specialists one GRPO run per domain from the same start checkpoint, each evaluated on its own domain
distill     rejection-sample every specialist on its domain, SFT one generalist on the union, evaluate
mixed       one GRPO run over all domains from the generalist (per-domain β and weights), evaluate
report      report.md, report.json and reward-curve PNGs, from the stored files only
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.app.recipe.config import RecipeConfig
from agentgym.app.recipe.runs import (
    env_factory,
    evaluate_domains,
    fine_tune,
    load_model,
    run_grpo,
    save_model,
)
from agentgym.app.recipe.stages import (
    STAGES,
    check_stage,
    is_done,
    mark_done,
    read_json,
    reset_from,
    write_json_atomic,
)
from agentgym.app.recipe.tasks import TASK_DIR, RecipeTasks, prepare_tasks


@dataclass(slots=True)
class RecipeResult:
    """What a run did: the stages it ran, the ones it skipped as already done, and the report's path."""

    run_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: Path | None = None


def active_stages(config: RecipeConfig) -> list[str]:
    """The stages this config runs (`cold_start` and `rpt` only when configured)."""
    return [s for s in STAGES if not (s == "cold_start" and config.cold_start is None)
            and not (s == "rpt" and config.rpt is None)]


def start_checkpoint(run_dir: Path) -> Path | None:
    """The specialists' (and the generalist's) starting weights: after RPT, else after the cold start, else base."""
    for name in ("rpt", "cold_start"):
        if (run_dir / name / "model.safetensors").is_file():
            return run_dir / name / "model.safetensors"
    return None


def run_recipe(config: RecipeConfig, run_dir: str | Path, *, from_stage: str | None = None,
               config_text: str | None = None) -> RecipeResult:
    """Run every unfinished stage of the recipe under `run_dir`; `from_stage` redoes that stage and the later ones."""
    from rich.console import Console

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    console = Console(quiet=not config.progress)
    if from_stage is not None:
        deleted = reset_from(run_dir, check_stage(from_stage))
        console.print(f"recipe: restarting from {from_stage} (cleared {', '.join(deleted) or 'nothing'})")
    _check_same_config(config, run_dir, from_stage)
    if from_stage is not None and from_stage == active_stages(config)[0] and (run_dir / TASK_DIR).exists():
        shutil.rmtree(run_dir / TASK_DIR)  # redoing the first stage makes the split again (from this config)
    tasks = prepare_tasks(config, run_dir)
    for name, split in tasks.splits.items():
        console.print(f"recipe: {name}: {len(split.heldout)} held-out tasks, {len(split.train)} training draws "
                      f"({split.how})", soft_wrap=True)
    if config_text is not None:
        (run_dir / "config.yaml").write_text(config_text, encoding="utf-8")
    write_json_atomic(run_dir / "config.json", config.model_dump(mode="json"))
    result = RecipeResult(run_dir=run_dir)
    stages = active_stages(config)
    for index, name in enumerate(stages, 1):
        stage = run_dir / name
        if is_done(stage):
            console.print(f"[dim][{index}/{len(stages)}] {name}: done, skipped[/dim]")
            result.skipped.append(name)
            continue
        console.rule(f"[bold][{index}/{len(stages)}] {name}")
        started = time.perf_counter()
        stage.mkdir(parents=True, exist_ok=True)
        fields = RUNNERS[name](config, tasks, run_dir, stage) or {}
        mark_done(stage, seconds=time.perf_counter() - started, **fields)
        console.print(f"[green][{index}/{len(stages)}] {name}: done in {time.perf_counter() - started:.0f} s")
        result.ran.append(name)
    result.report = run_dir / "report" / "report.md"
    return result


def _check_same_config(config: RecipeConfig, run_dir: Path, from_stage: str | None) -> None:
    """Finished stages were made with the stored config: continuing with another one needs `--from-stage`."""
    from agentgym.rl.config import ConfigError

    stored = run_dir / "config.json"
    if from_stage is not None or not stored.is_file():
        return
    old, new = read_json(stored), config.model_dump(mode="json")
    old.pop("progress", None)
    new.pop("progress", None)
    if old != new:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ConfigError(f"{run_dir} was started with a different config (changed: {', '.join(changed)}); "
                          "use a new --out, or --from-stage STAGE to redo STAGE and the later stages with this one")


def _evaluate(config: RecipeConfig, tasks: RecipeTasks, stage: Path, model: Any, tokenizer: Any,
              domains: list[str]) -> dict[str, Any]:
    scores = evaluate_domains(config, tasks, model, tokenizer, domains)
    write_json_atomic(stage / "eval.json", scores)
    return {"mean_reward": {d: _mean([x for v in s.values() for x in v]) for d, s in scores.items()}}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def base_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    model, tokenizer = load_model(config, None)
    return _evaluate(config, tasks, stage, model, tokenizer, list(config.domains))


def cold_start_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    from agentgym.rl.demos import reference_examples

    c = config.cold_start
    assert c is not None
    model, tokenizer = load_model(config, None)
    make_env = env_factory(tasks.kwargs)
    examples = []
    for name in config.env_kwargs():
        examples += reference_examples(make_env(name), tasks.demos(name), tokenizer)  # from the train side
    losses = fine_tune(model, tokenizer, examples, lr=c.lr, epochs=c.epochs, batch_size=c.batch_size,
                       seed=config.seed, description="cold-start SFT", progress=config.progress)
    save_model(model, stage / "model.safetensors")
    write_json_atomic(stage / "summary.json", {"num_examples": len(examples), "losses": losses})
    return _evaluate(config, tasks, stage, model, tokenizer, list(config.domains))


def rpt_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    r = config.rpt
    assert r is not None
    checkpoint = run_dir / "cold_start" / "model.safetensors"
    model, tokenizer, records = run_grpo(config, tasks, r, [r.env], stage,
                                         checkpoint if checkpoint.is_file() else None, description="rpt", rpt=True)
    return {"steps": len(records), **_evaluate(config, tasks, stage, model, tokenizer, list(config.domains))}


def specialists_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    start = start_checkpoint(run_dir)
    for domain, section in config.domains.items():
        out = stage / domain
        if is_done(out):  # an interrupted stage keeps its finished specialists
            continue
        started = time.perf_counter()
        model, tokenizer, records = run_grpo(config, tasks, section, config.domain_envs(domain), out, start,
                                             description=f"domains.{domain}")
        done = _evaluate(config, tasks, out, model, tokenizer, [domain])
        mark_done(out, seconds=time.perf_counter() - started, steps=len(records), **done)
    return {"start": str(start) if start else None}


def distill_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    from agentgym.app.recipe.distill import run_distill

    specialists = {d: run_dir / "specialists" / d / "model.safetensors" for d in config.domains}
    out = run_distill(config, tasks, stage, specialists, start_checkpoint(run_dir))
    return {"num_examples": out["num_examples"],
            **_evaluate(config, tasks, stage, out["model"], out["tokenizer"], list(config.domains))}


def mixed_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    model, tokenizer, records = run_grpo(config, tasks, config.mixed, config.mixed_envs(), stage,
                                         run_dir / "distill" / "model.safetensors", description="mixed")
    return {"steps": len(records), **_evaluate(config, tasks, stage, model, tokenizer, list(config.domains))}


def report_stage(config: RecipeConfig, tasks: RecipeTasks, run_dir: Path, stage: Path) -> dict[str, Any]:
    from agentgym.app.recipe.report import write_report

    report = write_report(run_dir, stage)
    return {"report": str(report.relative_to(run_dir))}


RUNNERS = {"base": base_stage, "cold_start": cold_start_stage, "rpt": rpt_stage, "specialists": specialists_stage,
           "distill": distill_stage, "mixed": mixed_stage, "report": report_stage}
