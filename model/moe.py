"""DeepSeek-V3 mixture of experts: sigmoid gate with group-limited routing, experts (loop | grouped), balancing."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import MLP


@dataclass(slots=True)
class Routing:
    """The gate's decision for N tokens.

    Attributes:
        weights: (N, k) combine weights (normalized, times route_scale), from the *unbiased* scores.
        indices: (N, k) int64 expert ids.
        scores: (N, E) fp32 affinities before the bias (for the sequence-wise balance loss).
    """

    weights: torch.Tensor
    indices: torch.Tensor
    scores: torch.Tensor


class Gate(nn.Module):
    """Router of DeepSeek-V3 (`inference/model.py::Gate`), with the bias as a config flag and Keep Routing.

    Selection uses `scores + bias`; groups of experts are ranked by the sum of their top-2 biased scores and all
    experts outside the best `n_limited_groups` groups are masked with -inf (HF masks with 0.0, which picks masked
    experts when biases are negative). The combine weights are the unbiased scores of the chosen experts,
    normalized to sum 1 (sigmoid) and multiplied by `route_scale`.

    Attributes:
        weight: (E, dim) router matrix.
        bias: (E,) fp32 non-gradient buffer, the auxiliary-loss-free balancing bias (absent when disabled).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.topk = cfg.n_activated_experts
        self.n_groups = cfg.n_expert_groups
        self.topk_groups = cfg.n_limited_groups
        self.score_func = cfg.score_func
        self.route_scale = cfg.route_scale
        self.weight = nn.Parameter(torch.empty(cfg.n_routed_experts, cfg.dim))
        nn.init.normal_(self.weight, std=cfg.dim ** -0.5)
        self.bias: torch.Tensor | None
        if cfg.use_expert_bias:
            self.register_buffer("bias", torch.zeros(cfg.n_routed_experts, dtype=torch.float32))
        else:
            self.bias = None

    def forward(self, x: torch.Tensor, forced_indices: torch.Tensor | None = None) -> Routing:
        """x: (N, dim); forced_indices: optional (N, k) recorded expert ids to reuse instead of selecting."""
        logits = F.linear(x.float(), self.weight.float())
        scores = logits.sigmoid() if self.score_func == "sigmoid" else logits.softmax(dim=-1)
        if forced_indices is None:
            indices = self.select(scores)
        else:
            indices = forced_indices.long()
        weights = scores.gather(1, indices)
        if self.score_func == "sigmoid":
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = (weights * self.route_scale).to(x.dtype)
        return Routing(weights=weights, indices=indices, scores=scores)

    @torch.no_grad()
    def select(self, scores: torch.Tensor) -> torch.Tensor:
        """(N, E) unbiased scores -> (N, k) expert ids chosen on the biased, group-limited scores."""
        biased = scores if self.bias is None else scores + self.bias
        if self.n_groups > 1:
            grouped = biased.view(scores.shape[0], self.n_groups, -1)
            group_scores = grouped.topk(2, dim=-1)[0].sum(dim=-1)
            keep = group_scores.topk(self.topk_groups, dim=-1)[1]
            drop = torch.ones_like(group_scores, dtype=torch.bool).scatter_(1, keep, False)
            biased = grouped.masked_fill(drop.unsqueeze(-1), float("-inf")).flatten(1)
        return biased.topk(self.topk, dim=-1)[1]


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient contiguous (grouped_mm rejects zero strides)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


