"""Credit assignment: which advantage each assistant turn of a GRPO group gets (outcome, discounted or per-turn).

Notation, for one group of G trajectories: trajectory i has turns t = 0..T_i − 1 with rewards r_it (`Turn.reward`,
what the env returned for the step after that turn) and a total (shaped) reward R_i. Shaping (length penalty, format
and language bonuses) is credited to the last turn, r_i,T_i−1 += R_i − Σ_t r_it, so the per-turn rewards always sum
to R_i. "The group at turn t" is the set of trajectories that have a turn t.

- ``outcome`` (default, GRPO): A_it = R_i − mean_j R_j (÷ (std_j R_j + ε) with `normalize_std`), the same for every
  turn — exactly `group_advantages`.
- ``per_turn_discounted``: G_it = Σ_{t' ≥ t} γ^(t'−t) r_it' (the discounted return from turn t on), and
  A_it = G_it − mean_{j has turn t} G_jt (÷ (std + ε) at that turn index with `normalize_std`).
- ``turn_group_baseline``: A_it = r_it − mean_{j has turn t} r_jt (÷ (std + ε) likewise).

A turn index that only one trajectory of the group reaches has no baseline but itself, so its advantage is 0.
"""

from __future__ import annotations

from typing import Literal

import torch

from agentgym.api import Trajectory
from agentgym.rl.advantages import group_advantages

CreditMode = Literal["outcome", "per_turn_discounted", "turn_group_baseline"]
CREDIT_MODES = ("outcome", "per_turn_discounted", "turn_group_baseline")


def turn_rewards(trajectory: Trajectory, total: float) -> list[float]:
    """r_it of one trajectory, with the shaping difference `total − Σ_t r_it` credited to its last turn."""
    rewards = [float(turn.reward) for turn in trajectory.turns]
    if rewards:
        rewards[-1] += total - sum(rewards)
    return rewards


def discounted_returns(rewards: list[float], gamma: float) -> list[float]:
    """G_t = Σ_{t' ≥ t} γ^(t'−t) r_t'. Example: rewards [0, 1, 2], γ = 0.5 -> [1.0, 2.0, 2.0]."""
    out, running = [0.0] * len(rewards), 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def _baselined_by_turn(values: list[list[float]], normalize_std: bool, eps: float) -> list[list[float]]:
    """values[i][t] − mean over the trajectories j that have a turn t of values[j][t] (÷ std + eps)."""
    out = [list(v) for v in values]
    for t in range(max((len(v) for v in values), default=0)):
        rows = [i for i, v in enumerate(values) if len(v) > t]
        column = torch.tensor([values[i][t] for i in rows], dtype=torch.float64)
        centered = column - column.mean()
        if normalize_std:
            centered = centered / (column.std(unbiased=False) + eps)
        for i, a in zip(rows, centered.to(torch.float32).tolist()):
            out[i][t] = a
    return out


def turn_advantages(trajectories: list[Trajectory], totals: list[float], *, mode: CreditMode = "outcome",
                    gamma: float = 1.0, normalize_std: bool = False, eps: float = 1e-6) -> list[list[float]]:
    """Per-turn advantages A_it of one group (see the module docstring for the formulas).

    Args:
        trajectories: the group's G trajectories (their `turns` carry the per-turn env rewards).
        totals: R_i, the shaped total reward of each trajectory.
        mode: "outcome", "per_turn_discounted" or "turn_group_baseline".
        gamma: γ of `per_turn_discounted`.

    Returns:
        One list per trajectory with one advantage per turn.
    """
    if mode not in CREDIT_MODES:
        raise ValueError(f"credit mode must be one of {CREDIT_MODES}, got {mode!r}")
    if mode == "outcome":
        adv = group_advantages(torch.tensor([totals]), normalize_std=normalize_std, eps=eps)[0].tolist()
        return [[a] * len(t.turns) for t, a in zip(trajectories, adv)]
    rewards = [turn_rewards(t, r) for t, r in zip(trajectories, totals)]
    if mode == "per_turn_discounted":
        rewards = [discounted_returns(r, gamma) for r in rewards]
    return _baselined_by_turn(rewards, normalize_std, eps)
