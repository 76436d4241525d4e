"""Multi-token prediction (DeepSeek-V3): D sequential modules sharing the main embedding and output head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .block import Block
from .config import ModelConfig
from .layers import RMSNorm, causal_mask


class MTPLayer(nn.Module):
    """Depth-d module: h_d[i] = Block(eh_proj([enorm(emb(t[i+d])); hnorm(h_{d-1}[i])])), then its own norm.

    The embedding comes first in the concatenation, as in the released weights (vLLM `deepseek_mtp.py`).

    Attributes:
        enorm, hnorm: RMSNorm(dim); eh_proj: (dim, 2 * dim); block: one full Block; norm: RMSNorm before the head.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.enorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.hnorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.eh_proj = nn.Linear(2 * cfg.dim, cfg.dim, bias=False)
        self.block = Block(cfg, is_moe=cfg.n_routed_experts > 0)
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, hidden: torch.Tensor, emb_next: torch.Tensor) -> torch.Tensor:
        """hidden: (B, S', dim) previous depth's states; emb_next: (B, S', dim) embeddings of the tokens d ahead."""
        b, s, _ = hidden.shape
        x = self.eh_proj(torch.cat([self.enorm(emb_next), self.hnorm(hidden)], dim=-1))
        positions = torch.arange(s, device=hidden.device).expand(b, s)
        x, _ = self.block(x, positions, causal_mask(positions, s))
        return x


def mtp_loss(mtp_logits: list[torch.Tensor], tokens: torch.Tensor, weight: float,
             loss_mask: torch.Tensor | None = None) -> torch.Tensor:
    """lambda / D * sum_d CE_d, where depth d's logits at i predict tokens[i + d + 1].

    Args:
        mtp_logits: D tensors, depth d (1-based) shaped (B, S - d, V).
        tokens: (B, S) the input tokens.
        loss_mask: optional (B, S) float/bool, 1 where a target token counts.
    """
    losses = []
    for d, logits in enumerate(mtp_logits, start=1):
        targets = tokens[:, d + 1:]
        pred = logits[:, : targets.shape[1]]
        ce = F.cross_entropy(pred.reshape(-1, pred.shape[-1]).float(), targets.reshape(-1), reduction="none")
        if loss_mask is None:
            losses.append(ce.mean())
        else:
            m = loss_mask[:, d + 1:].reshape(-1).float()
            losses.append((ce * m).sum() / m.sum().clamp_min(1.0))
    return weight * torch.stack(losses).mean()
