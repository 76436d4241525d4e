"""The GRPO/PPO loss over per-token logprobs as a pure function; the per-token part is a swappable kernel."""

from __future__ import annotations

from typing import Callable

import torch

from .grpo_config import GRPOLossConfig, GRPOLossOutput

TokenLossKernel = Callable[..., torch.Tensor]
"""``(log_ratio, logprobs, old_logprobs, ref_logprobs, advantages, keep, betas, weights, clip_low, clip_high) ->
(B, T)`` weighted per-token loss; see ``token_loss_torch`` for the exact contract."""


def token_loss_torch(
    log_ratio: torch.Tensor,
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    keep: torch.Tensor,
    betas: torch.Tensor,
    weights: torch.Tensor,
    clip_low: float,
    clip_high: float,
) -> torch.Tensor:
    """CPU kernel: ``weights · (-min(r·A, clip(r)·A)·keep + β·(π_θ/π_old)(π_ref/π_θ - log(π_ref/π_θ) - 1))``.

    Shapes: log_ratio, logprobs, old_logprobs, ref_logprobs, weights (B, T); keep, betas (B,); advantages (B,) or
    (B, T) (per-token advantages, turn-level credit). ``log_ratio`` is the ratio used by the surrogate (per token, or
    the GSPO sequence ratio broadcast over T).
    """
    ratio = torch.exp(log_ratio)
    adv = _per_token(advantages)
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    loss = -torch.minimum(ratio * adv, clipped * adv) * keep[:, None].to(ratio.dtype)
    if ref_logprobs is not None:
        diff = ref_logprobs - logprobs
        loss = loss + betas[:, None] * torch.exp(logprobs - old_logprobs) * (torch.exp(diff) - diff - 1)
    return loss * weights


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    config: GRPOLossConfig,
    token_loss: TokenLossKernel,
    ref_logprobs: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
) -> GRPOLossOutput:
    """Clipped-surrogate GRPO/PPO loss with optional GSPO ratios, unbiased KL, off-policy masking and a loss mask.

    Args:
        logprobs: (B, T) π_θ logprobs of the sampled tokens, differentiable.
        old_logprobs: (B, T) logprobs under the sampling policy π_old.
        advantages: (B,) one advantage per sequence, or (B, T) one per token (turn-level credit). With (B, T) the
            off-policy mask reads the sign of the sequence's mean advantage over its loss tokens.
        loss_mask: (B, T) bool or 0/1; 0 for padding, prompt and tool-output tokens.
        config: the loss knobs.
        token_loss: the per-token kernel chosen by the dispatcher.
        ref_logprobs: (B, T) reference-policy logprobs; the KL term is added only when given.
        beta: (B,) per-sample KL coefficients β_i (the trainer's per-env `kl_beta`); None: no KL term.
        entropy: (B, T) per-token entropies, only averaged into the metrics.

    Returns:
        GRPOLossOutput with the scalar loss and the metrics listed on that class.
    """
    mask, counts, log_ratio, keep = _sequence_terms(logprobs, old_logprobs, advantages, loss_mask, config)
    weights = _aggregation_weights(mask, counts, config)
    betas = beta.to(logprobs.dtype) if beta is not None else logprobs.new_zeros((logprobs.shape[0],))
    per_token = token_loss(
        log_ratio, logprobs, old_logprobs, ref_logprobs, advantages.to(logprobs.dtype), keep, betas, weights,
        config.clip_low, config.clip_high,
    )
    metrics = grpo_metrics(logprobs.detach(), old_logprobs, advantages, loss_mask, config=config,
                           ref_logprobs=ref_logprobs, entropy=entropy)
    return GRPOLossOutput(loss=per_token.sum(), metrics=metrics)


def _per_token(advantages: torch.Tensor) -> torch.Tensor:
    """(B, 1) for per-sequence advantages (broadcast over T), the (B, T) tensor itself for per-token ones."""
    return advantages[:, None] if advantages.dim() == 1 else advantages


def sequence_advantages(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) advantage per sequence: itself, or for (B, T) advantages the mean over the sequence's loss tokens."""
    if advantages.dim() == 1:
        return advantages
    mask = mask.to(advantages.dtype)
    return (advantages * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def _sequence_terms(logprobs, old_logprobs, advantages, loss_mask, config):
    """The float mask, tokens per sequence, the surrogate's log-ratio (token or GSPO) and the off-policy keep flags."""
    mask = loss_mask.to(logprobs.dtype)
    num_seqs, max_len = logprobs.shape
    counts = mask.sum(dim=1)
    token_log_ratio = logprobs - old_logprobs
    if config.importance_level == "sequence":
        seq_log_ratio = (token_log_ratio * mask).sum(dim=1) / counts.clamp(min=1)
        log_ratio = seq_log_ratio[:, None].expand(num_seqs, max_len)
    else:
        log_ratio = token_log_ratio
    keep = torch.ones(num_seqs, dtype=torch.bool, device=logprobs.device)
    if config.off_policy_threshold is not None:
        mean_stale = -(token_log_ratio.detach() * mask).sum(dim=1) / counts.clamp(min=1)
        keep = ~((sequence_advantages(advantages, mask) < 0) & (mean_stale > config.off_policy_threshold))
    return mask, counts, log_ratio, keep


def _aggregation_weights(mask: torch.Tensor, counts: torch.Tensor, config: GRPOLossConfig) -> torch.Tensor:
    """Per-token weights whose dot product with the per-token loss is the aggregated loss."""
    num_seqs, max_len = mask.shape
    if config.aggregation == "token_mean":
        return mask / counts.sum().clamp(min=1)
    if config.aggregation == "sequence_mean":
        return mask / (counts.clamp(min=1)[:, None] * num_seqs)
    return mask / (num_seqs * (config.max_tokens or max_len))


def grpo_metrics(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    config: GRPOLossConfig,
    ref_logprobs: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Detached scalar metrics (see ``GRPOLossOutput``): token means over the loss mask, masked_fraction per sequence."""
    with torch.no_grad():
        mask, counts, log_ratio, keep = _sequence_terms(logprobs, old_logprobs, advantages, loss_mask, config)
        num_tokens = mask.sum().clamp(min=1)
        ratio = torch.exp(log_ratio)
        adv = _per_token(advantages)
        clipped = ((ratio < 1 - config.clip_low) & (adv < 0)) | ((ratio > 1 + config.clip_high) & (adv > 0))
        zero = mask.new_zeros(())
        kl = zero
        if ref_logprobs is not None:
            diff = ref_logprobs - logprobs
            kl = (torch.exp(logprobs - old_logprobs) * (torch.exp(diff) - diff - 1) * mask).sum() / num_tokens
        non_empty = counts > 0
        masked = (~keep & non_empty).sum().to(mask.dtype) / non_empty.sum().clamp(min=1)
        return {
            "clip_fraction": (clipped.to(mask.dtype) * mask).sum() / num_tokens,
            "kl": kl,
            "masked_fraction": masked,
            "entropy": (entropy * mask).sum() / num_tokens if entropy is not None else zero,
        }
