"""The real SmolLM2-135M-Instruct: logits and tokenizer against transformers' own GGUF load of the same file."""

from __future__ import annotations

import random
import string

import pytest
import torch
from agentgym.model.engine import Engine, EngineConfig
from agentgym.model.sampling import SamplingParams, masked_logprobs

pytestmark = pytest.mark.slow

PROMPTS = ["Hello, my name is", "The capital of France is Paris. 1234 + 5678 =",
           "<|im_start|>user\nWrite a haiku about autumn.<|im_end|>\n<|im_start|>assistant\n",
           "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"]


def test_logits_match_transformers(smollm2, hf_smollm2):
    model, tok = smollm2
    hf, _ = hf_smollm2
    for text in PROMPTS:
        ids = torch.tensor([tok.encode(text)])
        with torch.no_grad():
            ours, theirs = model(ids).logits, hf(ids).logits
        assert (ours - theirs).abs().max() <= 1e-4


def test_cached_decode_matches_transformers_step_by_step(smollm2, hf_smollm2):
    model, tok = smollm2
    hf, _ = hf_smollm2
    ids = torch.tensor([tok.encode(PROMPTS[2])])
    with torch.no_grad():
        theirs = hf(ids).logits[0]
        cache = model.new_cache(1, 64)
        ours = [model(ids[:, :8], cache=cache).logits[0]]
        for t in range(8, ids.shape[1]):
            ours.append(model(ids[:, t:t + 1], torch.tensor([[t]]), cache).logits[0])
    assert (torch.cat(ours) - theirs).abs().max() <= 1e-4


def _strings(n: int) -> list[str]:
    rng = random.Random(0)
    pieces = ["hello", " world", "Über", "naïve café", "日本語のテキスト", "emoji 🙂🚀", "\n\n", "\t", "  ",
              "<|im_start|>", "<|im_end|>", "1234567", "x=1; y = x**2", "def f():", "'s", "don't", "ÀÉÎ",
              "Привет", "مرحبا", "\r\n", "<tool_call>", "{\"a\": [1, 2]}"]
    out = list(pieces)
    while len(out) < n:
        k = rng.randint(1, 6)
        parts = [rng.choice(pieces) if rng.random() < 0.5 else
                 "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 12))) for _ in range(k)]
        out.append("".join(parts))
    return out


def test_tokenizer_round_trip_matches_transformers(smollm2, hf_smollm2):
    _, tok = smollm2
    _, htok = hf_smollm2
    texts = _strings(300)
    for text in texts:
        ids = tok.encode(text)
        assert ids == htok.encode(text, add_special_tokens=False), text
        assert tok.decode(ids) == text
    assert tok.bos_id == 1 and tok.eos_id == 2 and tok.vocab_size == 49152


def test_chat_template_matches_transformers(smollm2, hf_smollm2):
    _, tok = smollm2
    _, htok = hf_smollm2
    conversations = [
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"},
         {"role": "assistant", "content": "4"}, {"role": "user", "content": "and 3+3?"}],
    ]
    for messages in conversations:
        for gen in (True, False):
            want = htok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
            assert tok.render_chat(messages, add_generation_prompt=gen) == want


def test_chat_with_tools_renders_specs_calls_and_results(smollm2):
    _, tok = smollm2
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    text = tok.render_chat([{"role": "user", "content": "find cats"},
                            {"role": "assistant", "content": "", "tool_calls": [
                                {"function": {"name": "search", "arguments": "{\"q\": \"cats\"}"}}]},
                            {"role": "tool", "content": "3 results"}], tools=tools)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert '<tools>\n{"type": "function", "function": {"name": "search"' in text
    assert '<tool_call>\n{"name": "search", "arguments": {"q": "cats"}}\n</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\n3 results\n</tool_response><|im_end|>\n" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_engine_greedy_equals_transformers_generate(smollm2, hf_smollm2):
    model, tok = smollm2
    hf, _ = hf_smollm2
    engine = Engine(model, tok, EngineConfig(max_batch_size=2, max_seq_len=128))
    [c] = engine.chat([{"role": "user", "content": "What is the capital of France?"}],
                      params=SamplingParams(temperature=0.0, max_new_tokens=12))
    ids = torch.tensor([c.prompt_token_ids])
    with torch.no_grad():
        ref = hf.generate(ids, max_new_tokens=len(c.token_ids), do_sample=False, eos_token_id=None)
    assert c.token_ids == ref[0, ids.shape[1]:].tolist()
    assert "Paris" in c.text and "<|im_end|>" not in c.text
    [cut] = engine.generate([c.prompt_token_ids], SamplingParams(temperature=0.0, max_new_tokens=12,
                                                                   stop_strings=("Paris",)))
    assert cut.finish_reason == "stop" and "Paris" not in cut.text and c.text.startswith(cut.text)


def test_engine_logprobs_replay_on_smollm2(smollm2):
    model, tok = smollm2
    engine = Engine(model, tok, EngineConfig(max_batch_size=4, max_seq_len=96))
    prompts = [tok.encode_chat([{"role": "user", "content": "Name a color."}])]
    params = SamplingParams(n=2, temperature=0.7, top_p=0.9, top_k=40, max_new_tokens=6, seed=0)
    for c in engine.generate(prompts, params):
        ids = torch.tensor([c.prompt_token_ids + c.token_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(c.prompt_token_ids) - 1:-1]
        want = masked_logprobs(logits, torch.tensor(c.token_ids), c.sampling_mask, 0.7)
        assert (want - torch.tensor(c.logprobs)).abs().max() <= 1e-4
        assert c.routed_experts is None
