"""CPU path of the routed SwiGLU experts: sort by expert → grouped matmul → weighted scatter-add."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GROUPED_MM_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _can_use_grouped_mm(*tensors: torch.Tensor) -> bool:
    """``torch._grouped_mm`` takes fp32/bf16/fp16 only, and needs row strides that are multiples of 16 bytes."""
    if not hasattr(torch, "_grouped_mm"):
        return False
    for t in tensors:
        if t.dtype not in GROUPED_MM_DTYPES or (t.shape[-1] * t.element_size()) % 16:
            return False
    return True


def _group_slices(ends: torch.Tensor):
    start = 0
    for g, end in enumerate(ends.tolist()):
        yield g, start, end
        start = end


def grouped_mm(a: torch.Tensor, b: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Rows ``[ends[g-1], ends[g])`` of ``a`` (M, K) times ``b[g]`` (K, N) → (M, N); per-group loop when needed."""
    if _can_use_grouped_mm(a, b) and a.shape[0] > 0:
        return torch._grouped_mm(a, b, offs=ends.to(torch.int32))
    out = a.new_empty(a.shape[0], b.shape[-1])
    for g, start, end in _group_slices(ends):
        torch.mm(a[start:end], b[g], out=out[start:end])
    return out


def grouped_weight_grad(grad: torch.Tensor, a: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Per group ``grad_gᵀ a_g`` → (G, N, K): the gradient of a stacked (G, N, K) expert weight."""
    if _can_use_grouped_mm(grad, a) and a.shape[0] > 0:
        return torch._grouped_mm(grad.t(), a, offs=ends.to(torch.int32))
    out = a.new_zeros(ends.numel(), grad.shape[1], a.shape[1])
    for g, start, end in _group_slices(ends):
        out[g] = grad[start:end].t() @ a[start:end]
    return out


class GroupedLinear(torch.autograd.Function):
    """``out[rows of group g] = a[rows] @ weight[g]ᵀ`` for expert-sorted rows; weight is (G, out, in)."""

    @staticmethod
    def forward(ctx, a, weight, ends):
        ctx.save_for_backward(a, weight, ends)
        return grouped_mm(a, weight.transpose(1, 2), ends)

    @staticmethod
    def backward(ctx, grad):
        a, weight, ends = ctx.saved_tensors
        grad = grad.contiguous()  # grouped_mm rejects the zero-stride gradients that e.g. .sum() produces
        grad_a = grouped_mm(grad, weight, ends) if ctx.needs_input_grad[0] else None
        grad_w = grouped_weight_grad(grad, a, ends) if ctx.needs_input_grad[1] else None
        return grad_a, grad_w, None


def moe_swiglu_grouped(
    x: torch.Tensor,
    expert_ids: torch.Tensor,
    expert_weights: torch.Tensor,
    w_gate: torch.Tensor,
    w_up: torch.Tensor,
    w_down: torch.Tensor,
) -> torch.Tensor:
    """Same contract as ``ref.moe_swiglu_ref``; three grouped matmuls instead of a Python loop over experts."""
    num_tokens, top_k = expert_ids.shape
    flat_ids = expert_ids.reshape(-1)
    order = torch.argsort(flat_ids, stable=True)
    token_of = order // top_k
    ends = torch.cumsum(torch.bincount(flat_ids, minlength=w_gate.shape[0]), 0)
    xs = x[token_of]
    hidden = F.silu(GroupedLinear.apply(xs, w_gate, ends)) * GroupedLinear.apply(xs, w_up, ends)
    out = GroupedLinear.apply(hidden, w_down, ends) * expert_weights.reshape(-1)[order, None].to(x.dtype)
    return x.new_zeros(num_tokens, x.shape[1]).index_add(0, token_of, out)
