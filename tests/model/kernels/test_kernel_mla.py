"""Absorbed MLA decode attention: cpu path vs the per-row reference, and the absorbed math vs naive MLA."""

from __future__ import annotations

import math

import pytest
import torch

from agentgym.model.kernels import mla_decode


def _inputs(batch=3, heads=4, latent=16, rope=8, max_len=20, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q_latent = torch.randn(batch, heads, latent, generator=gen, dtype=dtype)
    q_pe = torch.randn(batch, heads, rope, generator=gen, dtype=dtype)
    kv = torch.randn(batch, max_len, latent, generator=gen, dtype=dtype)
    pe = torch.randn(batch, max_len, rope, generator=gen, dtype=dtype)
    seq_lens = torch.tensor([20, 7, 13])[:batch]
    return q_latent, q_pe, kv, pe, seq_lens


def _topk(batch=3, max_len=20, k=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(max_len, generator=gen)[:k] for _ in range(batch)])
    idx[0, -2:] = -1  # unused slots
    return idx  # row 1 also holds ids >= seq_lens[1] = 7, which must be ignored


@pytest.mark.parametrize("use_topk", [False, True])
def test_cpu_path_matches_reference(use_topk):
    q_latent, q_pe, kv, pe, seq_lens = _inputs()
    for t in (q_latent, q_pe, kv, pe):
        t.requires_grad_()
    topk = _topk() if use_topk else None
    scale = 24 ** -0.5
    out, lse = mla_decode(q_latent, q_pe, kv, pe, seq_lens, scale=scale, topk_indices=topk, path="cpu")
    out_ref, lse_ref = mla_decode(q_latent, q_pe, kv, pe, seq_lens, scale=scale, topk_indices=topk, path="ref")
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(lse, lse_ref, atol=1e-5, rtol=0)
    probe = torch.randn_like(out)
    leaves = (q_latent, q_pe, kv, pe)
    grads = torch.autograd.grad((out * probe).sum() + lse.sum(), leaves)
    grads_ref = torch.autograd.grad((out_ref * probe).sum() + lse_ref.sum(), leaves)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_row_without_valid_keys_gives_zero_output_and_minus_inf_lse():
    q_latent, q_pe, kv, pe, seq_lens = _inputs()
    topk = torch.tensor([[0, 1], [15, -1], [2, 3]])  # row 1: 15 >= seq_len 7, so no valid key
    for path in ("cpu", "ref"):
        out, lse = mla_decode(q_latent, q_pe, kv, pe, seq_lens, scale=0.2, topk_indices=topk, path=path)
        assert torch.all(out[1] == 0) and torch.all(torch.isneginf(lse[1]))
        assert torch.isfinite(lse[[0, 2]]).all()


def test_absorbed_decode_equals_naive_mla_attention():
    """Fold wkv_b into the query (absorb) and compare with expanded per-head K/V attention (DeepSeek-V3 naive mode)."""
    gen = torch.Generator().manual_seed(3)
    heads, nope, rope, v_dim, latent, length = 2, 8, 4, 6, 16, 9
    wkv_b = torch.randn(heads, nope + v_dim, latent, generator=gen, dtype=torch.float64)
    q_nope = torch.randn(1, heads, nope, generator=gen, dtype=torch.float64)
    q_pe = torch.randn(1, heads, rope, generator=gen, dtype=torch.float64)
    kv = torch.randn(1, length, latent, generator=gen, dtype=torch.float64)
    pe = torch.randn(1, length, rope, generator=gen, dtype=torch.float64)
    scale = (nope + rope) ** -0.5
    q_latent = torch.einsum("bhd,hdc->bhc", q_nope, wkv_b[:, :nope])
    out_latent, lse = mla_decode(q_latent, q_pe, kv, pe, torch.tensor([length]), scale=scale, path="cpu")
    out = torch.einsum("bhc,hdc->bhd", out_latent, wkv_b[:, nope:])
    k_nope = torch.einsum("btc,hdc->bthd", kv, wkv_b[:, :nope])
    values = torch.einsum("btc,hdc->bthd", kv, wkv_b[:, nope:])
    scores = (torch.einsum("bhd,bthd->bht", q_nope, k_nope) + torch.einsum("bhr,btr->bht", q_pe, pe)) * scale
    want = torch.einsum("bht,bthd->bhd", torch.softmax(scores, dim=-1), values)
    torch.testing.assert_close(out, want, atol=1e-10, rtol=0)
    torch.testing.assert_close(lse, torch.logsumexp(scores, dim=-1), atol=1e-10, rtol=0)
    assert math.isfinite(float(lse.sum()))


def test_shape_mismatch_is_rejected():
    q_latent, q_pe, kv, pe, seq_lens = _inputs()
    with pytest.raises(ValueError, match=r"kv_cache must be \(B, T, C\)"):
        mla_decode(q_latent, q_pe, kv[..., :4], pe, seq_lens, scale=0.1)
