"""MoE gate against a written-out DeepSeek-V3 reference, Keep Routing, backends and balancing."""

from __future__ import annotations

import pytest
import torch
from agentgym.model.config import get_preset
from agentgym.model.moe import Gate, MoE, sequence_balance_loss, update_expert_bias
from agentgym.model.transformer import Transformer


def reference_gate(x, weight, bias, topk, n_groups, topk_groups, route_scale):
    """DeepSeek-V3 inference/model.py Gate.forward (sigmoid, with bias), written out token by token."""
    weights, indices = [], []
    for row in x:
        scores = torch.sigmoid(weight @ row)
        biased = scores + bias
        per_group = biased.numel() // n_groups
        group_scores = [sorted(biased[g * per_group:(g + 1) * per_group].tolist(), reverse=True)[:2]
                        for g in range(n_groups)]
        group_scores = torch.tensor([sum(s) for s in group_scores])
        keep = set(torch.topk(group_scores, topk_groups).indices.tolist())
        masked = torch.tensor([biased[e].item() if e // per_group in keep else float("-inf")
                               for e in range(biased.numel())])
        idx = torch.topk(masked, topk).indices
        w = scores[idx]
        weights.append(w / w.sum() * route_scale)
        indices.append(idx)
    return torch.stack(weights), torch.stack(indices)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gate_matches_reference_with_negative_biases(seed):
    torch.manual_seed(seed)
    cfg = get_preset("tiny").replace(n_routed_experts=16, n_expert_groups=4, n_limited_groups=2,
                                     n_activated_experts=3, route_scale=2.5)
    gate = Gate(cfg)
    gate.bias.copy_(torch.randn(16) * 0.5 - 0.5)
    assert (gate.bias < 0).any()
    x = torch.randn(40, cfg.dim)
    got = gate(x)
    want_w, want_i = reference_gate(x, gate.weight.detach(), gate.bias, 3, 4, 2, 2.5)
    assert torch.equal(got.indices.sort(-1).values, want_i.sort(-1).values)
    order_got, order_want = got.indices.argsort(-1), want_i.argsort(-1)
    torch.testing.assert_close(got.weights.gather(1, order_got), want_w.gather(1, order_want), atol=1e-6, rtol=1e-5)


def test_masked_groups_use_minus_inf_not_zero():
    """With all-negative biases, HF's 0.0 group mask would pick masked experts; ours never does."""
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    gate = Gate(cfg)
    gate.bias.fill_(-5.0)
    routing = gate(torch.randn(64, cfg.dim))
    groups = routing.indices // (cfg.n_routed_experts // cfg.n_expert_groups)
    assert (groups == groups[:, :1]).all()  # n_limited_groups=1: both experts from one group


def test_weights_come_from_unbiased_scores():
    torch.manual_seed(0)
    cfg = get_preset("tiny").replace(route_scale=1.0)
    gate = Gate(cfg)
    x = torch.randn(8, cfg.dim)
    gate.bias.copy_(torch.randn(cfg.n_routed_experts))
    routing = gate(x)
    scores = torch.sigmoid(x @ gate.weight.T).gather(1, routing.indices)
    torch.testing.assert_close(routing.weights, scores / scores.sum(-1, keepdim=True))


def test_forced_routing_reproduces_recorded_outputs_exactly():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny")).eval()
    tokens = torch.randint(0, 512, (2, 16))
    with torch.no_grad():
        recorded = model(tokens)
        for layer in model.layers:  # a bias update between sampling and training changes free routing
            if hasattr(layer.ffn, "gate"):
                layer.ffn.gate.bias.add_(torch.randn_like(layer.ffn.gate.bias))
        free = model(tokens)
        forced = model(tokens, forced_experts=recorded.routed_experts)
    assert not torch.equal(free.routed_experts, recorded.routed_experts)
    assert torch.equal(forced.routed_experts, recorded.routed_experts)
    assert torch.equal(forced.logits, recorded.logits)


def test_grouped_backend_equals_loop_forward_and_backward():
    torch.manual_seed(0)
    moe = MoE(get_preset("tiny"))
    x = torch.randn(3, 10, 64, requires_grad=True)
    outs, grads = {}, {}
    for backend in ("loop", "grouped"):
        moe.experts.backend = backend
        moe.zero_grad()
        x.grad = None
        y, _ = moe(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        outs[backend] = y.detach()
        grads[backend] = (x.grad.clone(), moe.experts.w1.grad.clone(), moe.experts.w2.grad.clone())
    torch.testing.assert_close(outs["loop"], outs["grouped"], atol=1e-5, rtol=1e-5)
    for a, b in zip(grads["loop"], grads["grouped"]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_bias_update_moves_toward_balance_and_resets_load():
    moe = MoE(get_preset("tiny"))
    moe.tokens_per_expert.copy_(torch.tensor([10.0, 0, 5, 5, 5, 5, 5, 5]))
    update_expert_bias(moe, rate=0.01)
    assert moe.gate.bias[0] == pytest.approx(-0.01) and moe.gate.bias[1] == pytest.approx(0.01)
    assert moe.gate.bias[2] == 0 and moe.tokens_per_expert.sum() == 0


def test_training_forward_accumulates_load():
    moe = MoE(get_preset("tiny")).train()
    moe(torch.randn(2, 5, 64))
    assert moe.tokens_per_expert.sum() == 2 * 5 * 2


def test_sequence_balance_loss_matches_formula():
    torch.manual_seed(0)
    b, t, e, k, alpha = 2, 6, 8, 2, 0.1
    scores = torch.rand(b, t, e)
    idx = scores.topk(k, -1).indices
    total = 0.0
    for s in range(b):
        for i in range(e):
            f = e / (k * t) * sum(int(i in idx[s, j].tolist()) for j in range(t))
            p = sum(float(scores[s, j, i] / scores[s, j].sum()) for j in range(t)) / t
            total += alpha * f * p
    assert float(sequence_balance_loss(scores, idx, alpha)) == pytest.approx(total / b, rel=1e-5)
