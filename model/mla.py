"""DeepSeek multi-head latent attention with naive (expanded K/V) and absorbed (latent-only cache) paths."""

from __future__ import annotations

import torch
from torch import nn

from .kv_cache import LayerCache
from .config import ModelConfig
from .indexer import Indexer
from .layers import RMSNorm, Rotary, yarn_softmax_scale


class MLA(nn.Module):
    """Multi-head latent attention (DeepSeek-V3 `inference/model.py::MLA`).

    Keys and values come from a shared latent c = kv_norm(wkv_a(x)[:kv_lora_rank]) plus one rope key shared by all
    heads. `naive` expands c through wkv_b into per-head K/V and caches those; `absorb` folds wkv_b into the query
    and the output, so it caches only c and the rope key ((kv_lora_rank + rope) floats per token instead of
    n_heads * (nope + rope + v)). Both compute the same function.

    Attributes:
        wq_a: (q_lora_rank, dim), q_norm, wq_b: (n_heads * (nope + rope), q_lora_rank) -- or wq when q_lora_rank = 0.
        wkv_a: (kv_lora_rank + rope, dim); kv_norm: RMSNorm(kv_lora_rank);
        wkv_b: (n_heads * (nope + v), kv_lora_rank); wo: (dim, n_heads * v).
        indexer: the DSA lightning indexer when index_n_heads > 0.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.impl = cfg.n_heads, cfg.attn_impl
        self.nope, self.rope, self.v_dim = cfg.qk_nope_head_dim, cfg.qk_rope_head_dim, cfg.v_head_dim
        self.kv_rank = cfg.kv_lora_rank
        qk = self.nope + self.rope
        if cfg.q_lora_rank:
            self.wq_a = nn.Linear(cfg.dim, cfg.q_lora_rank, bias=False)
            self.q_norm = RMSNorm(cfg.q_lora_rank, cfg.norm_eps)
            self.wq_b = nn.Linear(cfg.q_lora_rank, self.n_heads * qk, bias=False)
        else:
            self.wq = nn.Linear(cfg.dim, self.n_heads * qk, bias=False)
        self.wkv_a = nn.Linear(cfg.dim, self.kv_rank + self.rope, bias=False)
        self.kv_norm = RMSNorm(self.kv_rank, cfg.norm_eps)
        self.wkv_b = nn.Linear(self.kv_rank, self.n_heads * (self.nope + self.v_dim), bias=False)
        self.wo = nn.Linear(self.n_heads * self.v_dim, cfg.dim, bias=False)
        self.rotary = Rotary(self.rope, cfg, interleaved=True)
        self.scale = yarn_softmax_scale(qk, cfg)
        self.indexer = Indexer(cfg) if cfg.index_n_heads else None

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor,
                cache: LayerCache | None = None, num_keys: int | None = None, aux: dict | None = None,
                impl: str | None = None, detach_indexer: bool = False) -> torch.Tensor:
        """x: (B, S, dim); positions: (B, S); mask: (B, S, T) bool -> (B, S, dim).

        `aux`, when given, receives lists "attn_probs" (B, S, H, T), "index_scores" (B, S, T) and "index_mask".
        """
        impl = impl or self.impl
        b, s, _ = x.shape
        if hasattr(self, "wq"):
            qr = None
            q = self.wq(x)
        else:
            qr = self.q_norm(self.wq_a(x))
            q = self.wq_b(qr)
        q_nope, q_pe = q.view(b, s, self.n_heads, -1).split([self.nope, self.rope], dim=-1)
        q_pe = self.rotary(q_pe, positions)
        latent, k_pe = self.wkv_a(x).split([self.kv_rank, self.rope], dim=-1)
        k_pe = self.rotary(k_pe.unsqueeze(2), positions).squeeze(2)
        latent = self.kv_norm(latent)
        if self.indexer is not None:
            ix, iq = (x.detach(), qr.detach()) if detach_indexer else (x, qr)
            index_scores = self.indexer(ix, iq, positions, mask, cache, num_keys)
            sparse = self.indexer.select(index_scores, mask)
            if aux is not None:
                aux.setdefault("index_scores", []).append(index_scores)
                aux.setdefault("index_mask", []).append(sparse)
            mask = sparse
        if impl == "naive":
            scores, v = self._naive_scores(q_nope, q_pe, latent, k_pe, positions, cache, num_keys)
        else:
            scores, wkv_b = self._absorb_scores(q_nope, q_pe, latent, k_pe, positions, cache, num_keys)
        scores = scores.masked_fill(~mask.unsqueeze(2), float("-inf"))
        probs = scores.float().softmax(dim=-1).to(x.dtype)
        if aux is not None:
            aux.setdefault("attn_probs", []).append(probs)
        if impl == "naive":
            out = torch.einsum("bsht,bthd->bshd", probs, v)
        else:
            latent_all = cache.read("kv", b, num_keys) if cache is not None else latent
            out = torch.einsum("bsht,btc->bshc", probs, latent_all)
            out = torch.einsum("bshc,hdc->bshd", out, wkv_b[:, -self.v_dim:])
        return self.wo(out.flatten(2))

    def _naive_scores(self, q_nope, q_pe, latent, k_pe, positions, cache, num_keys):
        b, s = latent.shape[:2]
        kv = self.wkv_b(latent).view(b, s, self.n_heads, self.nope + self.v_dim)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)
        k = torch.cat([k_nope, k_pe.unsqueeze(2).expand(-1, -1, self.n_heads, -1)], dim=-1)
        if cache is not None:
            cache.write("k", positions, k)
            cache.write("v", positions, v)
            k, v = cache.read("k", b, num_keys), cache.read("v", b, num_keys)
        q = torch.cat([q_nope, q_pe], dim=-1)
        return torch.einsum("bshd,bthd->bsht", q, k) * self.scale, v

    def _absorb_scores(self, q_nope, q_pe, latent, k_pe, positions, cache, num_keys):
        b = latent.shape[0]
        wkv_b = self.wkv_b.weight.view(self.n_heads, self.nope + self.v_dim, self.kv_rank)
        q_latent = torch.einsum("bshd,hdc->bshc", q_nope, wkv_b[:, :self.nope])
        if cache is not None:
            cache.write("kv", positions, latent)
            cache.write("pe", positions, k_pe)
            latent, k_pe = cache.read("kv", b, num_keys), cache.read("pe", b, num_keys)
        scores = torch.einsum("bshc,btc->bsht", q_latent, latent) + torch.einsum("bshr,btr->bsht", q_pe, k_pe)
        return scores * self.scale, wkv_b
