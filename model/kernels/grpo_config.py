"""Configuration and output types of the GRPO/PPO loss kernels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

AGGREGATIONS = ("token_mean", "sequence_mean", "dr_grpo")
IMPORTANCE_LEVELS = ("token", "sequence")


@dataclass(kw_only=True, slots=True)
class GRPOLossConfig:
    """The knobs of the clipped-surrogate GRPO/PPO loss over per-token logprobs.

    Per token t of sequence i, with ``r = π_θ/π_old`` (per token, or the GSPO sequence ratio), the loss is
    ``-min(r·A_i, clip(r, 1-clip_low, 1+clip_high)·A_i) · M_i + β_i · (π_θ/π_old)(π_ref/π_θ - log(π_ref/π_θ) - 1)``,
    masked by the loss mask and aggregated as ``aggregation`` says. ``M_i`` is the off-policy sequence mask. With
    per-token advantages (B, T) (turn-level credit) ``A_i`` becomes ``A_it``, and ``M_i`` reads the sign of the mean
    of ``A_it`` over the sequence's loss tokens.
    """

    clip_low: float = 0.2
    """ε_low: the ratio is clipped from below at 1 - clip_low."""
    clip_high: float = 0.28
    """ε_high: the ratio is clipped from above at 1 + clip_high (DAPO's clip-higher when > clip_low)."""
    aggregation: Literal["token_mean", "sequence_mean", "dr_grpo"] = "token_mean"
    """token_mean: Σ loss / Σ tokens over the batch (DAPO). sequence_mean: mean over sequences of each sequence's token
    mean (original GRPO). dr_grpo: Σ loss / (num_seqs · max_tokens), a constant normalizer (Dr. GRPO)."""
    importance_level: Literal["token", "sequence"] = "token"
    """token: PPO per-token ratios. sequence: GSPO, r_i = exp(mean_t log(π_θ/π_old)) shared by the sequence's tokens."""
    off_policy_threshold: float | None = None
    """δ: mask a whole sequence's surrogate iff A_i < 0 (per-token advantages: their mean over the loss tokens) and
    mean_t log(π_old/π_θ) > δ (DeepSeek-V3.2). None = off."""
    max_tokens: int | None = None
    """The Dr. GRPO normalizer; None uses the padded width T of the batch."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.clip_low < 1.0:
            raise ValueError(f"clip_low must be in [0, 1), got {self.clip_low}")
        if self.clip_high < 0.0:
            raise ValueError(f"clip_high must be >= 0, got {self.clip_high}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.importance_level not in IMPORTANCE_LEVELS:
            raise ValueError(f"importance_level must be one of {IMPORTANCE_LEVELS}, got {self.importance_level!r}")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive or None, got {self.max_tokens}")


@dataclass(kw_only=True, slots=True)
class GRPOLossOutput:
    """The scalar loss (differentiable) and detached scalar metrics.

    metrics keys: ``clip_fraction`` (share of loss tokens whose clipped branch is active), ``kl`` (token mean of the
    KL estimate; 0 without reference logprobs), ``masked_fraction`` (share of non-empty sequences removed by the
    off-policy mask), ``entropy`` (token mean of the given entropies; 0 without them).
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
