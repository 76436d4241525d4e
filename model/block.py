"""One pre-norm transformer block: attention (MLA or GQA) then MLP or MoE, each with a residual."""

from __future__ import annotations

import torch
from torch import nn

from .attention import GQA
from .kv_cache import LayerCache
from .config import ModelConfig
from .layers import MLP, RMSNorm
from .mla import MLA
from .moe import MoE, Routing


class Block(nn.Module):
    """x + attn(attn_norm(x)), then h + ffn(ffn_norm(h)).

    Attributes:
        attn: MLA (attn_type "mla") or GQA (attn_type "gqa").
        ffn: MLP for dense layers, MoE for the rest.
    """

    def __init__(self, cfg: ModelConfig, is_moe: bool) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = MLA(cfg) if cfg.attn_type == "mla" else GQA(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = MoE(cfg) if is_moe else MLP(cfg.dim, cfg.inter_dim)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                cache: LayerCache | None = None, num_keys: int | None = None,
                forced_indices: torch.Tensor | None = None, aux: dict | None = None,
                attn_impl: str | None = None, detach_indexer: bool = False) -> tuple[torch.Tensor, Routing | None]:
        """x: (B, S, dim) -> ((B, S, dim), the MoE routing or None)."""
        h = self.attn_norm(x)
        if isinstance(self.attn, MLA):
            h = self.attn(h, positions, mask, cache, num_keys, aux=aux, impl=attn_impl, detach_indexer=detach_indexer)
        else:
            h = self.attn(h, positions, mask, cache, num_keys)
        x = x + h
        if isinstance(self.ffn, MoE):
            y, routing = self.ffn(self.ffn_norm(x), forced_indices)
            return x + y, routing
        return x + self.ffn(self.ffn_norm(x)), None
