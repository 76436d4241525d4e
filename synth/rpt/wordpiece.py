"""The fallback reference tokenization: a GPT-2-style regex split into words, numbers and single punctuation marks.

Like byte-level BPE pre-tokenization, a word carries the one space before it (" fox"), and a run of spaces keeps its
last space for the next word; a run of line breaks is one token. It needs no vocabulary file, so tasks made with it verify anywhere.
"""

from __future__ import annotations

import re

NAME = "wordpiece-v1"
# Alternatives, in order: English contractions, letters/underscore runs, digit runs, one punctuation mark (each with
# an optional leading space), a run of line breaks, whitespace not followed by a non-space, any other whitespace
# (so indentation keeps its last space for the next token). Together they match
# every character, so the tokens always concatenate back to the text.
_TOKEN = re.compile(r"'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d]+| ?\d+| ?[^\w\s]|\n+|\s+(?!\S)|\s+")


def split_tokens(text: str) -> list[str]:
    """The tokens of `text`; ``"".join(split_tokens(t)) == t`` for every string.

    Example: ``split_tokens("It's 42 (ok).")`` is ``["It", "'s", " 42", " (", "ok", ")", "."]``.
    """
    return _TOKEN.findall(text)


def token_ends(text: str) -> list[int]:
    """The UTF-8 byte offset where each token of `text` ends, in order (the last one is the text's byte length)."""
    ends, at = [], 0
    for token in split_tokens(text):
        at += len(token.encode("utf-8"))
        ends.append(at)
    return ends
