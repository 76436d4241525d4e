"""Per-token (B, T) advantages (turn-level credit): ref, cpu, fused and Triton paths agree, and reduce to (B,)."""

from __future__ import annotations

import itertools

import pytest
import torch
from agentgym.model.kernels import GRPOLossConfig, grpo_loss, linear_grpo_loss

CONFIGS = [
    GRPOLossConfig(aggregation=agg, importance_level=level, off_policy_threshold=delta)
    for agg, level, delta in itertools.product(("token_mean", "sequence_mean", "dr_grpo"), ("token", "sequence"),
                                               (None, 0.0))
]
IDS = [f"{c.aggregation}-{c.importance_level}-{c.off_policy_threshold}" for c in CONFIGS]


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    logprobs = (-torch.rand(3, 8, generator=gen) * 2).requires_grad_()
    old = logprobs.detach() + 0.3 * torch.randn(3, 8, generator=gen)
    ref = logprobs.detach() + 0.2 * torch.randn(3, 8, generator=gen)
    # sequence 0 changes sign between turns; sequence 1 has a negative mean (the off-policy mask may drop it)
    advantages = torch.tensor([[1.0] * 3 + [-0.5] * 5, [-1.0] * 4 + [0.25] * 4, [0.5] * 8])
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[0, 6:] = False
    mask[1, 2:4] = False
    return logprobs, old, ref, advantages, mask


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_cpu_path_matches_reference_with_per_token_advantages(config):
    logprobs, old, ref, adv, mask = _batch()
    kwargs = {"config": config, "ref_logprobs": ref, "beta": torch.tensor([0.0, 0.1, 0.3])}
    out = grpo_loss(logprobs, old, adv, mask, path="cpu", **kwargs)
    want = grpo_loss(logprobs, old, adv, mask, path="ref", **kwargs)
    torch.testing.assert_close(out.loss, want.loss, atol=1e-6, rtol=0)
    grads = [torch.autograd.grad(o.loss, logprobs)[0] for o in (out, want)]
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=0)
    for key in out.metrics:
        torch.testing.assert_close(out.metrics[key].float(), want.metrics[key].float(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("path", ["ref", "cpu"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_constant_rows_equal_per_sequence_advantages(config, path):
    logprobs, old, ref, _, mask = _batch(seed=1)
    per_sequence = torch.tensor([0.7, -1.2, 0.3])
    beta = torch.full((3,), 0.1)
    flat = grpo_loss(logprobs, old, per_sequence, mask, config=config, ref_logprobs=ref, beta=beta, path=path)
    wide = grpo_loss(logprobs, old, per_sequence[:, None].expand(3, 8), mask, config=config, ref_logprobs=ref,
                     beta=beta, path=path)
    torch.testing.assert_close(wide.loss, flat.loss, atol=1e-7, rtol=0)
    assert float(flat.metrics["masked_fraction"]) == float(wide.metrics["masked_fraction"])


def test_off_policy_mask_reads_the_mean_advantage_sign():
    logprobs = torch.zeros(2, 4, requires_grad=True)
    old = torch.full((2, 4), 0.5)  # stale: mean log(π_old/π_θ) = 0.5 > δ
    adv = torch.tensor([[-1.0, -1.0, -1.0, 2.0], [1.0, 1.0, 1.0, -2.0]])  # means -0.25 and +0.25
    config = GRPOLossConfig(off_policy_threshold=0.1)
    for path in ("ref", "cpu"):
        out = grpo_loss(logprobs, old, adv, torch.ones(2, 4), config=config, path=path)
        assert float(out.metrics["masked_fraction"]) == 0.5
        (grad,) = torch.autograd.grad(out.loss, logprobs)
        assert grad[0].abs().sum() == 0 and grad[1].abs().sum() > 0  # only the negative-mean sequence is masked


def test_fused_linear_path_takes_per_token_advantages():
    gen = torch.Generator().manual_seed(2)
    hidden = torch.randn(3, 8, 16, generator=gen, requires_grad=True)
    weight = torch.randn(24, 16, generator=gen, requires_grad=True)
    targets = torch.randint(0, 24, (3, 8), generator=gen)
    _, old, _, adv, mask = _batch()
    config = GRPOLossConfig(importance_level="sequence", off_policy_threshold=0.0)
    out = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, path="cpu")
    want = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, path="ref")
    torch.testing.assert_close(out.loss, want.loss, atol=1e-5, rtol=0)
    grads = [torch.autograd.grad(o.loss, (hidden, weight)) for o in (out, want)]
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.usefixtures("triton_interpreter")
@pytest.mark.filterwarnings("ignore::RuntimeWarning:triton.runtime.interpreter")
@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[3]], ids=[IDS[0], IDS[3]])
def test_triton_path_matches_reference_with_per_token_advantages(config):
    logprobs, old, ref, adv, mask = _batch()
    out = grpo_loss(logprobs, old, adv, mask, config=config, ref_logprobs=ref, path="triton")
    want = grpo_loss(logprobs, old, adv, mask, config=config, ref_logprobs=ref, path="ref")
    torch.testing.assert_close(out.loss, want.loss, atol=1e-6, rtol=0)
    grads = [torch.autograd.grad(o.loss, logprobs)[0] for o in (out, want)]
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=0)
