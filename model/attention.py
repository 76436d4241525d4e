"""Llama grouped-query attention (SmolLM2, Qwen2/3, Mistral) over the static KV cache."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .kv_cache import LayerCache
from .config import ModelConfig
from .layers import Linear, RMSNorm, Rotary, fusable, fused_linear


class GQA(nn.Module):
    """Grouped-query attention with NeoX rotary embeddings (HF Llama's `rotate_half` convention).

    Attributes:
        wq: (n_heads * head_dim, dim); wk, wv: (n_kv_heads * head_dim, dim); wo: (dim, n_heads * head_dim);
            biased when `cfg.qkv_bias` / `cfg.o_bias`.
        q_head_norm, k_head_norm: RMSNorm(head_dim) applied per head before rope (Qwen3, `cfg.qk_norm`), or None.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_size
        self.wq = Linear(cfg.dim, self.n_heads * self.head_dim, bias=cfg.qkv_bias)
        self.wk = Linear(cfg.dim, self.n_kv_heads * self.head_dim, bias=cfg.qkv_bias)
        self.wv = Linear(cfg.dim, self.n_kv_heads * self.head_dim, bias=cfg.qkv_bias)
        self.wo = Linear(self.n_heads * self.head_dim, cfg.dim, bias=cfg.o_bias)
        self.q_head_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.k_head_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.rotary = Rotary(self.head_dim, cfg, interleaved=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                cache: LayerCache | None = None, num_keys: int | None = None) -> torch.Tensor:
        """x: (B, S, dim); positions: (B, S); mask: (B, S, T) bool, T = num_keys (cache) or S -> (B, S, dim)."""
        b, s, _ = x.shape
        projections = (self.wq, self.wk, self.wv)
        fused = fused_linear(x, tuple(m.weight for m in projections)) if fusable(*projections) else None
        q, k, v = fused if fused is not None else (self.wq(x), self.wk(x), self.wv(x))
        q, k = q.view(b, s, self.n_heads, self.head_dim), k.view(b, s, self.n_kv_heads, self.head_dim)
        if self.q_head_norm is not None:
            q, k = self.q_head_norm(q), self.k_head_norm(k)
        q, k = self.rotary(q, positions), self.rotary(k, positions)
        v = v.view(b, s, self.n_kv_heads, self.head_dim)
        if cache is not None:
            cache.write("k", positions, k)
            cache.write("v", positions, v)
            k, v = cache.read("k", b, num_keys), cache.read("v", b, num_keys)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=mask.unsqueeze(1), enable_gqa=True)
        return self.wo(out.transpose(1, 2).reshape(b, s, -1))

    def fused_groups(self) -> list[tuple[torch.Tensor, ...]]:
        """Weights an engine may pack stacked for `fused_linear` (q with k and v)."""
        projections = (self.wq, self.wk, self.wv)
        return [tuple(m.weight for m in projections)] if fusable(*projections) else []
