"""The mixed-task sampler: which env and which task each GRPO group gets, drawn by per-env weights from a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.api import Task, Trajectory
from agentgym.rl.task_stats import TaskStats


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvPool:
    """One env's share of the mix: its name, its sampling weight and the task pool drawn from."""

    name: str
    weight: float
    tasks: Sequence[Task]

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"EnvPool.weight must be > 0 for env {self.name!r}, got {self.weight}")
        if not self.tasks:
            raise ValueError(f"EnvPool.tasks is empty for env {self.name!r}")


class MixedTaskSampler:
    """Draws (env name, task) pairs: env i with probability weight_i / Σ weights, then a task from its pool.

    `mode` "uniform" draws the task uniformly; "learnability" draws it with weight max(p(1 − p), floor) of its live
    pass-rate estimate in `stats` (`agentgym.rl.task_stats`), which the collector feeds through `observe`.
    All randomness comes from one `random.Random(seed)`; `state_dict()` / `load_state_dict()` save and restore it and
    the statistics, so a resumed run draws exactly the tasks an uninterrupted run would.
    """

    def __init__(self, pools: Sequence[EnvPool], *, seed: int = 0, mode: str = "uniform",
                 stats: TaskStats | None = None, floor: float = 0.01) -> None:
        if mode not in ("uniform", "learnability"):
            raise ValueError(f"MixedTaskSampler mode must be 'uniform' or 'learnability', got {mode!r}")
        if not pools:
            raise ValueError("MixedTaskSampler needs at least one EnvPool")
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise ValueError(f"MixedTaskSampler: env names must be unique, got {names}")
        self.pools = list(pools)
        self.rng = random.Random(seed)
        self.num_drawn = 0
        self.mode = mode
        self.stats = stats if stats is not None else TaskStats()
        self.floor = floor

    def sample(self, n: int) -> list[tuple[str, Task]]:
        """The next `n` (env name, task) draws."""
        weights = [p.weight for p in self.pools]
        out = []
        for _ in range(n):
            pool = self.rng.choices(self.pools, weights=weights, k=1)[0]
            out.append((pool.name, self._draw(pool)))
        self.num_drawn += n
        return out

    def _draw(self, pool: EnvPool) -> Task:
        if self.mode == "uniform":
            return pool.tasks[self.rng.randrange(len(pool.tasks))]
        weights = [self.stats.learnability(t.id, floor=self.floor) for t in pool.tasks]
        return pool.tasks[self.rng.choices(range(len(pool.tasks)), weights=weights, k=1)[0]]

    def weights(self, name: str) -> list[float]:
        """The current draw weight of each task of env `name`'s pool (all 1.0 in uniform mode)."""
        pool = next(p for p in self.pools if p.name == name)
        if self.mode == "uniform":
            return [1.0] * len(pool.tasks)
        return [self.stats.learnability(t.id, floor=self.floor) for t in pool.tasks]

    def observe(self, task: Task, trajectories: Sequence[Trajectory]) -> None:
        """Record a played group's outcomes in the statistics (kept in both modes; only learnability draws by them)."""
        self.stats.observe(task.id, trajectories)

    def difficulty(self) -> dict[str, int]:
        """Distinct pool tasks per difficulty bucket, over every env (`TaskStats.buckets`)."""
        return self.stats.buckets(t.id for p in self.pools for t in p.tasks)

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "num_drawn": self.num_drawn,
                "stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.num_drawn = int(state["num_drawn"])
        if "stats" in state:  # checkpoints written before task statistics have none
            self.stats.load_state_dict(state["stats"])
