"""`agentgym train|sft|quickstart`: GRPO from a YAML config, cold-start SFT, and the quickstart job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from agentgym.app.console import console, friendly, print_rollout_summary
from agentgym.errors import AgentGymError


@friendly
def train(
    config: Path = typer.Argument(..., help="a YAML train config (see examples/train_grpo.py)"),
    resume: bool = typer.Option(False, help="continue exactly from the last checkpoint in the run directory"),
    out_dir: Optional[str] = typer.Option(None, help="override the config's out_dir"),
    steps: Optional[int] = typer.Option(None, min=1, help="override the config's number of steps"),
) -> None:
    """Mixed GRPO across environments with the embedded model (the DeepSeek-V3.2 techniques are config switches)."""
    from agentgym.rl.config import ConfigError
    from agentgym.rl.jobs import train as run_train

    if not config.is_file():
        raise AgentGymError(f"config file {str(config)!r} does not exist")
    try:
        records, out = run_train(config, resume=resume, out_dir=out_dir, steps=steps, progress=sys.stderr.isatty())
    except ConfigError as e:
        raise AgentGymError(str(e)) from None
    console.print(f"trained {len(records)} steps; metrics.jsonl, checkpoints and the reward curve are in {out}")


@friendly
def sft(
    envs: str = typer.Option(..., help="env names, comma-separated"),
    policy: str = typer.Option("engine", help="'engine' (the model samples), 'openai:MODEL@URL' or 'scripted:FILE'"),
    model: str = typer.Option("smollm2-135m", help="pretrained name or a model preset"),
    out_dir: Path = typer.Option(Path("runs/sft"), help="demos.jsonl and model.safetensors go here"),
    num_tasks: int = typer.Option(32, min=1, help="tasks per env"),
    num_samples: int = typer.Option(4, min=1, help="attempts per task (rejection sampling)"),
    epochs: int = typer.Option(2, min=1, help="passes over the kept trajectories"),
) -> None:
    """Cold-start SFT: rejection-sample successful trajectories, fine-tune on assistant tokens only."""
    from agentgym.rl.jobs import sft as run_sft

    summary = run_sft(envs=[e.strip() for e in envs.split(",") if e.strip()], policy=policy, model=model,
                      out_dir=out_dir, num_tasks=num_tasks, num_samples=num_samples, epochs=epochs,
                      progress=sys.stderr.isatty())
    console.print(summary)


@friendly
def quickstart(
    out_dir: Path = typer.Option(Path("runs/quickstart"), help="report, reward curve, metrics and checkpoints"),
    scripted: bool = typer.Option(False, help="instead: a few seconds of arith episodes with a scripted policy "
                                              "(checks the env/tool/loop plumbing only)"),
    num_tasks: int = typer.Option(32, min=1, help="with --scripted: arith tasks"),
    n: int = typer.Option(2, "--n", min=1, help="with --scripted: episodes per task"),
) -> None:
    """The main job: SmolLM2-135M learns multi-turn tool use: base, SFT-only and SFT + GRPO rows on ≥ 64 held-out
    tasks, env reward only, with intervals (about 15 minutes on 2 CPU cores)."""
    from agentgym.app import quickstart as jobs

    if scripted:
        console.print("[bold]agentgym quickstart --scripted[/]: arith env, scripted calculator→submit policy")
        trajectories, out, seconds = jobs.run_scripted_quickstart(num_tasks=num_tasks, num_samples=n,
                                                                  out_dir=out_dir, progress=sys.stderr.isatty())
        print_rollout_summary(trajectories, out, seconds)
        return
    console.print("[bold]agentgym quickstart[/]: SmolLM2-135M, cold-start SFT + multi-turn GRPO, held-out report")
    result = jobs.run_quickstart(jobs.QuickstartConfig(out_dir=str(out_dir), progress=sys.stderr.isatty()))
    console.print(result.report.read_text(encoding="utf-8"), markup=False, highlight=False)
