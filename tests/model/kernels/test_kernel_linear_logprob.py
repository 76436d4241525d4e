"""The chunked linear→logprob Function against the materialized-logits reference, values and gradients."""

from __future__ import annotations

import pytest
import torch

from agentgym.model.kernels import linear_logprob
from agentgym.model.kernels.chunked import ChunkedLinearLogprob
from agentgym.model.kernels.support import normalize_support


def _inputs(num_rows=37, vocab=50, dim=8, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(num_rows, dim, generator=gen, dtype=dtype).requires_grad_()
    weight = torch.randn(vocab, dim, generator=gen, dtype=dtype).requires_grad_()
    targets = torch.randint(0, vocab, (num_rows,), generator=gen)
    return hidden, weight, targets


def _topk_support(hidden, weight, targets, k=5):
    """Top-k ids of each row's logits, with the target forced in and some slots padded with -1."""
    ids = (hidden.detach() @ weight.detach().T).topk(k, dim=1).indices
    ids[:, 0] = targets
    ids[::3, -1] = -1
    return ids


def _loss_and_grads(logprob, entropy, hidden, weight):
    num_rows = logprob.shape[0]
    w_lp = torch.linspace(-1.0, 2.0, num_rows, dtype=logprob.dtype)
    total = (logprob * w_lp).sum() + ((entropy * w_lp.flip(0)).sum() if entropy is not None else 0.0)
    return torch.autograd.grad(total, (hidden, weight))


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("use_support", [False, True])
@pytest.mark.parametrize("with_entropy", [False, True])
def test_cpu_path_matches_reference_fp32(temperature, use_support, with_entropy):
    hidden, weight, targets = _inputs()
    support = _topk_support(hidden, weight, targets) if use_support else None
    kwargs = dict(temperature=temperature, support=support, with_entropy=with_entropy)
    lp, ent = linear_logprob(hidden, weight, targets, chunk_rows=8, path="cpu", **kwargs)
    lp_ref, ent_ref = linear_logprob(hidden, weight, targets, path="ref", **kwargs)
    torch.testing.assert_close(lp, lp_ref, atol=1e-5, rtol=0)
    if with_entropy:
        torch.testing.assert_close(ent, ent_ref, atol=1e-5, rtol=0)
    else:
        assert ent is None and ent_ref is None
    for got, want in zip(_loss_and_grads(lp, ent, hidden, weight), _loss_and_grads(lp_ref, ent_ref, hidden, weight)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_support_renormalizes_over_the_recorded_set():
    hidden, weight, targets = _inputs(num_rows=4, vocab=6, dim=3)
    support = torch.tensor([[0, 1, -1], [2, 3, 4], [5, -1, -1], [1, 5, 0]])
    targets = torch.tensor([1, 4, 5, 0])
    lp, ent = linear_logprob(hidden, weight, targets, support=support, with_entropy=True, path="cpu")
    logits = hidden.detach() @ weight.detach().T
    for row, ids in enumerate(support.tolist()):
        allowed = [i for i in ids if i >= 0]
        sub = torch.log_softmax(logits[row, allowed], dim=0)
        want = sub[allowed.index(int(targets[row]))]
        assert abs(lp[row].item() - want.item()) < 1e-6
        assert abs(ent[row].item() - float(-(sub.exp() * sub).sum())) < 1e-6
    assert abs(lp[2].item()) < 1e-7 and abs(ent[2].item()) < 1e-7  # a one-token support is certain


def test_bool_mask_and_padded_ids_give_the_same_result():
    hidden, weight, targets = _inputs(num_rows=9, vocab=12, dim=4)
    ids = _topk_support(hidden, weight, targets, k=4)
    mask = torch.zeros(9, 12, dtype=torch.bool)
    mask.scatter_(1, ids.clamp(min=0), True)
    mask[::3] = False
    mask[::3].scatter_(1, ids[::3, :-1], True)
    lp_ids, _ = linear_logprob(hidden, weight, targets, support=ids, path="cpu")
    lp_mask, _ = linear_logprob(hidden, weight, targets, support=mask, path="cpu")
    torch.testing.assert_close(lp_ids, lp_mask, atol=0, rtol=0)
    assert normalize_support(mask, num_rows=9, vocab_size=12).shape[1] == 4


@pytest.mark.parametrize("use_support", [False, True])
def test_gradcheck_float64(use_support):
    hidden, weight, targets = _inputs(num_rows=7, vocab=11, dim=3, dtype=torch.float64)
    support = _topk_support(hidden, weight, targets, k=4) if use_support else None

    def fn(h, w):
        return ChunkedLinearLogprob.apply(h, w, targets, support, 0.8, 3, True)

    assert torch.autograd.gradcheck(fn, (hidden, weight), eps=1e-6, atol=1e-7)


def test_no_grad_call_and_non_multiple_chunk():
    hidden, weight, targets = _inputs(num_rows=10)
    with torch.no_grad():
        lp, _ = linear_logprob(hidden, weight, targets, chunk_rows=4, path="cpu")
    lp_ref, _ = linear_logprob(hidden.detach(), weight.detach(), targets, path="ref")
    torch.testing.assert_close(lp, lp_ref, atol=1e-5, rtol=0)
    assert not lp.requires_grad


def test_only_weight_gradient_is_computed_when_hidden_is_frozen():
    hidden, weight, targets = _inputs()
    lp, _ = linear_logprob(hidden.detach(), weight, targets, chunk_rows=16, path="cpu")
    lp.sum().backward()
    lp_ref, _ = linear_logprob(hidden.detach(), weight, targets, path="ref")
    (grad_ref,) = torch.autograd.grad(lp_ref.sum(), weight)
    torch.testing.assert_close(weight.grad, grad_ref, atol=1e-5, rtol=0)


def test_target_outside_support_is_rejected():
    hidden, weight, targets = _inputs(num_rows=2, vocab=5, dim=2)
    with pytest.raises(ValueError, match=r"^targets\[1\]=3 is not in that row's support$"):
        linear_logprob(hidden, weight, torch.tensor([0, 3]), support=torch.tensor([[0, 1], [1, 2]]))


@pytest.mark.parametrize(
    ("support", "message"),
    [
        (torch.tensor([[0, -1], [-1, -1]]), "support has a row with no token"),
        (torch.tensor([[0, 5], [1, 2]]), r"support ids must lie in \[-1, 5\)"),
        (torch.ones(2, 4, dtype=torch.bool), r"a bool support mask must have shape \(N, V=\(5\)\)"),
        (torch.ones(2, 2), "support must be a bool mask or an integer id tensor"),
    ],
)
def test_bad_support_is_rejected(support, message):
    hidden, weight, _ = _inputs(num_rows=2, vocab=5, dim=2)
    with pytest.raises((ValueError, TypeError), match=message):
        linear_logprob(hidden, weight, torch.tensor([0, 1]), support=support)


def test_bad_temperature_and_shapes_are_rejected():
    hidden, weight, targets = _inputs(num_rows=3, vocab=5, dim=2)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0.0"):
        linear_logprob(hidden, weight, targets, temperature=0.0)
    with pytest.raises(ValueError, match="disagree"):
        linear_logprob(hidden, weight[:, :1], targets)
