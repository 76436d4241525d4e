"""The learning-rate schedule as a pure function of the step (nothing to checkpoint)."""

from __future__ import annotations

import math


def lr_at(step: int, *, base_lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "constant",
          min_lr_ratio: float = 0.0) -> float:
    """LR of optimizer update `step` (0-based): linear warm-up to base_lr over warmup_steps, then the schedule.

    constant: base_lr. linear: base_lr → min_lr_ratio·base_lr at total_steps. cosine: the half-cosine between them.
    Example: base 1.0, total 10, warmup 2: steps 0, 1 -> 0.5, 1.0; cosine at step 6 -> 0.5 (+ min ratio share).
    """
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    floor = min_lr_ratio * base_lr
    if schedule == "linear":
        return floor + (base_lr - floor) * (1 - progress)
    if schedule == "cosine":
        return floor + (base_lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}; choose constant, linear or cosine")
