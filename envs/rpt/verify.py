"""The RPT verifier: find the boxed prediction in the agent's text and score it against the true continuation.

Reward 1 iff the prediction's UTF-8 bytes are a prefix of the true continuation that ends exactly where a token of
the reference tokenization ends (and covers at least the tokens the task asks for); 0 otherwise. No tokenizer runs
here: the task carries the continuation and its token byte ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentgym.api import Verdict

_BOX_OPEN = re.compile(r"\\boxed\s*\{")


@dataclass(frozen=True, slots=True)
class BoxedAnswer:
    """What the boxes of a text hold.

    - answer: the content of the LAST complete ``\\boxed{...}`` (braces inside it must balance), or None.
    - num_boxes: how many complete boxes the text has.
    - is_unclosed: a ``\\boxed{`` after the last complete box is never closed.
    """

    answer: str | None
    num_boxes: int
    is_unclosed: bool


def extract_boxed(text: str) -> BoxedAnswer:
    """The boxed answer of `text`; the last box counts (a model that revises itself boxes its final answer last).

    Content is taken verbatim: ``\\boxed{ fox}`` is " fox", ``\\boxed{f(x){y}}`` is "f(x){y}", ``\\boxed{}`` is "".

    Example: ``extract_boxed("maybe \\boxed{cat}, no: \\boxed{dog}")`` is ``BoxedAnswer("dog", 2, False)``.
    """
    answers: list[str] = []
    is_unclosed = False
    pos = 0
    while (m := _BOX_OPEN.search(text, pos)) is not None:
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            is_unclosed = True
            break
        answers.append(text[m.end():i - 1])
        pos = i
    return BoxedAnswer(answers[-1] if answers else None, len(answers), is_unclosed)


def score_prediction(prediction: str, continuation: str, token_ends: list[int], num_tokens: int = 1) -> Verdict:
    """Judge `prediction` against the true `continuation` whose reference tokens end at byte offsets `token_ends`.

    Example: continuation "fox jumps" with token ends [3, 9]: "fox" and "fox jumps" earn 1.0; "fo" (inside a token),
    " fox" (not a prefix), "" (empty) and "fox jumps over" (longer than the continuation) earn 0.0.
    """
    truth = continuation.encode("utf-8")
    # surrogatepass: a lone surrogate becomes bytes no valid UTF-8 text holds, so it can never match by accident.
    guess = prediction.encode("utf-8", errors="surrogatepass")
    shown = _show(prediction)
    if not guess:
        return _verdict(0.0, f"empty prediction {shown}: predict at least one token", 0)
    if len(guess) > len(truth):
        return _verdict(0.0, f"prediction {shown} is {len(guess)} bytes, longer than the {len(truth)}-byte "
                             f"continuation that can be checked", 0)
    if not truth.startswith(guess):
        at = next(i for i, (a, b) in enumerate(zip(guess, truth)) if a != b)
        return _verdict(0.0, f"prediction {shown} differs from the true continuation at byte {at}", 0)
    if len(guess) not in token_ends:
        return _verdict(0.0, f"prediction {shown} is a prefix of the continuation but ends inside a token "
                             f"(byte {len(guess)}; tokens end at {token_ends[:num_tokens + 3]}...)", 0)
    covered = token_ends.index(len(guess)) + 1
    if covered < num_tokens:
        return _verdict(0.0, f"prediction {shown} is right but covers {covered} tokens; the task asks for "
                             f"{num_tokens}", covered)
    return _verdict(1.0, f"prediction {shown} matches the next {covered} token(s) of the continuation", covered)


def _verdict(reward: float, reason: str, num_tokens: int) -> Verdict:
    return Verdict(reward=reward, passed=reward == 1.0, reasons=[reason],
                   components={"accuracy": reward, "num_tokens": float(num_tokens)})


def _show(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
