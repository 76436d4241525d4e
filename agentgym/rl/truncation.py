"""What the trainer does with the reward of a truncated trajectory (cut by a turn, token or window budget).

A truncated episode never reached its end, so its reward may say little about the policy. Three choices:

- `keep`: train on it with its reward as is (the default; the loop's turn budget has always worked this way);
- `zero`: train on it with reward 0 (the episode is treated as a failure);
- `drop`: leave it out of its group; a group left with fewer than `min_group_size` episodes is dropped whole.

Every choice is counted in the step metrics (`num_truncated`, `num_dropped_truncated`, `num_groups_dropped_truncated`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agentgym.api import Trajectory

OnTruncated = Literal["keep", "zero", "drop"]


@dataclass(slots=True)
class TruncationOutcome:
    """A group after truncation handling: the kept trajectories and their rewards, and the counts."""

    trajectories: list[Trajectory]
    rewards: list[float]
    num_truncated: int
    num_dropped: int
    is_group_dropped: bool


def handle_truncated(trajectories: Sequence[Trajectory], rewards: Sequence[float], *, on_truncated: OnTruncated,
                     min_group_size: int = 2) -> TruncationOutcome:
    """Apply `on_truncated` to one group; rewards are the shaped rewards, aligned with `trajectories`.

    Example: rewards [1, 0.5, 0] where the second is truncated -> keep [1, 0.5, 0]; zero [1, 0, 0]; drop [1, 0]
    (and with min_group_size=3 the group is dropped: `is_group_dropped`, no trajectories).
    """
    if on_truncated not in ("keep", "zero", "drop"):
        raise ValueError(f"on_truncated must be 'keep', 'zero' or 'drop', got {on_truncated!r}")
    if len(trajectories) != len(rewards):
        raise ValueError(f"{len(trajectories)} trajectories but {len(rewards)} rewards")
    truncated = [t.truncated for t in trajectories]
    num_truncated = sum(truncated)
    if on_truncated == "keep" or num_truncated == 0:
        return TruncationOutcome(list(trajectories), list(rewards), num_truncated, 0, False)
    if on_truncated == "zero":
        zeroed = [0.0 if cut else r for r, cut in zip(rewards, truncated)]
        for t, cut in zip(trajectories, truncated):
            if cut:
                t.info["truncation_handling"] = "reward set to 0 (on_truncated=zero)"
        return TruncationOutcome(list(trajectories), zeroed, num_truncated, 0, False)
    kept = [(t, r) for t, r, cut in zip(trajectories, rewards, truncated) if not cut]
    if len(kept) < min_group_size:
        return TruncationOutcome([], [], num_truncated, num_truncated, True)
    return TruncationOutcome([t for t, _ in kept], [r for _, r in kept], num_truncated, num_truncated, False)
