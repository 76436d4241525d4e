"""Before/after evaluation on held-out tasks: mean reward with a bootstrap confidence interval."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.api import Env, Task, Trajectory
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop


@dataclass(frozen=True, slots=True)
class MeanCI:
    """A mean and its (low, high) bootstrap percentile interval at `level`."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


def bootstrap_ci(values: Sequence[float], *, level: float = 0.95, num_resamples: int = 2000, seed: int = 0) -> MeanCI:
    """Mean of `values` with the percentile bootstrap interval (resampling with replacement, seeded).

    Example: [0, 1, 1, 1] -> mean 0.75 with an interval inside [0, 1] that contains 0.75.
    """
    if not values:
        raise ValueError("bootstrap_ci: no values")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(num_resamples))
    cut = (1 - level) / 2
    low = means[int(cut * (num_resamples - 1))]
    high = means[int((1 - cut) * (num_resamples - 1))]
    return MeanCI(mean=sum(values) / n, low=low, high=high, n=n, level=level)


def evaluate(policy: Any, make_env: Callable[[str], Env], tasks: dict[str, Sequence[Task]], *,
             score: Callable[[Trajectory], float], max_turns: int = 1, concurrency: int = 64,
             progress: bool = False) -> tuple[dict[str, list[float]], list[Trajectory]]:
    """Play every held-out task once per env and score each trajectory; returns (scores by env, trajectories)."""

    async def play() -> list[list[Trajectory]]:
        config = RolloutConfig(num_samples=1, max_turns=max_turns, concurrency=concurrency, progress=progress)
        runs = [run_episodes(lambda name=name: make_env(name), policy, list(ts), config) for name, ts in tasks.items()]
        if progress:  # one live progress bar at a time: envs in turn
            return [await r for r in runs]
        return await asyncio.gather(*runs)

    results = run_episodes_loop(play)
    scores = {name: [score(t) for t in ts] for name, ts in zip(tasks, results)}
    return scores, [t for ts in results for t in ts]
