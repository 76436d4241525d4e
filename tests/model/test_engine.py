"""Rollout engine: recorded logprobs, sampling masks and routed experts replay exactly in a teacher-forced pass."""

from __future__ import annotations

import pytest
import torch
from agentgym.model.config import get_preset
from agentgym.model.engine import Engine, EngineConfig
from agentgym.model.sampling import SamplingMask, SamplingParams, masked_logprobs, sample
from agentgym.model.transformer import Transformer


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return Transformer(get_preset("tiny")).eval()


def _prompts(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 512, (n,), generator=g).tolist() for n in lengths]


def _teacher_forced(model, completion):
    ids = torch.tensor(completion.prompt_token_ids + completion.token_ids)
    with torch.no_grad():
        out = model(ids[None])
    return out, len(completion.prompt_token_ids)


@pytest.mark.parametrize("params", [
    SamplingParams(n=2, temperature=0.8, top_p=0.9, top_k=50, max_new_tokens=12, seed=1),
    SamplingParams(n=3, temperature=1.3, top_p=0.7, max_new_tokens=10, seed=2),
    SamplingParams(n=1, temperature=1.0, max_new_tokens=10, seed=3),
    SamplingParams(n=2, temperature=0.0, max_new_tokens=8),
])
def test_engine_logprobs_equal_teacher_forced_with_the_recorded_mask(tiny_model, params):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=4, max_seq_len=64))
    prompts = _prompts([3, 9, 5, 12, 2])
    completions = engine.generate(prompts, params)
    assert [(c.prompt_index, c.sample_index) for c in completions] == \
        [(p, s) for p in range(5) for s in range(params.n)]
    for c in completions:
        out, p = _teacher_forced(tiny_model, c)
        want = masked_logprobs(out.logits[0, p - 1:-1], torch.tensor(c.token_ids), c.sampling_mask,
                               params.temperature)
        assert (want - torch.tensor(c.logprobs)).abs().max() <= 1e-4
        assert c.sampling_mask.num_positions == len(c.token_ids)
        assert c.sampling_mask.is_full == (not params.is_truncating)
        assert torch.equal(out.routed_experts[0, :-1].to(torch.int16), c.routed_experts)


def test_recorded_support_is_the_top_p_nucleus(tiny_model):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    [c] = engine.generate(_prompts([6]), SamplingParams(temperature=1.0, top_p=0.5, max_new_tokens=5, seed=0))
    out, p = _teacher_forced(tiny_model, c)
    for t in range(len(c.token_ids)):
        probs = out.logits[0, p - 1 + t].softmax(-1)
        support = c.sampling_mask.support(t).long()
        assert c.token_ids[t] in support.tolist()
        assert probs[support].sum() >= 0.5 - 1e-5
        assert probs[support[:-1]].sum() < 0.5  # smallest prefix reaching top_p
        assert (probs[support].min() >= probs.masked_fill(c.sampling_mask.dense(512)[t], 0).max())


def test_slot_refill_mixes_lengths_and_matches_unbatched_greedy(tiny_model):
    prompts = _prompts([4, 11, 6, 3, 8, 5], seed=7)
    params = SamplingParams(temperature=0.0, max_new_tokens=9)
    batched = Engine(tiny_model, None, EngineConfig(max_batch_size=3, max_seq_len=64)).generate(prompts, params)
    single = [Engine(tiny_model, None, EngineConfig(max_batch_size=1, max_seq_len=64)).generate([p], params)[0]
              for p in prompts]
    assert [c.token_ids for c in batched] == [c.token_ids for c in single]


def test_stop_token_ends_completion_and_is_kept(tiny_model):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=2, max_seq_len=64))
    [free] = engine.generate(_prompts([5]), SamplingParams(temperature=0.0, max_new_tokens=12))
    stop = free.token_ids[3]
    [c] = engine.generate(_prompts([5]), SamplingParams(temperature=0.0, max_new_tokens=12, stop_token_ids=(stop,)))
    first = free.token_ids.index(stop)
    assert c.token_ids == free.token_ids[:first + 1] and c.finish_reason == "stop"
    assert free.finish_reason == "length"


def test_cache_full_finishes_with_length(tiny_model):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=1, max_seq_len=10))
    [c] = engine.generate(_prompts([6]), SamplingParams(temperature=0.0, max_new_tokens=50))
    assert c.finish_reason == "length" and len(c.prompt_token_ids) + len(c.token_ids) == 11


def test_same_seed_same_samples_different_seed_differs(tiny_model):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=4, max_seq_len=64))
    run = lambda seed: [c.token_ids for c in engine.generate(
        _prompts([5, 7]), SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=seed))]
    assert run(11) == run(11) and run(11) != run(12)


def test_engine_rejects_bad_requests(tiny_model):
    engine = Engine(tiny_model, None, EngineConfig(max_batch_size=2, max_seq_len=16))
    with pytest.raises(ValueError, match="n"):
        engine.generate(_prompts([3]), SamplingParams(n=3))
    with pytest.raises(ValueError, match="prompt 0"):
        engine.generate(_prompts([16]), SamplingParams())
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0.0)


def test_sampling_mask_dense_and_greedy_logprob():
    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0]])
    out = sample(logits, SamplingParams(temperature=1.0, top_k=2), torch.Generator().manual_seed(0))
    mask = SamplingMask.from_lists(out.supports)
    assert mask.dense(4).tolist() == [[False, True, True, False]]
    want = torch.log_softmax(torch.tensor([3.0, 2.0]), 0)[0 if out.tokens[0] == 1 else 1]
    assert float(out.logprobs[0]) == pytest.approx(float(want))
    greedy = sample(logits, SamplingParams(temperature=0.0))
    assert greedy.tokens.tolist() == [1] and greedy.logprobs.tolist() == [0.0]


def test_engine_runs_a_bf16_model_and_replays_in_bf16():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny")).to(torch.bfloat16).eval()
    engine = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    params = SamplingParams(n=2, temperature=1.0, top_k=20, max_new_tokens=6, seed=0)
    for c in engine.generate(_prompts([5]), params):
        out, p = _teacher_forced(model, c)
        want = masked_logprobs(out.logits[0, p - 1:-1], torch.tensor(c.token_ids), c.sampling_mask)
        assert torch.isfinite(want).all() and (want - torch.tensor(c.logprobs)).abs().max() < 0.1
