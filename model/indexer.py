"""DeepSeek-V3.2 lightning indexer (DSA): cheap ReLU-weighted scores pick the top-k keys MLA may attend to."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .kv_cache import LayerCache
from .config import ModelConfig
from .layers import Rotary


class Indexer(nn.Module):
    """Index score I[t, s] = sum_h w[t, h] * ReLU(q[t, h] . k[s]), one shared key per token.

    The rope part comes first in both q and k (the reverse of MLA) and uses the NeoX (non-interleaved) rotation.
    The V3.2 Hadamard rotation is orthonormal and only serves FP8 quantization, so fp32/bf16 code skips it.

    Attributes:
        wq_b: (index_n_heads * index_head_dim, q_lora_rank), reading MLA's normed query latent.
        wk: (index_head_dim, dim); k_norm: LayerNorm(index_head_dim) with bias; weights_proj: (index_n_heads, dim).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not cfg.q_lora_rank:
            raise ValueError("Indexer needs ModelConfig.q_lora_rank > 0 (it reads the query latent)")
        self.n_heads, self.head_dim, self.rope_dim = cfg.index_n_heads, cfg.index_head_dim, cfg.qk_rope_head_dim
        self.topk = cfg.index_topk
        self.wq_b = nn.Linear(cfg.q_lora_rank, self.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, self.head_dim, bias=False)
        self.k_norm = nn.LayerNorm(self.head_dim)
        self.weights_proj = nn.Linear(cfg.dim, self.n_heads, bias=False)
        self.rotary = Rotary(self.rope_dim, cfg, interleaved=False)
        self.scale = self.head_dim ** -0.5 * self.n_heads ** -0.5

    def _rope_first(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        pe, nope = x.split([self.rope_dim, self.head_dim - self.rope_dim], dim=-1)
        return torch.cat([self.rotary(pe, positions), nope], dim=-1)

    def forward(self, x: torch.Tensor, qr: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                cache: LayerCache | None = None, num_keys: int | None = None) -> torch.Tensor:
        """x: (B, S, dim); qr: (B, S, q_lora_rank) -> index scores (B, S, T), -inf where `mask` is False."""
        b, s, _ = x.shape
        q = self._rope_first(self.wq_b(qr).view(b, s, self.n_heads, self.head_dim), positions)
        k = self._rope_first(self.k_norm(self.wk(x)).unsqueeze(2), positions).squeeze(2)
        if cache is not None:
            cache.write("ik", positions, k)
            k = cache.read("ik", b, num_keys)
        w = self.weights_proj(x) * self.scale
        scores = torch.einsum("bshd,btd->bsht", q.float(), k.float()).relu()
        scores = torch.einsum("bsht,bsh->bst", scores, w.float())
        return scores.masked_fill(~mask, float("-inf"))

    def select(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, S, T) scores -> bool (B, S, T): the top-k keys of each query, intersected with `mask`.

        Ties (common: ReLU zeroes every head's term) go to the earlier key via a stable sort, so the engine's
        cached decode and a teacher-forced pass over a different number of keys select the same set.
        """
        k = min(self.topk, scores.shape[-1])
        top = scores.sort(dim=-1, descending=True, stable=True)[1][..., :k]
        chosen = torch.zeros_like(mask).scatter_(-1, top, True)
        return chosen & mask


def indexer_kl_loss(attn_probs: torch.Tensor, index_scores: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """KL(p_t || softmax(I_t)) averaged over queries: the DSA indexer training loss.

    p_t is the main attention summed over heads and L1-normalized over `support`; it is a detached target, so the
    indexer learns only from this loss. Dense warm-up: `support` is the causal mask. Sparse stage: `support` is the
    selected top-k set (and the indexer's inputs are detached by the caller, `Transformer(detach_indexer=True)`).

    Args:
        attn_probs: (B, S, H, T) main attention probabilities.
        index_scores: (B, S, T) indexer scores.
        support: (B, S, T) bool.
    """
    p = attn_probs.detach().float().sum(dim=2).masked_fill(~support, 0.0)
    p = p / p.sum(dim=-1, keepdim=True).clamp_min(1e-20)
    log_q = F.log_softmax(index_scores.float().masked_fill(~support, float("-inf")), dim=-1)
    log_q = log_q.masked_fill(~support, 0.0)
    kl = p * (p.clamp_min(1e-20).log() - log_q)
    return kl.sum(dim=-1).mean()
