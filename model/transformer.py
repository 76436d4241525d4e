"""The Transformer: embedding, blocks, final norm, head, and optional MTP modules, with static-cache inference."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .block import Block
from .kv_cache import Cache
from .config import ModelConfig
from .layers import RMSNorm, causal_mask, linear
from .moe import Routing, sequence_balance_loss
from .mtp import MTPLayer
from .recompute import recompute


@dataclass(slots=True)
class ModelOutput:
    """What one forward pass returns.

    Attributes:
        logits: (B, S, V) fp32, or (B, V) when `logits_index` picked one position per row, or None.
        hidden: (B, S, dim) output of the last block, before the final norm (the MTP modules read it).
        routed_experts: (B, S, n_moe_layers, k) int64 expert ids of every token in every MoE layer, or None.
        routings: the per-MoE-layer Routing objects (weights, ids, unbiased scores) over the B*S tokens.
        aux: lists filled when `collect_aux=True` ("attn_probs", "index_scores", "index_mask" per MLA layer).
    """

    logits: torch.Tensor | None
    hidden: torch.Tensor
    routed_experts: torch.Tensor | None = None
    routings: list[Routing] = field(default_factory=list)
    aux: dict = field(default_factory=dict)


class Transformer(nn.Module):
    """Decoder-only LM for both families (DeepSeek: MLA + MoE + MTP + DSA; Llama: GQA + dense).

    Cache slots are indexed by position, so a batch may hold rows of different lengths without left padding:
    pass each row's positions and the attention mask is `key <= position`.

    Attributes:
        embed: (vocab, dim); layers: blocks; norm: final RMSNorm; head: (vocab, dim) or None when tied;
        mtp: MTP modules (depth n_mtp_layers), sharing embed and head.
        activation_checkpointing: when True, a cache-free forward under autograd keeps only each block's input and
            recomputes the block in backward (`recompute`; torch.utils.checkpoint for MoE blocks): less memory,
            about one more forward of compute.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if torch.empty(0).device.type == "meta":  # built for a loader: skip init (normal_ on meta imports dynamo)
            self.embed = nn.Embedding(cfg.vocab_size, cfg.dim, _weight=torch.empty(cfg.vocab_size, cfg.dim))
        else:
            self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
            nn.init.normal_(self.embed.weight, std=cfg.dim ** -0.5)
        self.layers = nn.ModuleList(Block(cfg, is_moe) for is_moe in cfg.is_moe_layer)
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.head = None if cfg.tie_embeddings else nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.mtp = nn.ModuleList(MTPLayer(cfg) for _ in range(cfg.n_mtp_layers))
        self.num_moe_layers = sum(cfg.is_moe_layer)
        self.activation_checkpointing = False  # recompute each block in backward instead of keeping its activations

    @property
    def output_weight(self) -> torch.Tensor:
        """(vocab, dim) head weight: the embedding when tied."""
        return self.embed.weight if self.head is None else self.head.weight

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm + head in fp32: (..., dim) -> (..., vocab)."""
        return linear(self.norm(hidden), self.output_weight).float()

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None, cache: Cache | None = None, *,
                num_keys: int | None = None, forced_experts: torch.Tensor | None = None,
                logits_index: torch.Tensor | None = None, compute_logits: bool = True, collect_aux: bool = False,
                attn_impl: str | None = None, detach_indexer: bool = False) -> ModelOutput:
        """Run the blocks.

        Args:
            tokens: (B, S) int64.
            positions: (B, S) int64 positions (= cache slots); default 0..S-1 for every row.
            cache: static cache whose first B rows this batch uses; None for a cache-free (training) pass.
            num_keys: keys visible this step (default max(positions) + 1 with a cache, S without).
            forced_experts: (B, S, n_moe_layers, k) recorded expert ids to route with (Keep Routing).
            logits_index: (B,) position index per row at which to compute logits -> logits (B, V).
            compute_logits: False returns hidden states only.
            collect_aux: fill `ModelOutput.aux` with attention probabilities and indexer scores.
            attn_impl: override MLA's "naive"/"absorb" for this call (the cache must match).
            detach_indexer: feed the DSA indexer detached inputs (sparse training stage).
        """
        b, s = tokens.shape
        if positions is None:
            positions = torch.arange(s, device=tokens.device).expand(b, s)
        if cache is None:
            num_keys = s
            mask = causal_mask(torch.arange(s, device=tokens.device).expand(b, s), s)
        else:
            num_keys = int(positions.max()) + 1 if num_keys is None else num_keys
            mask = causal_mask(positions, num_keys)
        aux: dict | None = {} if collect_aux else None
        x = self.embed(tokens)
        routings, moe_i = [], 0
        for i, layer in enumerate(self.layers):
            forced = None
            if forced_experts is not None and self.cfg.is_moe_layer[i]:
                forced = forced_experts[:, :, moe_i]
            args = (x, positions, mask, None if cache is None else cache.layers[i], num_keys, forced, aux, attn_impl,
                    detach_indexer)
            if self.activation_checkpointing and cache is None and aux is None and torch.is_grad_enabled():
                if self.cfg.is_moe_layer[i]:  # routing outputs: torch's checkpoint (imports torch._dynamo)
                    from torch.utils.checkpoint import checkpoint

                    x, routing = checkpoint(layer, *args, use_reentrant=False)
                else:  # dense block: recompute() keeps only x and does not import torch._dynamo
                    x, routing = recompute(lambda h, f=layer, a=args[1:]: f(h, *a)[0], x), None
            else:
                x, routing = layer(*args)
            if routing is not None:
                routings.append(routing)
                moe_i += 1
        routed = None
        if routings:
            routed = torch.stack([r.indices.view(b, s, -1) for r in routings], dim=2)
        logits = None
        if compute_logits:
            if logits_index is not None:
                logits = self.logits(x[torch.arange(b, device=x.device), logits_index])
            else:
                logits = self.logits(x)
        return ModelOutput(logits=logits, hidden=x, routed_experts=routed, routings=routings, aux=aux or {})

    def mtp_logits(self, hidden: torch.Tensor, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Depth-d logits (B, S - d, V), d = 1..D; position i of depth d predicts tokens[i + d + 1]."""
        out, h = [], hidden
        for d, layer in enumerate(self.mtp, start=1):
            h = layer(h[:, :-1], self.embed(tokens[:, d:]))
            out.append(F.linear(layer.norm(h), self.output_weight).float())
        return out

    def balance_loss(self, output: ModelOutput, batch: int) -> torch.Tensor:
        """Sum over MoE layers of the sequence-wise balance loss (alpha from the config)."""
        total = output.hidden.new_zeros(())
        for r in output.routings:
            total = total + sequence_balance_loss(r.scores.view(batch, -1, r.scores.shape[-1]),
                                                  r.indices.view(batch, -1, r.indices.shape[-1]),
                                                  self.cfg.seq_aux_loss_alpha)
        return total

    def new_cache(self, max_rows: int, max_len: int | None = None, dtype: torch.dtype | None = None,
                  attn_impl: str | None = None) -> Cache:
        """A zeroed static cache for this model (its dtype and device; MLA layout of `attn_impl` or the config's)."""
        p = self.embed.weight
        return Cache(self.cfg, max_rows, max_len or self.cfg.max_seq_len, dtype or p.dtype, p.device, attn_impl)


if __name__ == "__main__":
    from .config import get_preset

    torch.manual_seed(0)
    model = Transformer(get_preset("tiny")).eval()
    toks = torch.randint(0, model.cfg.vocab_size, (2, 12))
    out = model(toks)
    print("logits", tuple(out.logits.shape), "routed", tuple(out.routed_experts.shape))
