"""The one tokenizer used to index passages and to parse queries (and by the rank-bm25 baseline in the benchmark).

Words are lowercased runs of letters, digits and underscores. An identifier such as ``get_terminal_size`` yields
itself and its parts (``get``, ``terminal``, ``size``), so both the exact name and a plain-words query find it. Common
English words are dropped, except those that are Python keywords (``if``, ``for``, ``not``...) since queries about
the language need them. Stemming (PyStemmer's Snowball English) is optional and recorded in the index manifest.
"""

from __future__ import annotations

import re
from typing import Callable

from agentgym.errors import require

_WORD = re.compile(r"\w+")
# Lucene's English stop set without the words that are also Python keywords.
STOPWORDS = frozenset({
    "a", "an", "are", "at", "be", "but", "by", "into", "it", "no", "of", "on", "such", "that", "the", "their", "then",
    "there", "these", "they", "this", "to", "was", "will",
})


class Tokenizer:
    """Turns text into index terms. Stemmed forms are memoized, since corpora repeat the same words.

    Args:
        stemmer: ``"english"`` (needs PyStemmer, in the `search` extra) or None for no stemming.
    """

    def __init__(self, *, stemmer: str | None = "english") -> None:
        if stemmer not in (None, "english"):
            raise ValueError(f"stemmer must be 'english' or None, got {stemmer!r}")
        self.stemmer = stemmer
        self._memo: dict[str, list[str]] = {}
        self._stem: Callable[[str], str] = _identity
        if stemmer is not None:
            module = require("Stemmer", "search", "stemming in the search index")
            self._stem = module.Stemmer(stemmer).stemWord

    def __call__(self, text: str) -> list[str]:
        terms: list[str] = []
        memo = self._memo
        for word in _WORD.findall(text.lower()):
            found = memo.get(word)
            if found is None:
                found = memo[word] = self._terms(word)
            terms.extend(found)
        return terms

    def _terms(self, word: str) -> list[str]:
        if "_" not in word.strip("_"):
            word = word.strip("_")
            return [] if len(word) < 2 or word in STOPWORDS else [self._stem(word)]
        parts = [p for p in word.split("_") if len(p) >= 2 and p not in STOPWORDS]
        return [word.strip("_")] + [self._stem(p) for p in parts]


def _identity(word: str) -> str:
    return word
