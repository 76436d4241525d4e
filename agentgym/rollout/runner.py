"""Run many episodes concurrently (asyncio, bounded concurrency) with a progress bar and crash-safe output."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from agentgym.api import Env, Task, Trajectory
from agentgym.rollout.budget import BudgetConfig
from agentgym.rollout.context import ContextConfig
from agentgym.rollout.jsonl import TrajectoryWriter, read_trajectories
from agentgym.rollout.loop import DEFAULT_MAX_TURNS, episode_key, run_episode, stamp
from agentgym.rollout.policy import Policy
from agentgym.rollout.progress import episode_progress


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutConfig:
    """How a batch of episodes runs.

    Attributes:
        num_samples: episodes per task (a GRPO group size, or k for pass@k).
        concurrency: episodes in flight at once; each holds its own env instance.
        max_turns: assistant turns per episode before the loop truncates it.
        seed: base seed; episode (task i, sample j) gets env seed `seed + 1000003·i + j` (`+ 0` with
            `same_seed_per_task`).
        same_seed_per_task: give every sample of a task the same env seed (GRPO groups that share a seed).
        progress: show progress: a bar on a terminal, plain lines (done/total, rate, ETA) when stderr is not one.
        context: context handling of every episode (docs/context.md); None: the policy sees the whole history.
        budget: per-episode token budgets (docs/truncation.md); None: only the turn budget and the model's window.
    """

    num_samples: int = 1
    concurrency: int = 16
    max_turns: int = DEFAULT_MAX_TURNS
    seed: int = 0
    same_seed_per_task: bool = False
    progress: bool = True
    context: ContextConfig | None = None
    budget: BudgetConfig | None = None

    def __post_init__(self) -> None:
        for name in ("num_samples", "concurrency", "max_turns"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


async def run_episodes(
    make_env: Callable[[], Env],
    policy: Policy,
    tasks: Sequence[Task],
    config: RolloutConfig = RolloutConfig(),
    *,
    out: str | Path | None = None,
    resume: bool = False,
) -> list[Trajectory]:
    """Play every task `config.num_samples` times and return the trajectories in (task, sample) order.

    `make_env` builds one env per concurrent slot (envs hold per-episode state). With `out`, each finished episode is
    appended to `out.partial` at once and the file is renamed to `out` when all are done; with `resume=True`, episodes
    already in `out.partial` are read back instead of re-run.
    """
    occurrences: dict[str, int] = {}
    ids = []
    for t in tasks:  # a task listed twice (a sampler drawing it again) is played again, not merged with the first
        seen = occurrences.get(t.id, 0)
        occurrences[t.id] = seen + 1
        ids.append(t.id if seen == 0 else f"{t.id}@{seen}")
    jobs = [
        (episode_key(key_id, j), t, config.seed + 1_000_003 * i + (0 if config.same_seed_per_task else j))
        for i, (key_id, t) in enumerate(zip(ids, tasks))
        for j in range(config.num_samples)
    ]
    writer = TrajectoryWriter(out, resume=resume) if out is not None else None
    done: dict[str, Trajectory] = {}
    if writer is not None and resume:
        keys = {k for k, _, _ in jobs}
        done = {t.info["episode"]: t for t in read_trajectories(writer.partial, skip_bad_tail=True)
                if t.info.get("episode") in keys}
    queue: asyncio.Queue[tuple[str, Task, int]] = asyncio.Queue()
    for job in jobs:
        if job[0] not in done:
            queue.put_nowait(job)

    progress = episode_progress(config.progress)
    bar = progress.add_task("episodes", total=len(jobs), completed=len(done), reward=0.0)
    reward_sum = sum(t.reward for t in done.values())

    async def worker() -> None:
        nonlocal reward_sum
        env = make_env()
        try:
            while True:
                try:
                    key, task, seed = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                trajectory = await run_episode(env, policy, task, seed=seed, max_turns=config.max_turns,
                                               context=config.context, budget=config.budget)
                stamp(trajectory, key)
                done[key] = trajectory
                if writer is not None:
                    writer.write(trajectory)
                reward_sum += trajectory.reward
                progress.update(bar, advance=1, reward=reward_sum / max(1, len(done)))
        finally:
            with contextlib.suppress(Exception):
                await env.close()

    num_workers = min(config.concurrency, max(1, queue.qsize()))
    try:
        with progress:
            await asyncio.gather(*(worker() for _ in range(num_workers)))
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.finish()
    return [done[k] for k, _, _ in jobs]

