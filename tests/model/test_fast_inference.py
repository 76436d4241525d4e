"""The engine's CPU fast paths (oneDNN GEMMs, packed weights, the nucleus search ladder) change nothing but speed."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from agentgym.model import layers
from agentgym.model.config import get_preset
from agentgym.model.engine import Engine, EngineConfig
from agentgym.model.layers import PackedWeights, linear
from agentgym.model.sampling import SamplingParams, _nucleus, masked_logprobs
from agentgym.model.transformer import Transformer

needs_onednn = pytest.mark.skipif(not layers._onednn_usable(), reason="this torch build has no usable oneDNN")


@pytest.fixture(scope="module")
def llama_model():
    """Two SmolLM2-shaped blocks (weights big enough for the fast path) with a 4096-token vocabulary."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(get_preset("smollm2-135m"), n_layers=2, n_dense_layers=2, vocab_size=4096,
                              max_seq_len=128)
    return Transformer(cfg).eval()


@needs_onednn
def test_linear_uses_onednn_only_in_inference_mode_and_agrees_with_f_linear():
    w, x = torch.randn(1536, 576), torch.randn(3, 5, 576)
    with torch.no_grad():  # training and scoring passes: exactly F.linear
        assert torch.equal(linear(x, w), F.linear(x, w))
    with torch.inference_mode():
        fast = linear(x, w)
    assert fast.shape == (3, 5, 1536)
    assert (fast - F.linear(x, w)).abs().max() <= 1e-4
    small = torch.randn(8, 576)  # below the size threshold: F.linear even in inference mode
    with torch.inference_mode():
        assert torch.equal(linear(x, small), F.linear(x, small))


@needs_onednn
def test_packed_weights_match_and_go_stale_after_an_in_place_update():
    w, x = torch.randn(1536, 576), torch.randn(16, 576)
    packs = PackedWeights([w, torch.randn(4, 4)], batch_hint=16)
    assert len(packs.weights) == 1  # too-small weights are not packed
    packs.refresh()
    with torch.inference_mode():
        plain = linear(x, w)
        with packs.active():
            packed = linear(x, w)
    assert (packed - plain).abs().max() <= 1e-4
    with torch.no_grad():
        w.mul_(2)  # a trainer update: the packed copy is stale and must not be used
    with torch.inference_mode(), packs.active():
        stale = linear(x, w)
    assert (stale - 2 * plain).abs().max() <= 2e-4
    packs.refresh()
    with torch.inference_mode(), packs.active():
        fresh = linear(x, w)
    assert (fresh - 2 * plain).abs().max() <= 2e-4


@pytest.mark.parametrize("pack", [True, False])
def test_engine_fast_path_logprobs_equal_teacher_forced(llama_model, pack):
    engine = Engine(llama_model, None, EngineConfig(max_batch_size=4, max_seq_len=64, pack_weights=pack))
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 4096, (n,), generator=g).tolist() for n in (5, 9, 3)]
    params = SamplingParams(n=2, temperature=0.9, top_p=0.8, max_new_tokens=8, seed=4)
    completions = engine.generate(prompts, params)
    for c in completions:
        ids = torch.tensor(c.prompt_token_ids + c.token_ids)
        with torch.no_grad():
            logits = llama_model(ids[None]).logits[0]
        p = len(c.prompt_token_ids)
        want = masked_logprobs(logits[p - 1:-1], torch.tensor(c.token_ids), c.sampling_mask, params.temperature)
        assert (want - torch.tensor(c.logprobs)).abs().max() <= 1e-4


def test_engine_picks_up_trainer_updates_between_calls(llama_model):
    """Packed copies are refreshed when the weights change, so greedy output follows the new weights."""
    model = Transformer(llama_model.cfg).eval()
    model.load_state_dict(llama_model.state_dict())
    engine = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    greedy = SamplingParams(temperature=0.0, max_new_tokens=6)
    before = engine.generate([[5, 6, 7]], greedy)[0].token_ids
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    after = engine.generate([[5, 6, 7]], greedy)[0].token_ids
    fresh = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32, pack_weights=False))
    assert after == fresh.generate([[5, 6, 7]], greedy)[0].token_ids
    assert before != after


