"""``torch.autograd.gradcheck`` in float64 through every Triton autograd Function (interpreted on CPU, tiny shapes).

The kernels accumulate in fp64 for fp64 inputs (``triton.common.accumulation_dtype``), and the interpreter runs fp64
blocks as numpy fp64 arrays, so finite differences see the kernels' own arithmetic. Each fp64 forward is checked
against the reference to 1e-12, which an fp32 accumulation could not reach. Tolerances are tight (atol 1e-8,
rtol 1e-6; gradcheck's default rtol of 1e-3 would let a 0.1% error in a gradient pass). The linear→logprob and MLA
checks on the larger shapes use ``fast_mode``: it compares the random projection vᵀJu of the numerical and analytical
Jacobians, which a wrong entry changes almost surely, with a few interpreted launches instead of one per input element
(about 1 s instead of about 10 s each here); each Function also gets one full-Jacobian gradcheck on its smallest
shape. The GRPO loss is cheap enough for the full Jacobian throughout.
"""

from __future__ import annotations

import pytest
import torch

from agentgym.model.kernels import GRPOLossConfig, grpo_loss, linear_logprob, mla_decode

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
F64 = {"dtype": torch.float64, "device": DEVICE}
# dW accumulates with atomics in the Triton backward: on a GPU their order varies, so two backward calls may differ in
# the last bits; gradcheck's reentrancy check gets that much slack (the interpreter itself is deterministic).
NONDET_TOL = 1e-12

