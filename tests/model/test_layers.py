"""RMSNorm, RoPE conventions and YaRN, and the position-based causal mask."""

from __future__ import annotations

import math

import pytest
import torch
from agentgym.model.config import get_preset
from agentgym.model.layers import RMSNorm, Rotary, causal_mask, yarn_inv_freq


def test_rmsnorm_matches_formula():
    x = torch.randn(3, 5, 16)
    norm = RMSNorm(16, eps=1e-6)
    norm.weight.data = torch.randn(16)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight
    torch.testing.assert_close(norm(x), expected, atol=1e-6, rtol=1e-5)


def test_interleaved_and_neox_rope_are_the_same_rotation_on_permuted_channels():
    cfg = get_preset("tiny")
    inter, neox = Rotary(8, cfg, interleaved=True), Rotary(8, cfg, interleaved=False)
    x = torch.randn(2, 5, 3, 8)
    pos = torch.arange(5).expand(2, 5)
    perm = torch.tensor([0, 2, 4, 6, 1, 3, 5, 7])  # interleaved pairs -> halves
    torch.testing.assert_close(inter(x, pos)[..., perm], neox(x[..., perm], pos))


def test_rope_preserves_norm_and_relative_dot_products():
    cfg = get_preset("tiny")
    rope = Rotary(8, cfg, interleaved=True)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def dot(pq, pk):
        return (rope(q, torch.tensor([[pq]])) * rope(k, torch.tensor([[pk]]))).sum()
    torch.testing.assert_close(dot(7, 3), dot(14, 10), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rope(q, torch.tensor([[9]])).norm(), q.norm())


def test_yarn_matches_deepseek_v3_written_out():
    cfg = get_preset("tiny").replace(max_seq_len=8192, original_seq_len=1024, rope_factor=8.0)
    dim, base = 8, cfg.rope_theta
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    corr = lambda r: dim * math.log(1024 / (r * 2 * math.pi)) / (2 * math.log(base))
    low, high = max(math.floor(corr(32)), 0), min(math.ceil(corr(1)), dim - 1)
    smooth = 1 - torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    expected = freqs / 8.0 * (1 - smooth) + freqs * smooth
    torch.testing.assert_close(yarn_inv_freq(dim, cfg), expected)
    assert not torch.allclose(yarn_inv_freq(dim, cfg), freqs)


def test_causal_mask_for_chunked_prefill_has_shape_s_by_start_plus_s():
    start, s = 5, 3
    pos = (start + torch.arange(s)).expand(2, s)
    mask = causal_mask(pos, start + s)
    assert mask.shape == (2, s, start + s)
    assert mask[0].sum(-1).tolist() == [6, 7, 8]


@pytest.mark.parametrize("rows", [1, 3, 16, 40])
def test_decode_linear_matches_f_linear(rows):
    from agentgym.model.layers import Linear, linear

    torch.manual_seed(0)
    weight = torch.randn(1024, 96)  # big enough for the weight-major path
    x = torch.randn(rows, 1, 96)
    with torch.inference_mode():
        torch.testing.assert_close(linear(x, weight), torch.nn.functional.linear(x, weight), rtol=1e-5, atol=1e-5)
        assert linear(x, weight).is_contiguous()
    layer = Linear(96, 1024)
    xg = x.clone().requires_grad_(True)
    layer(xg).sum().backward()  # autograd path: plain F.linear
    torch.testing.assert_close(xg.grad, layer.weight.sum(0).expand_as(x))
    assert list(layer.state_dict()) == ["weight"]
