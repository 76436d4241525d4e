"""The proxy-model interface of RPT synthesis and its no-download default: a smoothed bigram model over word pieces.

A proxy tokenizes a document (that tokenization becomes the task's reference tokenization) and scores how uncertain
it is about each next token. Hard positions — high next-token entropy — make the tasks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentgym.synth.rpt import wordpiece

BOS = "\x00<s>"  # the context of a document's first token; no real text contains it


@dataclass(frozen=True, slots=True)
class ScoredText:
    """A document under a proxy: token `i` spans bytes ``[ends[i-1], ends[i])`` of the UTF-8 text (``ends[-1] = 0``).

    `entropy_bits[i]` is the proxy's next-token entropy, in bits, just before token `i`; NaN where it has no opinion
    (e.g. no context yet).
    """

    ends: list[int]
    entropy_bits: list[float]


@runtime_checkable
class NextTokenProxy(Protocol):
    """What the task generator needs from a proxy model.

    `name` goes into each task's provenance; `tokenizer_name` names the reference tokenization of the token ends.
    """

    name: str
    tokenizer_name: str

    def score(self, text: str) -> ScoredText:
        """Token byte ends and next-token entropies of `text`."""
        ...


class BigramProxy:
    """A Witten-Bell smoothed bigram model over `wordpiece` tokens, fit on the corpus it will score.

    p(v | w) = (c(w, v) + T(w) p_uni(v)) / (c(w) + T(w)), with T(w) the number of distinct tokens seen after w and
    p_uni add-one smoothed over the vocabulary plus one unknown slot. The entropy of that full distribution is
    computed exactly in O(number of successors of w), and cached per context.
    """

    name = "bigram"
    tokenizer_name = wordpiece.NAME

    def __init__(self, texts: Sequence[str]) -> None:
        if not texts:
            raise ValueError("texts must hold at least one document to fit the bigram proxy on")
        self.unigrams: Counter[str] = Counter()
        self.successors: dict[str, Counter[str]] = {}
        for text in texts:
            tokens = wordpiece.split_tokens(text)
            self.unigrams.update(tokens)
            for prev, nxt in zip([BOS, *tokens], tokens):
                self.successors.setdefault(prev, Counter())[nxt] += 1
        self.num_tokens = sum(self.unigrams.values())
        self.vocab_size = len(self.unigrams) + 1  # + the unknown slot
        denominator = self.num_tokens + self.vocab_size
        self.unigram_entropy = -sum((c + 1) / denominator * math.log((c + 1) / denominator)
                                    for c in self.unigrams.values())
        self.unigram_entropy -= 1 / denominator * math.log(1 / denominator)  # the unknown slot
        self._entropy_cache: dict[str, float] = {}

    def p_unigram(self, token: str) -> float:
        return (self.unigrams.get(token, 0) + 1) / (self.num_tokens + self.vocab_size)

    def probability(self, token: str, context: str) -> float:
        """p(token | context) under the smoothed model (sums to 1 over the vocabulary and the unknown slot)."""
        seen = self.successors.get(context)
        if not seen:
            return self.p_unigram(token)
        count, distinct = sum(seen.values()), len(seen)
        return (seen.get(token, 0) + distinct * self.p_unigram(token)) / (count + distinct)

    def entropy_nats(self, context: str) -> float:
        """The entropy of p(· | context), in nats."""
        cached = self._entropy_cache.get(context)
        if cached is not None:
            return cached
        seen = self.successors.get(context)
        if not seen:
            h = self.unigram_entropy
        else:
            count, distinct = sum(seen.values()), len(seen)
            alpha = distinct / (count + distinct)
            # Every token gets alpha * p_uni; the sum of -q log q over all of them has a closed form ...
            h = -alpha * math.log(alpha) + alpha * self.unigram_entropy
            # ... then the seen successors swap their backoff-only term for their true one.
            for token, c in seen.items():
                backoff = alpha * self.p_unigram(token)
                p = c / (count + distinct) + backoff
                h += backoff * math.log(backoff) - p * math.log(p)
        self._entropy_cache[context] = h
        return h

    def score(self, text: str) -> ScoredText:
        tokens = wordpiece.split_tokens(text)
        ends, at = [], 0
        for token in tokens:
            at += len(token.encode("utf-8"))
            ends.append(at)
        entropy = [self.entropy_nats(prev) / math.log(2) for prev in [BOS, *tokens[:-1]]]
        return ScoredText(ends=ends, entropy_bits=entropy)
