"""The mixed-task sampler: which env and which task each GRPO group gets, drawn by per-env weights from a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.api import Task


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
    """Draws (env name, task) pairs: env i with probability weight_i / Σ weights, then a task uniformly from its pool.

    All randomness comes from one `random.Random(seed)`; `state_dict()` / `load_state_dict()` save and restore it, so
    a resumed run draws exactly the tasks an uninterrupted run would.
    """

    def __init__(self, pools: Sequence[EnvPool], *, seed: int = 0) -> None:
        if not pools:
            raise ValueError("MixedTaskSampler needs at least one EnvPool")
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise ValueError(f"MixedTaskSampler: env names must be unique, got {names}")
        self.pools = list(pools)
        self.rng = random.Random(seed)
        self.num_drawn = 0

    def sample(self, n: int) -> list[tuple[str, Task]]:
        """The next `n` (env name, task) draws."""
        weights = [p.weight for p in self.pools]
        out = []
        for _ in range(n):
            pool = self.rng.choices(self.pools, weights=weights, k=1)[0]
            out.append((pool.name, pool.tasks[self.rng.randrange(len(pool.tasks))]))
        self.num_drawn += n
        return out

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "num_drawn": self.num_drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.num_drawn = int(state["num_drawn"])
