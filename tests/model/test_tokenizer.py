"""Tokenizer built from (synthetic) GGUF metadata, and ChatML rendering."""

from __future__ import annotations

import pytest
from agentgym.model.tokenizer import Tokenizer


def _metadata(template: str = "") -> dict:
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = ["h e", "l l", "he ll", "hell o", "Ġ w"]
    tokens = specials + alphabet + ["he", "ll", "hell", "hello", "Ġw"]
    return {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": merges,
            "tokenizer.ggml.token_type": [3, 3, 3] + [1] * (len(tokens) - 3), "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2, "tokenizer.chat_template": template}


def test_bpe_merges_special_tokens_and_round_trip():
    tok = Tokenizer.from_gguf_metadata(_metadata())
    ids = tok.encode("hello world<|im_end|>")
    assert ids[0] == tok.backend.token_to_id("hello") and ids[-1] == 2
    assert tok.decode(ids) == "hello world<|im_end|>"
    assert tok.decode(ids, skip_special_tokens=True) == "hello world"
    assert tok.decode(tok.encode("naïve 🙂")) == "naïve 🙂"


def test_render_chat_without_default_system():
    tok = Tokenizer.from_gguf_metadata(_metadata())
    text = tok.render_chat([{"role": "user", "content": "hi"}])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_render_chat_injects_smollm_default_system_when_template_has_it():
    tok = Tokenizer.from_gguf_metadata(_metadata("... named SmolLM, trained by Hugging Face ..."
                                                 .replace("...", "You are a helpful AI assistant")))
    text = tok.render_chat([{"role": "user", "content": "hi"}], add_generation_prompt=False)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face")


def test_rejects_non_bpe_tokenizers():
    with pytest.raises(ValueError, match="gpt2"):
        Tokenizer.from_gguf_metadata({**_metadata(), "tokenizer.ggml.model": "llama"})