@pytest.mark.parametrize("temperature", [0.05, 0.7, 5.0])  # peaked (top 64 suffices), medium, flat (full sort)
def test_nucleus_ladder_gives_the_same_support_as_a_full_sort(temperature):
    torch.manual_seed(0)
    probs = F.softmax(torch.randn(6, 5000) * 4 / temperature, dim=-1)
    vals, ids = _nucleus(probs, 0.9)
    full_vals, full_ids = probs.sort(dim=-1, descending=True)
    for row in range(6):
        keep = int(((full_vals[row].cumsum(0) - full_vals[row]) < 0.9).sum())
        assert vals.shape[1] >= keep
        assert torch.equal(ids[row, :keep], full_ids[row, :keep])


@needs_onednn
def test_fused_linear_equals_separate_products_and_needs_a_fresh_pack():
    from agentgym.model.layers import fused_linear

    wq, wk, wv, x = torch.randn(576, 576), torch.randn(192, 576), torch.randn(192, 576), torch.randn(4, 1, 576)
    packs = PackedWeights([(wq, wk, wv)], batch_hint=4)
    packs.refresh()
    with torch.inference_mode():
        assert fused_linear(x, (wq, wk, wv)) is None  # no packs active
        with packs.active():
            q, k, v = fused_linear(x, (wq, wk, wv))
            assert fused_linear(x, (wq, wk)) is None  # not packed as that group
    for got, w in ((q, wq), (k, wk), (v, wv)):
        assert got.shape == (4, 1, w.shape[0])
        assert (got - F.linear(x, w)).abs().max() <= 1e-4
    with torch.no_grad():
        wk.add_(1)
    with torch.inference_mode(), packs.active():
        assert fused_linear(x, (wq, wk, wv)) is None  # stale: the caller falls back to separate GEMMs


@needs_onednn
def test_engine_packs_attention_and_mlp_weights_stacked(llama_model):
    engine = Engine(llama_model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    engine.generate([[5, 6, 7]], SamplingParams(temperature=0.0, max_new_tokens=2))
    keys = list(engine._packs._packed)
    assert sum(len(k) == 3 for k in keys) == 2  # q/k/v per block
    assert sum(len(k) == 2 for k in keys) == 2  # gate/up per block
    assert sum(len(k) == 1 for k in keys) == 2 * 2 + 1  # wo and w2 per block, and the head


def test_engine_doc_example_runs_on_the_real_model(capsys):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    exec(compile(code, "docs/engine.md", "exec"), {})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert printed.strip().endswith(("stop", "length"))


def test_engine_repacks_when_parameters_are_replaced(llama_model):
    """load_state_dict(assign=True) swaps the parameter objects: the engine must pack the new ones, not keep the old."""
    model = Transformer(llama_model.cfg).eval()
    model.load_state_dict(llama_model.state_dict())
    engine = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    greedy = SamplingParams(temperature=0.0, max_new_tokens=6)
    engine.generate([[5, 6, 7]], greedy)
    old_packs = engine._packs
    torch.manual_seed(1)
    model.load_state_dict(Transformer(llama_model.cfg).state_dict(), assign=True)
    after = engine.generate([[5, 6, 7]], greedy)[0].token_ids
    assert engine._packs is not old_packs
    assert all(w is p for w, p in zip(engine._packs.weights[:1], [model.layers[0].attn.wq.weight]))
    fresh = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32, pack_weights=False))
    assert after == fresh.generate([[5, 6, 7]], greedy)[0].token_ids


needs_onednn_bf16 = pytest.mark.skipif(not layers._onednn_bf16_usable(), reason="no oneDNN bf16 GEMM here")


