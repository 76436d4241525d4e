"""Reward shaping on top of the env's verdict: DAPO's overlong length penalty and R1's language-consistency reward."""

from __future__ import annotations

import re
import unicodedata

from agentgym.tools import parse_tool_calls

_BOXED = re.compile(r"\\boxed\{[^{}]+\}")


def length_penalty(num_tokens: int, *, max_tokens: int, buffer: int) -> float:
    """DAPO soft overlong punishment: 0 up to max_tokens − buffer, then −(L − (max − buffer)) / buffer, floor −1.

    Example: max_tokens=100, buffer=20: L=80 -> 0.0, L=90 -> −0.5, L=100 -> −1.0, L=130 -> −1.0.
    """
    if max_tokens <= 0 or not 0 < buffer <= max_tokens:
        raise ValueError(f"need max_tokens > 0 and 0 < buffer <= max_tokens, got {max_tokens}, {buffer}")
    free = max_tokens - buffer
    if num_tokens <= free:
        return 0.0
    return max(-1.0, -(num_tokens - free) / buffer)


SCRIPTS = {"en": "LATIN", "latin": "LATIN", "zh": "CJK", "ru": "CYRILLIC", "el": "GREEK", "ar": "ARABIC"}
"""Language codes -> the Unicode script whose letters count as that language (by character name prefix)."""


def language_consistency(text: str, language: str = "en") -> float:
    """Share of the letters in `text` that belong to `language`'s script (R1's language-consistency reward).

    Digits, punctuation and spaces are ignored; a text with no letters scores 1.0 (nothing inconsistent).
    Example: "the answer is 42" -> 1.0; "the 答案 is" -> 5/7 (5 Latin letters out of 7 letters).
    """
    if language not in SCRIPTS:
        raise ValueError(f"unknown language {language!r}; known: {sorted(SCRIPTS)}")
    script = SCRIPTS[language]
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    inside = sum(1 for c in letters if unicodedata.name(c, "").startswith(script))
    return inside / len(letters)


def format_score(text: str, tool_names: set[str] | frozenset[str] = frozenset()) -> float:
    """1.0 when a reply is well-formed: a tool call that parses and names a known tool (any name when `tool_names`
    is empty), or a final answer in `\\boxed{...}`; 0.0 otherwise (no call, a malformed call, an unknown tool).

    Example: '<tool_call>{"name": "submit", "arguments": {"answer": 3}}</tool_call>' -> 1.0; "the answer is 3" -> 0.0.
    """
    parsed = parse_tool_calls(text)
    if parsed.calls and not parsed.errors and all(not tool_names or c.name in tool_names for c in parsed.calls):
        return 1.0
    return 1.0 if _BOXED.search(text) else 0.0


def shaped_reward(env_reward: float, *, completion_tokens: int, text: str, max_tokens: int | None = None,
                  buffer: int = 0, language: str | None = None, language_weight: float = 0.0,
                  format_weight: float = 0.0, format_text: str | None = None,
                  tool_names: frozenset[str] = frozenset()) -> tuple[float, dict]:
    """(total reward, its components): env reward + length penalty + language_weight · consistency
    + format_weight · format_score(format_text or text)."""
    components = {"env": float(env_reward)}
    total = float(env_reward)
    if format_weight:
        components["format"] = format_weight * format_score(text if format_text is None else format_text,
                                                            tool_names)
        total += components["format"]
    if max_tokens is not None:
        components["length_penalty"] = length_penalty(completion_tokens, max_tokens=max_tokens, buffer=buffer)
        total += components["length_penalty"]
    if language is not None and language_weight:
        components["language"] = language_weight * language_consistency(text, language)
        total += components["language"]
    return total, components