class Experts(nn.Module):
    """E routed SwiGLU experts stored as stacked 3-D weights, so both backends share one parameter layout.

    Attributes:
        w1, w3: (E, moe_inter_dim, dim) gate and up projections; w2: (E, dim, moe_inter_dim) down projection.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        e, d, h = cfg.n_routed_experts, cfg.dim, cfg.moe_inter_dim
        self.backend = cfg.moe_backend
        self.w1 = nn.Parameter(torch.randn(e, h, d) * d ** -0.5)
        self.w2 = nn.Parameter(torch.randn(e, d, h) * h ** -0.5)
        self.w3 = nn.Parameter(torch.randn(e, h, d) * d ** -0.5)

    def forward(self, x: torch.Tensor, routing: Routing, backend: str | None = None) -> torch.Tensor:
        """x: (N, dim) -> (N, dim) = sum_k weight_k * expert_{index_k}(x)."""
        backend = backend or self.backend
        if backend == "grouped" and self.can_group(x):
            return self.forward_grouped(x, routing)
        return self.forward_loop(x, routing)

    def can_group(self, x: torch.Tensor) -> bool:
        """grouped_mm needs 16-byte aligned row strides on both operands."""
        align = 16 // x.element_size()
        return hasattr(F, "grouped_mm") and x.shape[-1] % align == 0 and self.w1.shape[1] % align == 0

    def forward_loop(self, x: torch.Tensor, routing: Routing) -> torch.Tensor:
        """One matmul per expert that received tokens (DeepSeek-V3's `MoE.forward`)."""
        out = torch.zeros_like(x)
        counts = torch.bincount(routing.indices.flatten(), minlength=self.w1.shape[0]).tolist()
        for e, count in enumerate(counts):
            if count == 0:
                continue
            rows, slot = torch.where(routing.indices == e)
            h = F.silu(x[rows] @ self.w1[e].T) * (x[rows] @ self.w3[e].T)
            out.index_add_(0, rows, (h @ self.w2[e].T) * routing.weights[rows, slot, None])
        return out

    def forward_grouped(self, x: torch.Tensor, routing: Routing) -> torch.Tensor:
        """Sort the (token, slot) pairs by expert and run each weight as one grouped matmul."""
        k = routing.indices.shape[1]
        flat = routing.indices.flatten()
        order = torch.argsort(flat, stable=True)
        token = order // k
        offs = torch.cumsum(torch.bincount(flat, minlength=self.w1.shape[0]), 0).to(torch.int32)
        xs = x[token]
        gate = _ContiguousGrad.apply(F.grouped_mm(xs, self.w1.transpose(-2, -1), offs=offs))
        up = _ContiguousGrad.apply(F.grouped_mm(xs, self.w3.transpose(-2, -1), offs=offs))
        h = F.silu(gate) * up
        ys = _ContiguousGrad.apply(F.grouped_mm(h, self.w2.transpose(-2, -1), offs=offs))
        ys = ys * routing.weights.flatten()[order, None]
        return torch.zeros_like(x).index_add_(0, token, ys)


class MoE(nn.Module):
    """Routed experts plus always-on shared experts.

    Attributes:
        gate: the router; experts: the routed experts; shared: one MLP of width n_shared * moe_inter_dim.
        tokens_per_expert: (E,) fp32 buffer accumulating the load since the last bias update (training only).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gate = Gate(cfg)
        self.experts = Experts(cfg)
        self.shared = MLP(cfg.dim, cfg.n_shared_experts * cfg.moe_inter_dim) if cfg.n_shared_experts else None
        self.register_buffer("tokens_per_expert", torch.zeros(cfg.n_routed_experts), persistent=False)

    def forward(self, x: torch.Tensor, forced_indices: torch.Tensor | None = None) -> tuple[torch.Tensor, Routing]:
        """x: (B, S, dim); forced_indices: optional (B, S, k) -> ((B, S, dim), routing over the B*S tokens)."""
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        forced = None if forced_indices is None else forced_indices.reshape(flat.shape[0], -1)
        routing = self.gate(flat, forced)
        y = self.experts(flat, routing)
        if self.shared is not None:
            y = y + self.shared(flat)
        if self.training:
            with torch.no_grad():
                self.tokens_per_expert += torch.bincount(routing.indices.flatten(),
                                                         minlength=self.tokens_per_expert.numel()).float()
        return y.view(shape), routing


@torch.no_grad()
def update_expert_bias(moe: MoE, rate: float | None = None) -> torch.Tensor:
    """Auxiliary-loss-free balancing: `bias += rate * sign(mean_load - load)`, then reset the load counter.

    Call once per optimizer step (torchtitan does it in an optimizer pre-hook). Returns the load that was used.
    """
    if moe.gate.bias is None:
        raise ValueError("update_expert_bias: the gate has no bias (ModelConfig.use_expert_bias=False)")
    rate = moe.cfg.bias_update_rate if rate is None else rate
    load = moe.tokens_per_expert.clone()
    moe.gate.bias += rate * torch.sign(load.mean() - load)
    moe.tokens_per_expert.zero_()
    return load


def sequence_balance_loss(scores: torch.Tensor, indices: torch.Tensor, alpha: float) -> torch.Tensor:
    """DeepSeek-V3's sequence-wise balance loss, averaged over sequences.

    For one sequence of T tokens with E experts and top-K: f_i = E / (K T) * #{t : i in topk(t)},
    P_i = (1/T) sum_t s'_{i,t} with s' the affinities normalized over experts, and L = alpha * sum_i f_i P_i.

    Args:
        scores: (B, T, E) unbiased affinities (gradient flows through them).
        indices: (B, T, K) selected expert ids.
    """
    num_experts, k, t = scores.shape[-1], indices.shape[-1], scores.shape[1]
    hits = torch.zeros_like(scores).scatter_(-1, indices, 1.0).sum(dim=1)
    f = hits * num_experts / (k * t)
    p = (scores / scores.sum(dim=-1, keepdim=True)).mean(dim=1)
    return alpha * (f * p).sum(dim=-1).mean()
