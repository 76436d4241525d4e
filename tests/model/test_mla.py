"""MLA: absorbed attention over the latent cache equals the naive expanded K/V path."""

from __future__ import annotations

import pytest
import torch
from agentgym.model.config import cache_bytes_per_token, get_preset
from agentgym.model.transformer import Transformer


def _model(**changes) -> Transformer:
    torch.manual_seed(0)
    return Transformer(get_preset("tiny").replace(n_routed_experts=0, n_mtp_layers=0, **changes)).eval()


@pytest.mark.parametrize("index_heads", [0, 2])
def test_absorb_equals_naive_prefill_and_stepwise_decode(index_heads):
    model = _model(index_n_heads=index_heads)
    tokens = torch.randint(0, 512, (2, 20))
    with torch.no_grad():
        full_naive = model(tokens, attn_impl="naive").logits
        full_absorb = model(tokens, attn_impl="absorb").logits
        assert (full_naive - full_absorb).abs().max() <= 1e-5
        caches = {impl: model.new_cache(2, 32, attn_impl=impl) for impl in ("naive", "absorb")}
        steps = {impl: [] for impl in caches}
        for impl, cache in caches.items():
            out = model(tokens[:, :8], cache=cache, attn_impl=impl).logits
            steps[impl].append(out)
            for t in range(8, 20):
                pos = torch.full((2, 1), t)
                steps[impl].append(model(tokens[:, t:t + 1], pos, cache, attn_impl=impl).logits)
        naive, absorb = torch.cat(steps["naive"], 1), torch.cat(steps["absorb"], 1)
    assert (naive - absorb).abs().max() <= 1e-5
    assert (absorb - full_absorb).abs().max() <= 1e-5


def test_chunked_prefill_at_nonzero_start_matches_one_shot():
    model = _model()
    tokens = torch.randint(0, 512, (1, 24))
    with torch.no_grad():
        full = model(tokens).logits
        cache = model.new_cache(1, 32)
        first = model(tokens[:, :10], cache=cache).logits
        second = model(tokens[:, 10:], (10 + torch.arange(14)).view(1, -1), cache).logits
    torch.testing.assert_close(torch.cat([first, second], 1), full, atol=1e-5, rtol=1e-5)


def test_absorb_cache_is_smaller_and_its_ratio_is_printed(capsys):
    cfg = get_preset("small")
    naive, absorb = cache_bytes_per_token(cfg, attn_impl="naive"), cache_bytes_per_token(cfg, attn_impl="absorb")
    print(f"small: naive {naive} B/token, absorb {absorb} B/token, ratio {naive / absorb:.1f}x")
    assert naive / absorb > 3
    v3 = get_preset("deepseek-v3").replace(index_n_heads=0)
    ratio = cache_bytes_per_token(v3, attn_impl="naive") / cache_bytes_per_token(v3, attn_impl="absorb")
    assert round(ratio, 1) == 71.1
    assert "ratio" in capsys.readouterr().out
