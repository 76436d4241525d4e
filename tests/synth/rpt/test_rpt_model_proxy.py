"""The model-backed RPT proxy: SmolLM2-135M's BPE as the reference tokenization and its next-token entropy."""

from __future__ import annotations

import math

import pytest

from agentgym.envs.rpt.verify import score_prediction
from agentgym.synth.rpt import Document, RptTaskConfig, generate_tasks
from agentgym.synth.rpt.model_proxy import ModelProxy, bytes_to_unicode

TEXT = ("The quick brown fox jumps over the lazy dog. Python's café serves naïve résumés — 日本語 too.\n"
        "def square(x):\n    return x ** 2\n\nprint(square(12))  # prints 144\n")


def test_byte_map_is_a_bijection_onto_printable_characters():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert all(ch.isprintable() for ch in table.values())


def test_window_settings_are_validated():
    with pytest.raises(ValueError, match="overlap_tokens must be in"):
        ModelProxy(None, None, window_tokens=8, overlap_tokens=8)
    with pytest.raises(ValueError, match="min_context_tokens must be >= 1"):
        ModelProxy(None, None, min_context_tokens=0)


class Scored:
    """The proxy with its one score already computed (a forward pass on CPU is the slow part of this test)."""

    def __init__(self, proxy: ModelProxy, scored) -> None:
        self.name, self.tokenizer_name, self.scored = proxy.name, proxy.tokenizer_name, scored

    def score(self, text: str):
        assert text == TEXT
        return self.scored


@pytest.fixture(scope="module")
def proxy() -> ModelProxy:
    return ModelProxy.pretrained(window_tokens=48, overlap_tokens=16, min_context_tokens=4)


@pytest.mark.slow
def test_model_proxy_scores_and_makes_verifiable_tasks(proxy):
    import torch

    ids, ends = proxy.token_ids_and_ends(TEXT)
    assert ends[-1] == len(TEXT.encode("utf-8")) and ends == sorted(ends)
    data = TEXT.encode("utf-8")
    for k in range(1, len(ids) + 1):  # where a token end falls on a whole character, decoding stops exactly there
        try:
            head = data[:ends[k - 1]].decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert proxy.tokenizer.decode(ids[:k]) == head

    assert len(ids) > 48  # so the text spans two windows
    scored = proxy.score(TEXT)
    assert scored.ends == ends
    assert all(math.isnan(h) for h in scored.entropy_bits[:4])
    assert all(0.0 <= h <= math.log2(proxy.tokenizer.vocab_size) for h in scored.entropy_bits[4:])
    # Inside the first window the entropies are exactly those of one full forward pass.
    with torch.no_grad():
        logp = torch.log_softmax(proxy.model(torch.tensor([ids[:48]])).logits[0], dim=-1)
    full = (-(logp.exp() * logp).sum(-1) / math.log(2)).tolist()
    for position in range(4, 48):
        assert math.isclose(scored.entropy_bits[position], full[position - 1], rel_tol=1e-4, abs_tol=1e-4)

    docs = [Document("doc", "a test text", TEXT)]
    config = RptTaskConfig(min_entropy_bits=0.5, min_prefix_chars=20, max_prefix_chars=200, num_tokens=2)
    tasks = generate_tasks(docs, Scored(proxy, scored), 3, seed=0, config=config)
    assert {t.meta["tokenizer"] for t in tasks} == {"smollm2-135m-bpe"}
    for task in tasks:
        data = task.data
        assert TEXT.encode("utf-8")[:task.meta["byte_offset"]].decode("utf-8").endswith(data["prefix"])
        assert score_prediction(data["answer"], data["continuation"], data["token_ends"], 2).passed
        assert not score_prediction(data["answer"][:-1], data["continuation"], data["token_ends"], 2).passed