pytestmark = [
    pytest.mark.usefixtures("triton_interpreter"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning:triton.runtime.interpreter"),
]


def _randn(gen, *shape, scale=1.0):
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(DEVICE)


@pytest.mark.parametrize(("temperature", "use_support"), [(1.0, False), (0.7, True)])
def test_linear_logprob_gradcheck_float64(temperature, use_support):
    gen = torch.Generator().manual_seed(0)
    hidden = _randn(gen, 5, 6).requires_grad_()
    weight = _randn(gen, 7, 6, scale=0.5).requires_grad_()
    targets = torch.tensor([0, 3, 6, 2, 3], device=DEVICE)
    support = None
    if use_support:  # every row holds its target and one or two other tokens; row 1 has a padded slot
        support = torch.tensor([[0, 1, 5], [3, 4, -1], [6, 0, 2], [2, 1, 6], [3, 5, 4]], device=DEVICE)
    kwargs = {"temperature": temperature, "support": support, "with_entropy": True}

    lp, ent = linear_logprob(hidden, weight, targets, path="triton", **kwargs)
    lp_ref, ent_ref = linear_logprob(hidden, weight, targets, path="ref", **kwargs)
    assert lp.dtype == ent.dtype == torch.float64
    torch.testing.assert_close(lp, lp_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(ent, ent_ref, atol=1e-12, rtol=0)

    def fn(h, w):
        return linear_logprob(h, w, targets, path="triton", **kwargs)

    assert torch.autograd.gradcheck(fn, (hidden, weight), eps=1e-6, atol=1e-8, rtol=1e-6, nondet_tol=NONDET_TOL,
                                    fast_mode=True)


def test_grpo_token_loss_gradcheck_float64():
    """The Function itself, with the surrogate's log-ratio and the KL's logprobs as independent inputs."""
    from agentgym.model.kernels.triton.grpo import token_loss_triton

    gen = torch.Generator().manual_seed(1)
    log_ratio = _randn(gen, 3, 5, scale=0.4).requires_grad_()  # |log r| ~ 0.4: both clip branches are hit
    logprobs = (-torch.rand(3, 5, generator=gen, dtype=torch.float64) * 2).to(DEVICE).requires_grad_()
    old = logprobs.detach() + _randn(gen, 3, 5, scale=0.2)
    ref = logprobs.detach() + _randn(gen, 3, 5, scale=0.2)
    advantages = torch.tensor([1.0, -0.5, 2.0], **F64)
    keep = torch.tensor([1.0, 1.0, 0.0], **F64)
    betas = torch.tensor([0.1, 0.0, 0.3], **F64)
    weights = torch.rand(3, 5, generator=gen, dtype=torch.float64).to(DEVICE)
    ratio = log_ratio.detach().exp()
    assert bool(((ratio < 0.8) | (ratio > 1.28)).any()) and bool(((ratio > 0.8) & (ratio < 1.28)).any())

    def fn(lr, lp):
        return token_loss_triton(lr, lp, old, ref, advantages, keep, betas, weights, 0.2, 0.28)

    assert torch.autograd.gradcheck(fn, (log_ratio, logprobs), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize(
    "config",
    [
        GRPOLossConfig(),
        GRPOLossConfig(importance_level="sequence", aggregation="sequence_mean", off_policy_threshold=0.0),
        GRPOLossConfig(aggregation="dr_grpo", clip_low=0.05, clip_high=0.05),
    ],
    ids=["token_mean-kl", "gspo-offpolicy", "dr_grpo-tightclip"],
)
def test_grpo_loss_gradcheck_float64(config):
    gen = torch.Generator().manual_seed(2)
    logprobs = (-torch.rand(3, 6, generator=gen, dtype=torch.float64) * 2).to(DEVICE).requires_grad_()
    old = logprobs.detach() + _randn(gen, 3, 6, scale=0.3)
    ref = logprobs.detach() + _randn(gen, 3, 6, scale=0.2)
    advantages = torch.tensor([1.0, -1.0, 0.4], **F64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0]], device=DEVICE)
    beta = torch.tensor([0.1, 0.2, 0.05], **F64)
    kwargs = {"config": config, "ref_logprobs": ref, "beta": beta}
    out = grpo_loss(logprobs, old, advantages, mask, path="triton", **kwargs)
    want = grpo_loss(logprobs, old, advantages, mask, path="ref", **kwargs)
    torch.testing.assert_close(out.loss, want.loss, atol=1e-12, rtol=0)

    def fn(lp):
        return grpo_loss(lp, old, advantages, mask, path="triton", **kwargs).loss

    assert torch.autograd.gradcheck(fn, (logprobs,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("use_topk", [False, True])
def test_mla_decode_gradcheck_float64(use_topk):
    gen = torch.Generator().manual_seed(3)
    q_latent = _randn(gen, 3, 2, 4).requires_grad_()
    q_pe = _randn(gen, 3, 2, 2).requires_grad_()
    kv = _randn(gen, 3, 5, 4).requires_grad_()
    pe = _randn(gen, 3, 5, 2).requires_grad_()
    seq_lens = torch.tensor([5, 2, 4], device=DEVICE)
    topk = None
    if use_topk:  # row 0: a padded slot; row 1: no valid key (lse = -inf, out = 0); row 2: id 4 >= seq_len, ignored
        topk = torch.tensor([[3, 0, -1], [2, 4, -1], [1, 4, 2]], device=DEVICE)
    leaves = (q_latent, q_pe, kv, pe)
    out, lse = mla_decode(*leaves, seq_lens, scale=0.4, topk_indices=topk, path="triton")
    out_ref, lse_ref = mla_decode(*leaves, seq_lens, scale=0.4, topk_indices=topk, path="ref")
    torch.testing.assert_close(out, out_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(lse, lse_ref, atol=1e-12, rtol=0)

    def fn(*tensors):
        o, l = mla_decode(*tensors, seq_lens, scale=0.4, topk_indices=topk, path="triton")
        return o, torch.where(torch.isinf(l), 0.0, l)  # finite differences of -inf are NaN; that row is checked as 0

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-8, rtol=1e-6, fast_mode=True)


def test_linear_logprob_full_jacobian_gradcheck_float64():
    """Every Jacobian entry (no projection), on the smallest shape with a support, a padded slot and a temperature."""
    gen = torch.Generator().manual_seed(4)
    hidden = _randn(gen, 3, 2).requires_grad_()
    weight = _randn(gen, 4, 2).requires_grad_()
    targets = torch.tensor([0, 3, 1], device=DEVICE)
    support = torch.tensor([[0, 2], [3, -1], [1, 2]], device=DEVICE)

    def fn(h, w):
        return linear_logprob(h, w, targets, temperature=0.7, support=support, with_entropy=True, path="triton")

    assert torch.autograd.gradcheck(fn, (hidden, weight), eps=1e-6, atol=1e-8, rtol=1e-6, nondet_tol=NONDET_TOL)


def test_mla_decode_full_jacobian_gradcheck_float64():
    """Every Jacobian entry of the top-k variant: a padded slot, an id past seq_len, and a row with no valid key."""
    gen = torch.Generator().manual_seed(5)
    leaves = tuple(_randn(gen, *shape).requires_grad_() for shape in ((2, 1, 2), (2, 1, 1), (2, 4, 2), (2, 4, 1)))
    seq_lens = torch.tensor([3, 1], device=DEVICE)
    topk = torch.tensor([[2, 0, 3, -1], [1, 2, -1, -1]], device=DEVICE)  # row 0 ignores 3 and -1; row 1 is empty

    def fn(*tensors):
        o, l = mla_decode(*tensors, seq_lens, scale=0.4, topk_indices=topk, path="triton")
        return o, torch.where(torch.isinf(l), 0.0, l)

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-8, rtol=1e-6)
