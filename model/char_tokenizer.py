"""`CharTokenizer`: one id per character, for models trained from scratch (the `echo_letter` env, tests, toy runs).

With `agentgym.envs.echo_letter` it is the smallest setting where GRPO learning is visible: a model trained from
scratch must learn to answer the letter the user shows (a random policy over the vocabulary earns about 1/vocab).
"""

from __future__ import annotations

from collections.abc import Iterable

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<pad>"
ALPHABET = "abcdefgh" + "sut\n "
"""The echo_letter env's letters, then the role initials and whitespace of the compact chat format."""


class CharTokenizer:
    """One id per character of `alphabet` after three specials (pad 0, bos 1 = `<|im_start|>`, eos 2 = `<|im_end|>`).

    The chat format is a compact ChatML: each message is `<|im_start|>` + role initial + content + `<|im_end|>` + newline; the
    generation prompt is `<|im_start|>a`. Tools are not rendered (the toy env has none). Prompts stay shorter than the
    tiny preset's sparse-attention top-k, so every token is visible to every query.
    """

    def __init__(self, alphabet: str = ALPHABET) -> None:
        self.specials = [PAD, BOS, EOS]
        self.alphabet = alphabet
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        self.stop_ids = [self.eos_id]
        self.default_system = None
        self._ids = {c: i + len(self.specials) for i, c in enumerate(alphabet)}

    @property
    def vocab_size(self) -> int:
        return len(self.specials) + len(self.alphabet)

    def encode(self, text: str) -> list[int]:
        out, i = [], 0
        while i < len(text):
            for sid, special in enumerate(self.specials):
                if text.startswith(special, i):
                    out.append(sid)
                    i += len(special)
                    break
            else:
                out.append(self._ids.get(text[i], self._ids[" "]))
                i += 1
        return out

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        parts = []
        for t in ids:
            if t < len(self.specials):
                if not skip_special_tokens:
                    parts.append(self.specials[t])
            elif t - len(self.specials) < len(self.alphabet):
                parts.append(self.alphabet[t - len(self.specials)])
        return "".join(parts)

    def render_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> str:
        body = "".join(f"{BOS}{m['role'][0]}{m.get('content') or ''}{EOS}\n" for m in messages)
        return body + (f"{BOS}a" if add_generation_prompt else "")

    def encode_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> list[int]:
        return self.encode(self.render_chat(messages, tools, add_generation_prompt))
