"""The fused linear → logprob → GRPO loss against the reference composition, across chunk boundaries."""

from __future__ import annotations

import pytest
import torch

from agentgym.model.kernels import GRPOLossConfig, linear_grpo_loss
from agentgym.model.kernels.fused import LinearGRPOLoss
from agentgym.model.kernels.grpo import token_loss_torch


def _inputs(num_seqs=5, seq_len=4, dim=6, vocab=30, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(num_seqs, seq_len, dim, generator=gen, dtype=dtype).requires_grad_()
    weight = torch.randn(vocab, dim, generator=gen, dtype=dtype).requires_grad_()
    targets = torch.randint(0, vocab, (num_seqs, seq_len), generator=gen)
    with torch.no_grad():
        true_lp = torch.log_softmax(hidden @ weight.T / 0.8, -1).gather(-1, targets[..., None]).squeeze(-1)
    old = true_lp + 0.3 * torch.randn(num_seqs, seq_len, generator=gen, dtype=dtype)
    ref = true_lp + 0.2 * torch.randn(num_seqs, seq_len, generator=gen, dtype=dtype)
    adv = torch.tensor([1.0, -0.5, -2.0, 0.7, -0.1], dtype=dtype)[:num_seqs]
    mask = torch.rand(num_seqs, seq_len, generator=gen) > 0.25
    return hidden, weight, targets, old, ref, adv, mask


CONFIGS = [
    GRPOLossConfig(),
    GRPOLossConfig(importance_level="sequence", aggregation="sequence_mean", off_policy_threshold=0.0),
    GRPOLossConfig(aggregation="dr_grpo", clip_low=0.1, clip_high=0.1),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["token_mean", "gspo-seqmean-offpolicy", "dr_grpo"])
@pytest.mark.parametrize("seqs_per_chunk", [1, 2, 5])
def test_fused_matches_reference_composition(config, seqs_per_chunk):
    hidden, weight, targets, old, ref, adv, mask = _inputs()
    beta = torch.tensor([0.1, 0.0, 0.3, 0.2, 0.05])
    loss, logprobs, entropy = LinearGRPOLoss.apply(hidden, weight, targets, None, 0.8, seqs_per_chunk, old, adv,
                                                   mask, ref, beta, config, token_loss_torch)
    want = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, temperature=0.8,
                            ref_logprobs=ref, beta=beta, path="ref")
    torch.testing.assert_close(loss, want.loss, atol=1e-5, rtol=0)
    grads = torch.autograd.grad(loss * 1.5, (hidden, weight))  # a non-unit upstream gradient is applied
    grads_ref = torch.autograd.grad(want.loss * 1.5, (hidden, weight))
    for got, expected in zip(grads, grads_ref):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_dispatch_metrics_and_support_match_reference():
    hidden, weight, targets, old, ref, adv, mask = _inputs()
    support = (hidden.detach() @ weight.detach().T).topk(6, dim=-1).indices
    support[..., 0] = targets
    config = CONFIGS[1]
    beta = torch.full((5,), 0.2)  # one β for every sequence
    out = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, temperature=0.8,
                           support=support, ref_logprobs=ref, beta=beta, path="cpu")
    want = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, temperature=0.8,
                            support=support, ref_logprobs=ref, beta=beta, path="ref")
    torch.testing.assert_close(out.loss, want.loss, atol=1e-5, rtol=0)
    for key in want.metrics:
        torch.testing.assert_close(out.metrics[key].float(), want.metrics[key].float(), atol=1e-5, rtol=0)
    assert float(out.metrics["entropy"]) > 0


def test_gradcheck_float64():
    hidden, weight, targets, old, ref, adv, mask = _inputs(num_seqs=3, seq_len=3, dim=3, vocab=7, dtype=torch.float64)

    def fn(h, w):
        return LinearGRPOLoss.apply(h, w, targets, None, 0.9, 2, old, adv, mask, ref, None, CONFIGS[1],
                                    token_loss_torch)[0]

    assert torch.autograd.gradcheck(fn, (hidden, weight), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("budget", "expect_fused"), [(4 * 30, True), (30, False)])
def test_dispatcher_chunks_whole_sequences_or_falls_back(monkeypatch, budget, expect_fused):
    """budget 120 logits → 4 rows → 2 sequences of 2 per chunk; budget 30 → 1 row, a sequence exceeds 4× → fallback."""
    from agentgym.model.kernels import chunked, fused

    monkeypatch.setattr(chunked, "TARGET_CHUNK_ELEMENTS", budget)
    calls = []
    original = fused.LinearGRPOLoss.apply
    monkeypatch.setattr(fused.LinearGRPOLoss, "apply", lambda *a: calls.append(a[5]) or original(*a))
    hidden, weight, targets, old, ref, adv, mask = _inputs(seq_len=2 if expect_fused else 6)
    config = CONFIGS[1]
    out = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, temperature=0.8, ref_logprobs=ref)
    want = linear_grpo_loss(hidden, weight, targets, old, adv, mask, config=config, temperature=0.8,
                            ref_logprobs=ref, path="ref")
    assert calls == ([2] if expect_fused else [])
    torch.testing.assert_close(out.loss, want.loss, atol=1e-5, rtol=0)
    for got, expected in zip(torch.autograd.grad(out.loss, (hidden, weight)),
                             torch.autograd.grad(want.loss, (hidden, weight))):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_loss_input_shapes_are_checked():
    hidden, weight, targets, old, ref, adv, mask = _inputs()
    with pytest.raises(ValueError, match=r"^advantages must have shape \(5,\), got \(4,\)$"):
        linear_grpo_loss(hidden, weight, targets, old, adv[:4], mask)
    with pytest.raises(ValueError, match=r"^hidden must be \(B, T, H\)"):
        linear_grpo_loss(hidden[0], weight, targets, old, adv, mask)
