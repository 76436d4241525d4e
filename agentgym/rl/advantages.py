"""Group-relative advantages: Â_i = R_i − mean(R_group), optionally ÷ (std(R_group) + ε) (GRPO / R1)."""

from __future__ import annotations

import torch


def group_advantages(rewards: torch.Tensor, *, normalize_std: bool = False, eps: float = 1e-6) -> torch.Tensor:
    """Advantages of a (num_groups, group_size) reward matrix, one row per prompt.

    Â_ij = R_ij − mean_j R_ij, and with `normalize_std` Â_ij /= (std_j R_ij + eps) where std is the population
    standard deviation (ddof = 0). Dr. GRPO argues against the std division (it up-weights near-solved prompts), so it
    is off by default.

    Example: rewards [[1, 0, 0, 1]] -> [[0.5, -0.5, -0.5, 0.5]] (std-normalized: [[1, -1, -1, 1]] up to eps).
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (num_groups, group_size), got shape {tuple(rewards.shape)}")
    rewards = rewards.to(torch.float64)
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if normalize_std:
        centered = centered / (rewards.std(dim=1, unbiased=False, keepdim=True) + eps)
    return centered.to(torch.float32)
