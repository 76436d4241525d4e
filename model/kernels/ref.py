"""Pure-PyTorch oracles for every kernel, written straight from the formulas; slow, obvious and never dispatched by default."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .grpo_config import GRPOLossConfig, GRPOLossOutput
from .support import support_mask_chunk


def linear_logprob_ref(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    *,
    temperature: float = 1.0,
    support: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log_softmax(h Wᵀ / τ)[target]`` and the entropy, over the full materialized ``(N, V)`` logits.

    ``support`` is a padded ``(N, K)`` id tensor (see ``support.normalize_support``); off-support logits become -inf,
    so both outputs describe the renormalized sampling distribution. Computes in fp32 (fp64 for fp64 inputs).
    """
    dtype = torch.promote_types(hidden.dtype, torch.float32)
    logits = (hidden.to(dtype) @ weight.to(dtype).T) / temperature
    if support is not None:
        inside = support_mask_chunk(support, weight.shape[0])
        logits = logits.masked_fill(~inside, float("-inf"))
    logp = torch.log_softmax(logits, dim=-1)
    logprob = logp.gather(1, targets[:, None]).squeeze(1)
    finite_logp = logp if support is None else logp.masked_fill(~inside, 0.0)
    entropy = -(logp.exp() * finite_logp).sum(dim=-1)
    return logprob, entropy


def grpo_loss_ref(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    config: GRPOLossConfig,
    ref_logprobs: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
) -> GRPOLossOutput:
    """The GRPO/PPO loss one sequence at a time, each term as written in the papers (see ``GRPOLossConfig``).

    ``advantages`` is (B,) or (B, T); with (B, T) the off-policy mask uses the sign of the mean advantage over the
    sequence's loss tokens.
    """
    num_seqs, max_len = logprobs.shape
    betas = beta if beta is not None else torch.zeros((num_seqs,), dtype=logprobs.dtype)
    seq_sums, seq_counts, kept = [], [], []
    num_clipped, kl_sum, entropy_sum = 0, logprobs.new_zeros(()), logprobs.new_zeros(())
    for i in range(num_seqs):
        m = loss_mask[i].bool()
        lp, old = logprobs[i][m], old_logprobs[i][m]
        adv = advantages[i] if advantages.dim() == 1 else advantages[i][m]
        n = int(m.sum())
        if n == 0:
            continue
        sequence_adv = float(adv) if advantages.dim() == 1 else float(adv.mean())
        token_log_ratio = lp - old
        log_ratio = token_log_ratio.mean().expand(n) if config.importance_level == "sequence" else token_log_ratio
        ratio = torch.exp(log_ratio)
        clipped = torch.clamp(ratio, 1 - config.clip_low, 1 + config.clip_high)
        surrogate = -torch.minimum(ratio * adv, clipped * adv)
        is_masked = (
            config.off_policy_threshold is not None
            and sequence_adv < 0
            and float((old - lp.detach()).mean()) > config.off_policy_threshold
        )
        token_loss = surrogate * (0.0 if is_masked else 1.0)
        if ref_logprobs is not None:
            ref = ref_logprobs[i][m]
            kl = torch.exp(lp - old) * (torch.exp(ref - lp) - (ref - lp) - 1)
            token_loss = token_loss + betas[i] * kl
            kl_sum = kl_sum + kl.detach().sum()
        if entropy is not None:
            entropy_sum = entropy_sum + entropy[i][m].detach().sum()
        num_clipped += int((((ratio < 1 - config.clip_low) & (adv < 0)) | ((ratio > 1 + config.clip_high) & (adv > 0))).sum())
        seq_sums.append(token_loss.sum())
        seq_counts.append(n)
        kept.append(not is_masked)
    num_tokens = sum(seq_counts)
    if num_tokens == 0:
        loss = (logprobs * 0).sum()
    elif config.aggregation == "token_mean":
        loss = torch.stack(seq_sums).sum() / num_tokens
    elif config.aggregation == "sequence_mean":
        loss = torch.stack([s / n for s, n in zip(seq_sums, seq_counts)]).sum() / num_seqs
    else:
        loss = torch.stack(seq_sums).sum() / (num_seqs * (config.max_tokens or max_len))
    denom = max(num_tokens, 1)
    metrics = {
        "clip_fraction": torch.tensor(num_clipped / denom),
        "kl": kl_sum / denom,
        "masked_fraction": torch.tensor(kept.count(False) / max(len(kept), 1)),
        "entropy": entropy_sum / denom,
    }
    return GRPOLossOutput(loss=loss, metrics=metrics)


def moe_swiglu_ref(
    x: torch.Tensor,
    expert_ids: torch.Tensor,
    expert_weights: torch.Tensor,
    w_gate: torch.Tensor,
    w_up: torch.Tensor,
    w_down: torch.Tensor,
) -> torch.Tensor:
    """Routed SwiGLU experts, one expert at a time (the DeepSeek-V3 ``MoE.forward`` loop).

    Shapes: x (N, D); expert_ids, expert_weights (N, k); w_gate, w_up (E, F, D); w_down (E, D, F). Returns (N, D):
    ``y_n = Σ_j w_nj · W_down[e_nj] (silu(W_gate[e_nj] x_n) ⊙ W_up[e_nj] x_n)``.
    """
    y = torch.zeros_like(x)
    for e in range(w_gate.shape[0]):
        rows, slots = torch.where(expert_ids == e)
        if rows.numel() == 0:
            continue
        h = x[rows]
        out = (F.silu(h @ w_gate[e].T) * (h @ w_up[e].T)) @ w_down[e].T
        y = y.index_add(0, rows, out * expert_weights[rows, slots, None])
    return y


def mla_decode_ref(
    q_latent: torch.Tensor,
    q_pe: torch.Tensor,
    kv_cache: torch.Tensor,
    pe_cache: torch.Tensor,
    seq_lens: torch.Tensor,
    *,
    scale: float,
    topk_indices: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absorbed MLA decode for one query token per row, one row at a time.

    ``scores[h, t] = (q_latent[h]·kv[t] + q_pe[h]·pe[t]) · scale`` over the keys ``t < seq_lens[b]`` (intersected with
    ``topk_indices[b]`` when given, ``-1`` = unused slot); ``out = softmax(scores) @ kv``; ``lse = logsumexp(scores)``.
    A row with no valid key gives out = 0 and lse = -inf. Shapes: q_latent (B, H, C), q_pe (B, H, R),
    kv_cache (B, T, C), pe_cache (B, T, R), seq_lens (B,), topk_indices (B, K). Returns out (B, H, C), lse (B, H).
    """
    num_rows, num_heads, _ = q_latent.shape
    max_len = kv_cache.shape[1]
    outs, lses = [], []
    for b in range(num_rows):
        valid = torch.arange(max_len, device=kv_cache.device) < seq_lens[b]
        if topk_indices is not None:
            chosen = torch.zeros(max_len + 1, dtype=torch.bool, device=kv_cache.device)
            idx = topk_indices[b]
            chosen[torch.where(idx < 0, max_len, idx)] = True
            valid = valid & chosen[:max_len]
        if not bool(valid.any()):
            outs.append(q_latent.new_zeros(num_heads, kv_cache.shape[2]))
            lses.append(q_latent.new_full((num_heads,), float("-inf")))
            continue
        kv, pe = kv_cache[b][valid], pe_cache[b][valid]
        scores = (q_latent[b] @ kv.T + q_pe[b] @ pe.T) * scale
        outs.append(torch.softmax(scores, dim=-1) @ kv)
        lses.append(torch.logsumexp(scores, dim=-1))
    return torch.stack(outs), torch.stack(lses)
