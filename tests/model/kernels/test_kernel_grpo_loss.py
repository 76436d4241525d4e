"""The GRPO/PPO loss: the cpu path against the per-sequence reference, and against hand-written numbers."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from agentgym.model.kernels import GRPOLossConfig, grpo_loss


def _batch(num_seqs=4, seq_len=6, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logprobs = (-torch.rand(num_seqs, seq_len, generator=gen, dtype=dtype) * 2).requires_grad_()
    old = logprobs.detach() + 0.3 * torch.randn(num_seqs, seq_len, generator=gen, dtype=dtype)
    ref = logprobs.detach() + 0.2 * torch.randn(num_seqs, seq_len, generator=gen, dtype=dtype)
    advantages = torch.tensor([1.0, -0.5, -2.0, 0.7], dtype=dtype)[:num_seqs]
    mask = torch.ones(num_seqs, seq_len, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, :2] = False  # e.g. tool-output tokens
    entropy = torch.rand(num_seqs, seq_len, generator=gen, dtype=dtype)
    return logprobs, old, ref, advantages, mask, entropy


CONFIGS = [
    GRPOLossConfig(aggregation=agg, importance_level=level, off_policy_threshold=delta)
    for agg, level, delta in itertools.product(("token_mean", "sequence_mean", "dr_grpo"), ("token", "sequence"),
                                               (None, 0.05))
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.aggregation}-{c.importance_level}-{c.off_policy_threshold}")
@pytest.mark.parametrize("per_sample_beta", [False, True])
def test_cpu_path_matches_reference(config, per_sample_beta):
    logprobs, old, ref, adv, mask, entropy = _batch()
    beta = torch.tensor([0.0, 0.1, 0.3, 0.05]) if per_sample_beta else torch.full((4,), 0.1)
    kwargs = dict(config=config, ref_logprobs=ref, beta=beta, entropy=entropy)
    out = grpo_loss(logprobs, old, adv, mask, path="cpu", **kwargs)
    want = grpo_loss(logprobs, old, adv, mask, path="ref", **kwargs)
    torch.testing.assert_close(out.loss, want.loss, atol=1e-6, rtol=0)
    (grad,) = torch.autograd.grad(out.loss, logprobs)
    (grad_ref,) = torch.autograd.grad(want.loss, logprobs)
    torch.testing.assert_close(grad, grad_ref, atol=1e-6, rtol=0)
    assert set(out.metrics) == {"clip_fraction", "kl", "masked_fraction", "entropy"}
    for key in out.metrics:
        torch.testing.assert_close(out.metrics[key].float(), want.metrics[key].float(), atol=1e-6, rtol=0)


def test_gradcheck_float64():
    logprobs, old, ref, adv, mask, _ = _batch(dtype=torch.float64)
    config = GRPOLossConfig(importance_level="sequence", aggregation="sequence_mean")
    beta = torch.full((4,), 0.2, dtype=torch.float64)

    def fn(lp):
        return grpo_loss(lp, old, adv, mask, config=config, ref_logprobs=ref, beta=beta, path="cpu").loss

    assert torch.autograd.gradcheck(fn, (logprobs,), eps=1e-6, atol=1e-7)


def test_hand_written_token_mean_value():
    # Two sequences, ratios chosen to hit: inside the clip range, above 1+ε_high with A>0, below 1-ε_low with A<0.
    old = torch.zeros(2, 2)
    logprobs = torch.log(torch.tensor([[1.1, 1.5], [0.5, 1.0]])).requires_grad_()
    adv = torch.tensor([2.0, -1.0])
    mask = torch.tensor([[1, 1], [1, 0]])
    config = GRPOLossConfig(clip_low=0.2, clip_high=0.3)
    out = grpo_loss(logprobs, old, adv, mask, config=config, path="cpu")
    # token losses: -min(1.1·2, 1.1·2) = -2.2; -min(1.5·2, 1.3·2) = -2.6; -min(0.5·-1, 0.8·-1) = 0.8
    assert math.isclose(out.loss.item(), (-2.2 - 2.6 + 0.8) / 3, rel_tol=1e-6)
    assert math.isclose(float(out.metrics["clip_fraction"]), 2 / 3, rel_tol=1e-6)  # tokens 2 and 3
    out.loss.backward()
    # d/dlogπ of -r·A = -r·A (unclipped); clipped tokens get no gradient; the masked token gets none.
    torch.testing.assert_close(logprobs.grad, torch.tensor([[-1.1 * 2 / 3, 0.0], [0.0, 0.0]]), atol=1e-6, rtol=0)


def test_sequence_mean_and_dr_grpo_normalizers():
    logprobs = torch.zeros(2, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    adv = torch.tensor([1.0, 3.0])
    seq = grpo_loss(logprobs, torch.zeros(2, 4), adv, mask, config=GRPOLossConfig(aggregation="sequence_mean"))
    assert math.isclose(seq.loss.item(), (-4 / 4 - 3 / 1) / 2, rel_tol=1e-6)
    dr = grpo_loss(logprobs, torch.zeros(2, 4), adv, mask, config=GRPOLossConfig(aggregation="dr_grpo", max_tokens=10))
    assert math.isclose(dr.loss.item(), (-4 - 3) / (2 * 10), rel_tol=1e-6)


def test_off_policy_mask_removes_only_the_stale_negative_sequence():
    old = torch.zeros(3, 3)
    # mean log(π_old/π_θ): seq0 = 0.5 (A<0 → masked), seq1 = 0.5 but A>0 (kept), seq2 = 0.01 with A<0 (kept).
    logprobs = torch.tensor([[-0.5] * 3, [-0.5] * 3, [-0.01] * 3], requires_grad=True)
    adv = torch.tensor([-1.0, 1.0, -1.0])
    config = GRPOLossConfig(off_policy_threshold=0.1, clip_low=0.9, clip_high=0.9)
    out = grpo_loss(logprobs, old, adv, torch.ones(3, 3), config=config)
    out.loss.backward()
    assert torch.all(logprobs.grad[0] == 0)
    assert torch.all(logprobs.grad[1] != 0) and torch.all(logprobs.grad[2] != 0)
    assert math.isclose(float(out.metrics["masked_fraction"]), 1 / 3, rel_tol=1e-6)
    unmasked = grpo_loss(logprobs, old, adv, torch.ones(3, 3), config=GRPOLossConfig(clip_low=0.9, clip_high=0.9))
    assert float(unmasked.metrics["masked_fraction"]) == 0.0
    assert not math.isclose(unmasked.loss.item(), out.loss.item())


def test_kl_is_zero_when_policy_equals_reference_and_has_the_right_gradient():
    logprobs, old, _, adv, mask, _ = _batch()
    config = GRPOLossConfig()
    with_kl = grpo_loss(logprobs, old, adv, mask, config=config, ref_logprobs=logprobs.detach().clone(),
                        beta=torch.full((4,), 0.5))
    without = grpo_loss(logprobs, old, adv, mask, config=config)
    assert float(with_kl.metrics["kl"]) == 0.0
    torch.testing.assert_close(with_kl.loss, without.loss, atol=1e-7, rtol=0)
    g1, = torch.autograd.grad(with_kl.loss, logprobs)
    g2, = torch.autograd.grad(without.loss, logprobs)
    torch.testing.assert_close(g1, g2, atol=1e-7, rtol=0)  # ∂KL/∂logπ = (π_θ/π_old)(logπ - logπ_ref) = 0 here


def test_kl_estimate_matches_formula_with_per_sample_beta():
    logprobs = torch.tensor([[-1.0], [-2.0]], requires_grad=True)
    old = torch.tensor([[-1.2], [-2.0]])
    ref = torch.tensor([[-0.7], [-2.5]])
    beta = torch.tensor([0.5, 2.0])
    out = grpo_loss(logprobs, old, torch.zeros(2), torch.ones(2, 1), ref_logprobs=ref, beta=beta,
                    config=GRPOLossConfig())

    def kl(lp, o, r):
        return math.exp(lp - o) * (math.exp(r - lp) - (r - lp) - 1)

    k0, k1 = kl(-1.0, -1.2, -0.7), kl(-2.0, -2.0, -2.5)
    assert math.isclose(out.loss.item(), (0.5 * k0 + 2.0 * k1) / 2, rel_tol=1e-5)
    assert math.isclose(float(out.metrics["kl"]), (k0 + k1) / 2, rel_tol=1e-5)


def test_gspo_uses_one_ratio_per_sequence():
    old = torch.zeros(1, 2)
    logprobs = torch.log(torch.tensor([[1.2, 0.9]])).requires_grad_()
    out = grpo_loss(logprobs, old, torch.tensor([1.0]), torch.ones(1, 2),
                    config=GRPOLossConfig(importance_level="sequence", clip_high=0.5))
    seq_ratio = math.sqrt(1.2 * 0.9)
    assert math.isclose(out.loss.item(), -seq_ratio, rel_tol=1e-6)


def test_entropy_metric_is_the_masked_token_mean():
    logprobs, old, _, adv, mask, entropy = _batch()
    out = grpo_loss(logprobs, old, adv, mask, entropy=entropy)
    assert math.isclose(float(out.metrics["entropy"]), float(entropy[mask].mean()), rel_tol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clip_low": 1.0}, r"clip_low must be in \[0, 1\), got 1.0"),
        ({"clip_high": -0.1}, "clip_high must be >= 0, got -0.1"),
        ({"aggregation": "mean"}, "aggregation must be one of"),
        ({"importance_level": "seq"}, "importance_level must be one of"),
        ({"max_tokens": 0}, "max_tokens must be positive or None"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GRPOLossConfig(**kwargs)


def test_shape_mismatch_is_rejected():
    logprobs, old, _, adv, mask, _ = _batch()
    with pytest.raises(ValueError, match=r"old_logprobs must have shape \(4, 6\), got \(4, 5\)"):
        grpo_loss(logprobs, old[:, :5], adv, mask)
