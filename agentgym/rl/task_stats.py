"""Live task difficulty: per-task attempts and successes kept as training runs, a Beta-posterior pass rate with a
Wilson interval, and the learnability weight p(1 − p) that favours tasks the policy solves sometimes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.api import Task, Trajectory

BUCKETS = ("unseen", "p<0.2", "p0.2-0.8", "p>0.8")
"""Difficulty buckets of `TaskStats.buckets`: never attempted in this run, then by the current estimate."""


def is_success(trajectory: Trajectory) -> bool:
    """An attempt succeeds when the env's verdict passed (the same rule as the pass@k filter)."""
    return trajectory.verdict is not None and trajectory.verdict.passed


def wilson_interval(n: int, c: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a success rate from `c` successes in `n` attempts ((0, 1) for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = c / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def filter_counts(task: Task) -> tuple[int, int] | None:
    """(successes, attempts) of the last pass@k filter run recorded in ``task.meta["passk"]``, or None."""
    runs = task.meta.get("passk")
    if not isinstance(runs, list) or not runs or not isinstance(runs[-1], dict):
        return None
    n, c = runs[-1].get("num_attempts"), runs[-1].get("num_successes")
    if not isinstance(n, int) or not isinstance(c, int) or n <= 0 or not 0 <= c <= n:
        return None
    return c, n


@dataclass(kw_only=True, slots=True)
class TaskRecord:
    """One task's counts: what this run saw, and pseudo-counts from an earlier filter run."""

    attempts: int = 0
    successes: int = 0
    prior_attempts: float = 0.0
    prior_successes: float = 0.0


class TaskStats:
    """Per-task outcome statistics, keyed by task id.

    The pass-rate estimate is the posterior mean of Beta(a + s, b + n − s) with a = b = `prior_strength` / 2 (so an
    unseen task is at p = 0.5), where (s, n) are this run's successes and attempts plus the filter's, scaled down to at
    most `max_filter_attempts` pseudo-attempts (another policy produced them).

    Args:
        prior_strength: a + b of the Beta prior.
        max_filter_attempts: cap on the weight of a filter's pass@k record (0: ignore filter records).
    """

    def __init__(self, *, prior_strength: float = 2.0, max_filter_attempts: int = 8) -> None:
        if prior_strength <= 0:
            raise ValueError(f"prior_strength must be > 0, got {prior_strength}")
        self.prior_strength = prior_strength
        self.max_filter_attempts = max_filter_attempts
        self.records: dict[str, TaskRecord] = {}

    def seed_from_filter(self, tasks: Iterable[Task]) -> int:
        """Start each task with its filter record (``meta["passk"]``) as pseudo-counts; returns how many had one."""
        num = 0
        for task in tasks:
            counts = filter_counts(task)
            if counts is None or self.max_filter_attempts <= 0 or task.id in self.records:
                continue
            c, n = counts
            scale = min(1.0, self.max_filter_attempts / n)
            self.records[task.id] = TaskRecord(prior_attempts=n * scale, prior_successes=c * scale)
            num += 1
        return num

    def update(self, task_id: str, *, successes: int, attempts: int) -> None:
        """Add one group's outcomes of `task_id`."""
        if not 0 <= successes <= attempts:
            raise ValueError(f"need 0 <= successes <= attempts, got {successes}/{attempts}")
        record = self.records.setdefault(task_id, TaskRecord())
        record.attempts += attempts
        record.successes += successes

    def observe(self, task_id: str, trajectories: Sequence[Trajectory]) -> None:
        """Add a group's episodes (env errors are not attempts)."""
        played = [t for t in trajectories if t.error != "env_error"]
        if played:
            self.update(task_id, successes=sum(is_success(t) for t in played), attempts=len(played))

    def estimate(self, task_id: str) -> float:
        """Posterior mean pass rate (0.5 for a task never seen and without a filter record)."""
        r = self.records.get(task_id) or TaskRecord()
        half = self.prior_strength / 2
        return (half + r.successes + r.prior_successes) / (self.prior_strength + r.attempts + r.prior_attempts)

    def interval(self, task_id: str) -> tuple[float, float]:
        """Wilson 95% interval of this run's own attempts ((0, 1) before the first)."""
        r = self.records.get(task_id) or TaskRecord()
        return wilson_interval(r.attempts, r.successes)

    def is_seen(self, task_id: str) -> bool:
        r = self.records.get(task_id)
        return r is not None and r.attempts > 0

    def learnability(self, task_id: str, *, floor: float) -> float:
        """p(1 − p) of the estimate, at least `floor` (so always- or never-solved tasks are retried now and then)."""
        p = self.estimate(task_id)
        return max(p * (1 - p), floor)

    def buckets(self, task_ids: Iterable[str]) -> dict[str, int]:
        """Distinct tasks per difficulty bucket (`BUCKETS`); a task with only a filter record is bucketed by it."""
        out = dict.fromkeys(BUCKETS, 0)
        for task_id in dict.fromkeys(task_ids):
            r = self.records.get(task_id)
            if r is None or r.attempts + r.prior_attempts == 0:
                out["unseen"] += 1
                continue
            p = self.estimate(task_id)
            out["p<0.2" if p < 0.2 else "p>0.8" if p > 0.8 else "p0.2-0.8"] += 1
        return out

    def state_dict(self) -> dict[str, Any]:
        return {task_id: [r.attempts, r.successes, r.prior_attempts, r.prior_successes]
                for task_id, r in self.records.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.records = {task_id: TaskRecord(attempts=int(a), successes=int(s), prior_attempts=float(pa),
                                            prior_successes=float(ps))
                        for task_id, (a, s, pa, ps) in state.items()}
