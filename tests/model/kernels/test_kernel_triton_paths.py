"""The Triton kernels, run by the CPU interpreter on tiny fp32 shapes, against their references (fwd and bwd)."""

from __future__ import annotations

import pytest
import torch

from agentgym.model.kernels import GRPOLossConfig, grpo_loss, linear_logprob, mla_decode

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

pytestmark = [
    pytest.mark.usefixtures("triton_interpreter"),
    # the interpreter evaluates both sides of tl.where, so -inf padding lanes warn in numpy; results are masked
    pytest.mark.filterwarnings("ignore::RuntimeWarning:triton.runtime.interpreter"),
]


def _logprob_inputs(seed=0):
    # 20 rows, V=40, H=24: two row blocks, two vocabulary tiles and two H tiles, each with a ragged tail.
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(20, 24, generator=gen).to(DEVICE).requires_grad_()
    weight = (torch.randn(40, 24, generator=gen) * 0.5).to(DEVICE).requires_grad_()
    targets = torch.randint(0, 40, (20,), generator=gen).to(DEVICE)
    return hidden, weight, targets


@pytest.mark.parametrize(("temperature", "use_support"), [(1.0, False), (0.7, True)])
def test_logprob_forward_and_backward_match_reference(temperature, use_support):
    hidden, weight, targets = _logprob_inputs()
    support = None
    if use_support:
        support = (hidden.detach() @ weight.detach().T).topk(5, dim=1).indices
        support[:, 0] = targets
        support[::4, -1] = -1
    kwargs = dict(temperature=temperature, support=support, with_entropy=True)
    lp, ent = linear_logprob(hidden, weight, targets, path="triton", **kwargs)
    lp_ref, ent_ref = linear_logprob(hidden, weight, targets, path="ref", **kwargs)
    torch.testing.assert_close(lp, lp_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ent, ent_ref, atol=1e-5, rtol=0)
    w_lp, w_ent = torch.linspace(-1, 1, 20, device=DEVICE), torch.linspace(0.5, -0.5, 20, device=DEVICE)
    grads = torch.autograd.grad((lp * w_lp).sum() + (ent * w_ent).sum(), (hidden, weight))
    grads_ref = torch.autograd.grad((lp_ref * w_lp).sum() + (ent_ref * w_ent).sum(), (hidden, weight))
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "config",
    [
        GRPOLossConfig(),
        GRPOLossConfig(importance_level="sequence", aggregation="sequence_mean", off_policy_threshold=0.0),
        GRPOLossConfig(aggregation="dr_grpo", clip_low=0.05, clip_high=0.05),
    ],
    ids=["token_mean-kl", "gspo-offpolicy", "dr_grpo-tightclip"],
)
def test_grpo_loss_matches_reference(config):
    gen = torch.Generator().manual_seed(0)
    logprobs = (-torch.rand(3, 100, generator=gen) * 2).to(DEVICE).requires_grad_()  # 300 tokens: 2 blocks of 256
    old = logprobs.detach() + 0.2 * torch.randn(3, 100, generator=gen).to(DEVICE)
    ref = logprobs.detach() + 0.1 * torch.randn(3, 100, generator=gen).to(DEVICE)
    adv = torch.tensor([1.0, -1.0, 0.4], device=DEVICE)
    mask = (torch.rand(3, 100, generator=gen) > 0.2).to(DEVICE)
    beta = torch.tensor([0.1, 0.2, 0.0], device=DEVICE)
    kwargs = dict(config=config, ref_logprobs=ref, beta=beta)
    out = grpo_loss(logprobs, old, adv, mask, path="triton", **kwargs)
    want = grpo_loss(logprobs, old, adv, mask, path="ref", **kwargs)
    torch.testing.assert_close(out.loss, want.loss, atol=1e-6, rtol=0)
    (grad,) = torch.autograd.grad(out.loss, logprobs)
    (grad_ref,) = torch.autograd.grad(want.loss, logprobs)
    torch.testing.assert_close(grad, grad_ref, atol=1e-6, rtol=0)
    assert float(out.metrics["clip_fraction"]) == pytest.approx(float(want.metrics["clip_fraction"]), abs=1e-6)


@pytest.mark.parametrize("use_topk", [False, True])
def test_mla_decode_matches_reference(use_topk):
    gen = torch.Generator().manual_seed(0)
    batch, heads, latent, rope, max_len = 3, 5, 20, 8, 40  # ragged head, latent, rope and key tiles
    q_latent = torch.randn(batch, heads, latent, generator=gen)
    q_pe = torch.randn(batch, heads, rope, generator=gen)
    kv = torch.randn(batch, max_len, latent, generator=gen)
    pe = torch.randn(batch, max_len, rope, generator=gen)
    seq_lens = torch.tensor([40, 9, 23])
    topk = None
    if use_topk:
        topk = torch.stack([torch.randperm(max_len, generator=gen)[:18] for _ in range(batch)])
        topk[0, -3:] = -1
        topk[1] = torch.where(topk[1] < 9, 30, topk[1])  # row 1: no valid key -> zeros and -inf
    leaves = tuple(t.to(DEVICE).requires_grad_() for t in (q_latent, q_pe, kv, pe))
    seq_lens = seq_lens.to(DEVICE)
    topk = topk.to(DEVICE) if topk is not None else None
    out, lse = mla_decode(*leaves, seq_lens, scale=0.2, topk_indices=topk, path="triton")
    out_ref, lse_ref = mla_decode(*leaves, seq_lens, scale=0.2, topk_indices=topk, path="ref")
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(lse, lse_ref, atol=1e-5, rtol=0)
    if use_topk:
        assert torch.all(out[1] == 0) and torch.isneginf(lse[1]).all()
    # backward: a random probe on out plus per-head weights on the finite lse entries (-inf rows carry no gradient)
    probe = torch.randn(out.shape, generator=gen).to(DEVICE)
    lse_weight = torch.randn(lse.shape, generator=gen).to(DEVICE)

    def objective(o, l):
        return (o * probe).sum() + (torch.where(torch.isinf(l), 0.0, l) * lse_weight).sum()

    grads = torch.autograd.grad(objective(out, lse), leaves)
    grads_ref = torch.autograd.grad(objective(out_ref, lse_ref), leaves)
    for got, want in zip(grads, grads_ref):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    if use_topk:  # nothing reaches the row without keys, nor cache slots outside each row's valid index set
        assert torch.all(grads[0][1] == 0) and torch.all(grads[2][1] == 0)
