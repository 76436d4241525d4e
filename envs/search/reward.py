"""The search env's verifier: SQuAD-style normalized exact match is the reward; token F1 is reported beside it.

Normalization (as in the SQuAD v1.1 evaluation script): lowercase, drop punctuation, drop the articles a/an/the,
collapse whitespace. So ``"The `json` module."`` and ``"json module"`` are equal; ``"json"`` and ``"json module"`` are
not (F1 0.67).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

from agentgym.api import Verdict

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
MAX_ANSWER_CHARS = 2_000


def normalize_answer(text: str) -> str:
    """Lowercase, remove punctuation, articles and extra whitespace. ``"The  JSON-module!"`` → ``"jsonmodule"``."""
    text = text.lower().translate(_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the normalized strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    """Token-level F1 between the normalized strings (0.0 when either is empty and they differ)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(truth).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def score_answer(answer: str, accepted: Sequence[str]) -> Verdict:
    """The verdict for `answer` against the accepted answers: the best exact match and the best F1 over them.

    Raises:
        ValueError: `accepted` is empty (a task without a verified answer cannot be scored).
    """
    if not accepted:
        raise ValueError("accepted must hold at least one answer")
    answer = answer[:MAX_ANSWER_CHARS]
    em = max(exact_match(answer, truth) for truth in accepted)
    f1 = max(f1_score(answer, truth) for truth in accepted)
    shown = ", ".join(repr(normalize_answer(a)) for a in accepted)
    if em:
        reason = f"exact match: normalized answer {normalize_answer(answer)!r} is one of the accepted [{shown}]"
    else:
        reason = f"no exact match: normalized answer {normalize_answer(answer)!r} is not one of [{shown}]"
    reasons = [reason, f"reward = exact match = {em:g}; token F1 = {f1:.2f} is reported for information only"]
    return Verdict(reward=em, passed=em == 1.0, reasons=reasons, components={"exact_match": em, "f1": f1})
