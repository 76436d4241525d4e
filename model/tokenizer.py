"""Byte-level BPE tokenizer built from GGUF metadata with the `tokenizers` library, plus chat rendering (ChatML, or the
DeepSeek-V3 format of `deepseek_template`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from . import deepseek_template as deepseek

CHAT_TEMPLATES = ("chatml", "deepseek", "jinja")
CONTROL_TOKEN_TYPE = 3
USER_DEFINED_TOKEN_TYPE = 4
SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>'
)


def _byte_alphabet() -> set[str]:
    from tokenizers import pre_tokenizers

    return set(pre_tokenizers.ByteLevel.alphabet())


class Tokenizer:
    """Text <-> token ids, special-token ids and the chat format of one model.

    Attributes:
        bos_id, eos_id, pad_id: special ids (SmolLM2: 1 `<|im_start|>`, 2 `<|im_end|>`, 2).
        default_system: system prompt injected when a conversation does not start with one (None: never).
        stop_ids: ids that end an assistant turn.
        template: the chat format `render_chat` writes: "chatml", "deepseek" (see `with_template`) or "jinja" (the
            model's own HF chat template, `chat_template`, as transformers renders it).
        chat_template: the HF Jinja chat template (from a checkpoint folder's tokenizer_config.json), or None.
    """

    def __init__(self, backend: Any, bos_id: int, eos_id: int, pad_id: int, default_system: str | None,
                 template: str = "chatml", chat_template: str | None = None) -> None:
        if template not in CHAT_TEMPLATES:
            raise ValueError(f"chat template must be one of {CHAT_TEMPLATES}, got {template!r}")
        if template == "jinja" and not chat_template:
            raise ValueError("chat template 'jinja' needs the template text (chat_template)")
        self.chat_template = chat_template
        self.backend = backend
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.default_system = default_system
        self.stop_ids = [eos_id]
        self.template = template

    @classmethod
    def from_gguf_metadata(cls, metadata: dict[str, Any]) -> Tokenizer:
        """Rebuild the tokenizer llama.cpp describes (`tokenizer.ggml.model == "gpt2"`: byte-level BPE).

        Like transformers' GGUF path: BPE over the vocab and merges, GPT-2 byte-level pre-tokenization, and
        control tokens (type 3) added whole as special tokens so `<|im_start|>` is never split.
        """
        try:
            from tokenizers import AddedToken, decoders, models, pre_tokenizers
            from tokenizers import Tokenizer as HFTokenizer
        except ImportError as e:
            raise ImportError("the tokenizer needs the `tokenizers` package: pip install 'agentgym-rl[model]'") from e
        kind = metadata.get("tokenizer.ggml.model")
        if kind != "gpt2":
            raise ValueError(f"Tokenizer.from_gguf_metadata: only byte-level BPE ('gpt2') is supported, got {kind!r}")
        tokens = list(metadata["tokenizer.ggml.tokens"])
        types = list(metadata.get("tokenizer.ggml.token_type", [1] * len(tokens)))
        merges = [tuple(m.split(" ", 1)) for m in metadata["tokenizer.ggml.merges"]]
        bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, fuse_unk=False)
        backend = HFTokenizer(bpe)
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        alphabet = _byte_alphabet()
        control = [AddedToken(t, normalized=False, special=True) for t, ty in zip(tokens, types)
                   if ty == CONTROL_TOKEN_TYPE and set(t) <= alphabet]
        backend.add_special_tokens(control)
        user = [AddedToken(t, normalized=False, special=False) for t, ty in zip(tokens, types)
                if ty == USER_DEFINED_TOKEN_TYPE]
        if user:
            backend.add_tokens(user)
        template = metadata.get("tokenizer.chat_template", "")
        default_system = SMOLLM2_DEFAULT_SYSTEM if SMOLLM2_DEFAULT_SYSTEM in template else None
        eos = int(metadata.get("tokenizer.ggml.eos_token_id", 0))
        tokenizer = cls(backend, bos_id=int(metadata.get("tokenizer.ggml.bos_token_id", eos)), eos_id=eos,
                        pad_id=int(metadata.get("tokenizer.ggml.padding_token_id", eos)),
                        default_system=default_system, chat_template=template or None)
        return tokenizer.with_template("deepseek") if deepseek.ASSISTANT in template else tokenizer

    def with_template(self, name: str) -> Tokenizer:
        """This vocabulary with chat format `name` ("chatml" or "deepseek").

        "deepseek" adds the DeepSeek markers the vocabulary lacks as added tokens after its last id (a model needs
        `vocab_size >= tokenizer.vocab_size`): `<｜begin▁of▁sentence｜>` and `<｜end▁of▁sentence｜>` as special tokens
        (they become `bos_id`, `eos_id` = `pad_id`, and are dropped by `decode(skip_special_tokens=True)`), `<｜User｜>`,
        `<｜Assistant｜>`, the tool-call/tool-output markers, `<think>` and `</think>` as ordinary added tokens (one id
        each, kept in decoded text so the env can parse calls and reasoning out of a reply).
        """
        if name not in CHAT_TEMPLATES:
            raise ValueError(f"chat template must be one of {CHAT_TEMPLATES}, got {name!r}")
        if name in ("chatml", "jinja") or name == self.template:
            return Tokenizer(self.backend, self.bos_id, self.eos_id, self.pad_id, self.default_system, name,
                             self.chat_template)
        from tokenizers import AddedToken
        from tokenizers import Tokenizer as HFTokenizer

        backend = HFTokenizer.from_str(self.backend.to_str())
        backend.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in deepseek.SPECIAL_TOKENS])
        backend.add_tokens([AddedToken(t, normalized=False, special=False) for t in deepseek.MARKER_TOKENS])
        eos = backend.token_to_id(deepseek.EOS)
        return Tokenizer(backend, bos_id=backend.token_to_id(deepseek.BOS), eos_id=eos, pad_id=eos,
                         default_system=None, template="deepseek")

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; special-token strings in it (e.g. `<|im_end|>`) become their single ids."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def render_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> str:
        """Chat text of a conversation: ChatML (SmolLM2's template; Hermes-style tools when `tools` is given), or with
        `template == "deepseek"` the DeepSeek-V3 format (`deepseek_template.render_deepseek`).

        Messages are `{"role": "system"|"user"|"assistant"|"tool", "content": str}`; an assistant message may carry
        `tool_calls: [{"name": ..., "arguments": {...}}]` (OpenAI's `{"function": {...}}` wrapper is accepted).
        Tool results (role "tool") are rendered as a user turn wrapped in `<tool_response>` tags. With tools, their
        JSON schemas go into the system message between `<tools>` tags.

        Example (no tools): `[{"role": "user", "content": "hi"}]` ->
        "<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, ...<|im_end|>\\n<|im_start|>user\\nhi"
        "<|im_end|>\\n<|im_start|>assistant\\n".
        """
        if self.template == "deepseek":
            return deepseek.render_deepseek(list(messages), tools, add_generation_prompt)
        if self.template == "jinja":
            return render_jinja(self.chat_template, messages, tools, add_generation_prompt,
                                bos_token=self.backend.id_to_token(self.bos_id) or "",
                                eos_token=self.backend.id_to_token(self.eos_id) or "")
        messages = list(messages)
        has_system = bool(messages) and messages[0].get("role") == "system"
        if not has_system and (self.default_system is not None or tools):
            messages.insert(0, {"role": "system", "content": self.default_system or ""})
        if tools:
            specs = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
            system = messages[0]["content"]
            preamble = TOOLS_PREAMBLE.format(tools=specs)
            messages[0] = {"role": "system", "content": f"{system}\n\n{preamble}" if system else preamble}
        parts = [self._render_message(m) for m in messages]
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts)

    @staticmethod
    def _render_message(message: dict) -> str:
        role, content = message["role"], message.get("content") or ""
        if role == "tool":
            return f"<|im_start|>user\n<tool_response>\n{content}\n</tool_response><|im_end|>\n"
        for call in message.get("tool_calls") or []:
            fn = call.get("function", call)
            args = fn.get("arguments", {})
            if isinstance(args, str):
                args = json.loads(args)
            body = json.dumps({"name": fn["name"], "arguments": args}, ensure_ascii=False)
            call_text = f"<tool_call>\n{body}\n</tool_call>"
            content = f"{content}\n{call_text}" if content else call_text
        return f"<|im_start|>{role}\n{content}<|im_end|>\n"

    def encode_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> list[int]:
        return self.encode(self.render_chat(messages, tools, add_generation_prompt))


def render_jinja(template: str, messages: list[dict], tools: list[dict] | None, add_generation_prompt: bool,
                 **special: str) -> str:
    """Render an HF chat template as transformers does (sandboxed Jinja, trim/lstrip blocks, `tojson`,
    `raise_exception`); our `tool_calls: [{"name", "arguments"}]` become OpenAI's `{"type": "function", ...}`."""
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as e:
        raise ImportError("HF chat templates need jinja2: pip install jinja2") from e

    def raise_exception(message: str) -> None:
        raise ValueError(f"chat template: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    wired = []
    for m in messages:
        calls = [c if "function" in c else {"type": "function", "function": c} for c in m.get("tool_calls") or []]
        wired.append({**m, "tool_calls": calls} if calls else m)
    return env.from_string(template).render(messages=wired, tools=tools or None,
                                            add_generation_prompt=add_generation_prompt, **special)
