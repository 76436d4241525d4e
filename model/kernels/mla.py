"""CPU path of absorbed MLA decode attention over the latent cache, dense or over a top-k (DSA) index set."""

from __future__ import annotations

import torch


def gather_keys(
    kv_cache: torch.Tensor, pe_cache: torch.Tensor, seq_lens: torch.Tensor, topk_indices: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The keys each row attends to: ``(keys (B, K, C), pes (B, K, R), valid (B, K), slots (B, K) or None)``.

    Dense: K = T, the whole cache, valid where ``t < seq_lens[b]``. Top-k: K = index width, ``slots`` are the
    clamped cache positions the keys were gathered from (the backward scatters into them), and a slot is valid iff
    its id is ``>= 0`` and ``< seq_lens[b]``.
    """
    max_len = kv_cache.shape[1]
    if topk_indices is None:
        valid = torch.arange(max_len, device=kv_cache.device)[None, :] < seq_lens[:, None]
        return kv_cache, pe_cache, valid, None
    slots = topk_indices.clamp(min=0, max=max_len - 1)
    keys = torch.gather(kv_cache, 1, slots[..., None].expand(-1, -1, kv_cache.shape[2]))
    pes = torch.gather(pe_cache, 1, slots[..., None].expand(-1, -1, pe_cache.shape[2]))
    valid = (topk_indices >= 0) & (topk_indices < seq_lens[:, None])
    return keys, pes, valid, slots


def mla_decode_torch(
    q_latent: torch.Tensor,
    q_pe: torch.Tensor,
    kv_cache: torch.Tensor,
    pe_cache: torch.Tensor,
    seq_lens: torch.Tensor,
    *,
    scale: float,
    topk_indices: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Same contract as ``ref.mla_decode_ref``, batched. ``topk_indices`` rows must hold distinct ids (as top-k does)."""
    keys, pes, valid, _ = gather_keys(kv_cache, pe_cache, seq_lens, topk_indices)
    scores = (torch.einsum("bhc,btc->bht", q_latent, keys) + torch.einsum("bhr,btr->bht", q_pe, pes)) * scale
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    lse = torch.logsumexp(scores, dim=-1)
    finite_lse = torch.where(torch.isinf(lse), torch.zeros_like(lse), lse)
    probs = torch.exp(scores - finite_lse[..., None])
    return torch.einsum("bht,btc->bhc", probs, keys), lse


def mla_decode_backward(
    q_latent: torch.Tensor,
    q_pe: torch.Tensor,
    kv_cache: torch.Tensor,
    pe_cache: torch.Tensor,
    seq_lens: torch.Tensor,
    lse: torch.Tensor,
    grad_out: torch.Tensor | None,
    grad_lse: torch.Tensor | None,
    *,
    scale: float,
    topk_indices: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (q_latent, q_pe, kv_cache, pe_cache) of MLA decode, from the forward's ``lse``; the Triton backward.

    Recomputes the probabilities ``p = exp(s - lse)`` from the inputs (nothing else is kept from forward) and applies,
    with ``dp_t = g_out·kv_t`` and ``D = Σ_t p_t dp_t`` (= g_out·out), the softmax-attention backward
    ``ds_t = p_t (dp_t - D + g_lse)``; then ``dq = scale·Σ_t ds_t kv_t``, ``dq_pe = scale·Σ_t ds_t pe_t``,
    ``dkv_t = Σ_h (p_ht g_out_h + scale·ds_ht q_h)``, ``dpe_t = scale·Σ_h ds_ht q_pe_h``. Top-k keys scatter-add
    back into their cache slots. Rows with no valid key (lse = -inf) get p = 0, hence zero gradients.
    Computes in fp32 (fp64 for fp64 inputs) and returns each gradient in its input's dtype.
    """
    dtype = torch.promote_types(q_latent.dtype, torch.float32)
    q, qpe, kv, pe = (t.to(dtype) for t in (q_latent, q_pe, kv_cache, pe_cache))
    keys, pes, valid, slots = gather_keys(kv, pe, seq_lens, topk_indices)
    # Zero the keys no row may read (past seq_len, padding slots): the kernel never loads them, so stale or NaN cache
    # entries there must not leak into the gradients through 0·NaN.
    keys, pes = (torch.where(valid[..., None], t, 0.0) for t in (keys, pes))
    lse = lse.to(dtype)
    scores = (torch.einsum("bhc,btc->bht", q, keys) + torch.einsum("bhr,btr->bht", qpe, pes)) * scale
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    finite_lse = torch.where(torch.isinf(lse), torch.zeros_like(lse), lse)
    probs = torch.exp(scores - finite_lse[..., None])
    g_out = grad_out.to(dtype) if grad_out is not None else torch.zeros_like(q)
    g_lse = grad_lse.to(dtype) if grad_lse is not None else torch.zeros_like(lse)
    d_probs = torch.einsum("bhc,btc->bht", g_out, keys)
    d_scores = probs * (d_probs - (probs * d_probs).sum(-1, keepdim=True) + g_lse[..., None]) * scale
    grad_q = torch.einsum("bht,btc->bhc", d_scores, keys)
    grad_qpe = torch.einsum("bht,btr->bhr", d_scores, pes)
    grad_keys = torch.einsum("bht,bhc->btc", probs, g_out) + torch.einsum("bht,bhc->btc", d_scores, q)
    grad_pes = torch.einsum("bht,bhr->btr", d_scores, qpe)
    if slots is not None:
        grad_keys = torch.zeros_like(kv).scatter_add_(1, slots[..., None].expand_as(grad_keys), grad_keys)
        grad_pes = torch.zeros_like(pe).scatter_add_(1, slots[..., None].expand_as(grad_pes), grad_pes)
    return (grad_q.to(q_latent.dtype), grad_qpe.to(q_pe.dtype), grad_keys.to(kv_cache.dtype),
            grad_pes.to(pe_cache.dtype))
