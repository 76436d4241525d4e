"""CPU path of absorbed MLA decode attention over the latent cache, dense or over a top-k (DSA) index set."""

from __future__ import annotations

import torch


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
    max_len = kv_cache.shape[1]
    if topk_indices is None:
        keys, pes = kv_cache, pe_cache
        valid = torch.arange(max_len, device=kv_cache.device)[None, :] < seq_lens[:, None]
    else:
        safe = topk_indices.clamp(min=0, max=max_len - 1)
        keys = torch.gather(kv_cache, 1, safe[..., None].expand(-1, -1, kv_cache.shape[2]))
        pes = torch.gather(pe_cache, 1, safe[..., None].expand(-1, -1, pe_cache.shape[2]))
        valid = (topk_indices >= 0) & (topk_indices < seq_lens[:, None])
    scores = (torch.einsum("bhc,btc->bht", q_latent, keys) + torch.einsum("bhr,btr->bht", q_pe, pes)) * scale
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    lse = torch.logsumexp(scores, dim=-1)
    finite_lse = torch.where(torch.isinf(lse), torch.zeros_like(lse), lse)
    probs = torch.exp(scores - finite_lse[..., None])
    return torch.einsum("bht,btc->bhc", probs, keys), lse
