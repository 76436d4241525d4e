"""The DeepSeek-V3 chat template over a byte-level BPE vocabulary: markers, reasoning stripping, tool calls."""

from __future__ import annotations

import pytest
from agentgym.model import deepseek_template as ds
from agentgym.model.tokenizer import Tokenizer

from agentgym.tools import parse_tool_calls


def _metadata(template: str = "") -> dict:
    from tokenizers import pre_tokenizers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = specials + alphabet + ["he", "ll"]
    return {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": ["h e", "l l"],
            "tokenizer.ggml.token_type": [3, 3, 3] + [1] * (len(tokens) - 3), "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2, "tokenizer.chat_template": template}


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer.from_gguf_metadata(_metadata()).with_template("deepseek")


def test_markers_are_single_added_ids_and_bos_eos_are_special(tok):
    chatml = Tokenizer.from_gguf_metadata(_metadata())
    assert tok.vocab_size == chatml.vocab_size + len(ds.SPECIAL_TOKENS) + len(ds.MARKER_TOKENS)
    assert tok.encode(ds.BOS) == [tok.bos_id] and tok.encode(ds.EOS) == [tok.eos_id] == [tok.pad_id]
    assert min(tok.bos_id, tok.eos_id) >= chatml.vocab_size  # appended after the base vocabulary
    for marker in ds.MARKER_TOKENS:
        assert len(tok.encode(marker)) == 1, marker
    text = f"{ds.BOS}hello{ds.THINK_OPEN}x{ds.THINK_CLOSE}{ds.CALLS_BEGIN}{ds.EOS}"
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode(text), skip_special_tokens=True) == f"hello<think>x</think>{ds.CALLS_BEGIN}"
    assert chatml.template == "chatml" and tok.with_template("chatml").template == "chatml"


def test_from_gguf_metadata_picks_deepseek_from_the_template_text():
    tok = Tokenizer.from_gguf_metadata(_metadata("{{'<｜Assistant｜>'}}"))
    assert tok.template == "deepseek" and tok.decode([tok.bos_id]) == ds.BOS
    with pytest.raises(ValueError, match=r"^chat template must be one of \('chatml', 'deepseek', 'jinja'\), got 'llama'$"):
        tok.with_template("llama")


def test_render_conversation_with_tool_call_and_output(tok):
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "<think>plan</think>ok",
                 "tool_calls": [{"name": "f", "arguments": {"a": 1}}]},
                {"role": "tool", "content": "42\r\n"}]
    text = tok.render_chat(messages)
    assert text == ("<｜begin▁of▁sentence｜>sys<｜User｜>hi<｜Assistant｜><think>plan</think>ok<｜tool▁calls▁begin｜>"
                    "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\": 1}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
                    "<｜end▁of▁sentence｜><｜tool▁output▁begin｜>42\r\n<｜tool▁output▁end｜><｜Assistant｜>")
    reply = text.split("<｜Assistant｜>")[1].split("<｜end▁of▁sentence｜>")[0]
    [call] = parse_tool_calls(reply, "deepseek").calls
    assert (call.name, call.arguments) == ("f", {"a": 1})


def test_reasoning_is_kept_across_tool_calls_and_dropped_once_a_user_message_follows(tok):
    turn = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>r1</think>a1"},
            {"role": "tool", "content": "out"}]
    assert "<think>r1</think>a1" in tok.render_chat(turn)
    later = tok.render_chat(turn + [{"role": "assistant", "content": "<think>r2</think>a2"},
                                    {"role": "user", "content": "next"}])
    assert "r1" not in later and "r2" not in later and "<｜Assistant｜>a1<｜end▁of▁sentence｜>" in later
    unclosed = tok.render_chat([{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>cut"},
                                {"role": "user", "content": "next"}])
    assert "<think>cut" in unclosed  # nothing but a closed block is ever removed


def test_tools_section_lists_each_tool(tok):
    tools = [{"type": "function", "function": {"name": "search", "description": "Find.",
                                                "parameters": {"type": "object"}}}]
    text = tok.render_chat([{"role": "user", "content": "q"}], tools)
    assert text.startswith("<｜begin▁of▁sentence｜>## Tools\n") and "### search\nDescription: Find." in text
    assert text.endswith("<｜User｜>q<｜Assistant｜>")
