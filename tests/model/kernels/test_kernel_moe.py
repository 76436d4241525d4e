"""Grouped MoE SwiGLU (sort → grouped matmul → weighted scatter-add) against the per-expert loop."""

from __future__ import annotations

import pytest
import torch

from agentgym.model.kernels import moe_swiglu
from agentgym.model.kernels.moe import GroupedLinear, _can_use_grouped_mm


def _inputs(num_tokens=13, dim=8, inter=12, num_experts=5, top_k=2, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_tokens, dim, generator=gen, dtype=dtype).requires_grad_()
    scores = torch.rand(num_tokens, num_experts, generator=gen)
    scores[:, 3] = -1.0  # expert 3 receives no token: an empty group
    ids = scores.topk(top_k, dim=1).indices
    weights = torch.rand(num_tokens, top_k, generator=gen, dtype=dtype).requires_grad_()
    w_gate = (torch.randn(num_experts, inter, dim, generator=gen, dtype=dtype) * 0.3).requires_grad_()
    w_up = (torch.randn(num_experts, inter, dim, generator=gen, dtype=dtype) * 0.3).requires_grad_()
    w_down = (torch.randn(num_experts, dim, inter, generator=gen, dtype=dtype) * 0.3).requires_grad_()
    return x, ids, weights, w_gate, w_up, w_down


@pytest.mark.parametrize("reduce", ["sum", "weighted"])
def test_cpu_path_matches_reference_forward_and_backward(reduce):
    x, ids, weights, w_gate, w_up, w_down = _inputs()
    assert _can_use_grouped_mm(x, w_gate.transpose(1, 2))  # the fp32 test runs the torch._grouped_mm branch
    leaves = (x, weights, w_gate, w_up, w_down)
    out = moe_swiglu(x, ids, weights, w_gate, w_up, w_down, path="cpu")
    want = moe_swiglu(x, ids, weights, w_gate, w_up, w_down, path="ref")
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
    probe = torch.randn_like(out)

    def objective(y):
        return y.sum() if reduce == "sum" else (y * probe).sum()  # .sum() gives a zero-stride upstream gradient

    for got, expected in zip(torch.autograd.grad(objective(out), leaves), torch.autograd.grad(objective(want), leaves)):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_gradcheck_float64_through_the_loop_fallback():
    x, ids, weights, w_gate, w_up, w_down = _inputs(num_tokens=5, dim=3, inter=4, num_experts=4, dtype=torch.float64)

    def fn(*args):
        return moe_swiglu(args[0], ids, *args[1:], path="cpu")

    assert torch.autograd.gradcheck(fn, (x, weights, w_gate, w_up, w_down), eps=1e-6, atol=1e-7)


def test_grouped_linear_gradcheck_with_empty_groups():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(6, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    ends = torch.tensor([2, 2, 6, 6])
    assert torch.autograd.gradcheck(lambda a_, w_: GroupedLinear.apply(a_, w_, ends), (a, w))


def test_bad_expert_ids_are_rejected():
    x, ids, weights, w_gate, w_up, w_down = _inputs()
    with pytest.raises(ValueError, match=r"expert_ids must lie in \[0, 5\)"):
        moe_swiglu(x, ids + 4, weights, w_gate, w_up, w_down)
    with pytest.raises(ValueError, match="shapes disagree"):
        moe_swiglu(x[:, :4], ids, weights, w_gate, w_up, w_down)
