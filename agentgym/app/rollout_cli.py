"""`agentgym rollout`: play a policy on an env's tasks and write the trajectories to JSONL."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from agentgym.app.console import friendly, print_rollout_summary


@friendly
def rollout(
    env: str = typer.Option(..., help="registered env name"),
    tasks: Path = typer.Option(..., help="JSONL task file"),
    policy: str = typer.Option(..., help="'openai:MODEL@URL' or 'scripted:FILE'"),
    out: Path = typer.Option(..., help="output trajectories JSONL"),
    n: int = typer.Option(1, "--n", min=1, help="episodes per task"),
    concurrency: int = typer.Option(16, min=1, help="episodes in flight"),
    max_turns: int = typer.Option(32, min=1, help="assistant turns per episode"),
    seed: int = typer.Option(0, help="base seed"),
    resume: bool = typer.Option(False, help="continue from OUT.partial"),
) -> None:
    """Roll out a policy on an env's tasks and write trajectories to JSONL."""
    from agentgym.registry import make
    from agentgym.rollout import RolloutConfig, run_episodes
    from agentgym.rollout.compute_thread import run_episodes_loop
    from agentgym.rollout.specs import make_policy
    from agentgym.taskio import load_tasks

    task_list = load_tasks(tasks)
    make(env)
    the_policy = make_policy(policy)
    config = RolloutConfig(num_samples=n, concurrency=concurrency, max_turns=max_turns, seed=seed,
                           progress=sys.stderr.isatty())
    trajectories = run_episodes_loop(lambda: run_episodes(lambda: make(env), the_policy, task_list, config, out=out,
                                                          resume=resume))
    print_rollout_summary(trajectories, out)
