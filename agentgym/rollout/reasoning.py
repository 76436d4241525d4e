"""Reasoning in raw completions: `<think>…</think>` at the start of a reply is the thinking, the rest is the answer.

`split_reasoning` and `join_reasoning` are exact inverses, so a turn whose reasoning is kept renders back to the very
tokens that were sampled (the next turn continues the same training segment), and a turn whose reasoning was dropped
renders differently (the history was rewritten: a new segment starts, see `agentgym.rollout.engine_policy`).
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, content): `"<think>R</think>C"` -> `("R", "C")`; text without a leading closed block -> (None, text).

    Nothing is stripped, so `join_reasoning(*split_reasoning(t)) == t` for every `t`.
    """
    if not text.startswith(THINK_OPEN):
        return None, text
    end = text.find(THINK_CLOSE, len(THINK_OPEN))
    if end < 0:
        return None, text  # an unclosed block (cut by length) stays content: nothing is silently removed
    return text[len(THINK_OPEN):end], text[end + len(THINK_CLOSE):]


def join_reasoning(reasoning: str | None, content: str) -> str:
    """The reply as the model wrote it: `<think>reasoning</think>content`, or just `content` without reasoning."""
    if reasoning is None:
        return content
    return f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{content}"