@needs_onednn_bf16
def test_bf16_packs_halve_the_copy_and_stay_close_to_fp32():
    w, x = torch.randn(1536, 576) * 0.05, torch.randn(4, 576)
    fp32, bf16 = PackedWeights([w], batch_hint=4), PackedWeights([w], batch_hint=4, dtype=torch.bfloat16)
    fp32.refresh(), bf16.refresh()
    [(_, a)], [(_, b)] = fp32._packed.values(), bf16._packed.values()
    assert b.dtype == torch.bfloat16 and b.numel() * b.element_size() * 2 == a.numel() * a.element_size()
    with torch.inference_mode(), bf16.active():
        out = linear(x, w)
    assert out.dtype == torch.float32  # bf16 only inside the GEMM
    want = F.linear(x.bfloat16().float(), w.bfloat16().float())  # bf16 inputs, fp32 accumulation
    assert (out - want).abs().max() <= 2e-2 * want.abs().max()
    assert not torch.equal(out, F.linear(x, w))  # it really ran in bf16


@needs_onednn_bf16
def test_engine_bf16_pack_logprobs_track_teacher_forcing_and_release_frees_trained_packs(llama_model):
    engine = Engine(llama_model, None, EngineConfig(max_batch_size=4, max_seq_len=64, pack_dtype="bfloat16"))
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=3)
    [c, _] = engine.generate([[5, 9, 11, 200]], params)
    ids = torch.tensor(c.prompt_token_ids + c.token_ids)
    with torch.no_grad():
        logits = llama_model(ids[None]).logits[0]
    want = masked_logprobs(logits[3:-1], torch.tensor(c.token_ids), c.sampling_mask, 1.0)
    err = (want - torch.tensor(c.logprobs)).abs().max()
    assert 0 < err <= 0.1  # bf16 matmuls: close to the fp32 model's logprobs, not equal
    assert all(p.dtype == torch.bfloat16 for _, p in engine._packs._packed.values())
    freed = engine.release_packs()
    assert freed == sum(p.numel() * 2 for p in llama_model.parameters() if p.dim() == 2 and p.numel() >= 1 << 16)
    assert not engine._packs._packed
    assert engine.generate([[5, 9, 11, 200]], params)[0].token_ids == c.token_ids  # repacked, same seed, same draw
    assert engine._packs._packed


def test_release_packs_keeps_frozen_weights_packed(llama_model):
    model = Transformer(llama_model.cfg).eval()
    model.load_state_dict(llama_model.state_dict())
    for p in model.layers[0].parameters():
        p.requires_grad_(False)
    engine = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    engine.generate([[5, 6, 7]], SamplingParams(temperature=0.0, max_new_tokens=2))
    before = len(engine._packs._packed)
    engine.release_packs()
    kept = engine._packs._packed
    assert 0 < len(kept) < before
    frozen = {id(p) for p in model.layers[0].parameters()}
    assert all(set(key) <= frozen for key in kept)


def test_engine_config_rejects_an_unknown_pack_dtype():
    with pytest.raises(ValueError, match="pack_dtype"):
        EngineConfig(pack_dtype="float16")


def test_rotary_tables_are_shared_between_layers_and_freed_with_the_model():
    import gc

    cfg = dataclasses.replace(get_preset("smollm2-135m"), n_layers=3, n_dense_layers=3, vocab_size=256,
                              max_seq_len=64)
    model = Transformer(cfg)
    tables = {layer.attn.rotary.cos.data_ptr() for layer in model.layers}
    assert len(tables) == 1
    other = Transformer(dataclasses.replace(cfg, rope_theta=cfg.rope_theta * 2))
    assert other.layers[0].attn.rotary.cos.data_ptr() not in tables  # another rotary, other tables
    before = len(layers._ROPE_COS)
    del model, other
    gc.collect()
    assert len(layers._ROPE_COS) < before
