"""DAPO dynamic sampling: a group whose rewards are all equal has zero advantage everywhere, so it is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def has_reward_variance(rewards: Sequence[float], *, tolerance: float = 1e-9) -> bool:
    """True iff max(R) − min(R) > tolerance: the group carries a learning signal."""
    return len(rewards) > 1 and max(rewards) - min(rewards) > tolerance


def keep_informative(groups: Sequence[T], rewards: Sequence[Sequence[float]]) -> tuple[list[T], int]:
    """(the groups with reward variance, in order; how many were dropped)."""
    kept = [g for g, r in zip(groups, rewards) if has_reward_variance(r)]
    return kept, len(groups) - len(kept)
