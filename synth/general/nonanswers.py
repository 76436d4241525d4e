"""Answers a verifier must reject: empty, default, random schema-valid, one-field mutations, and prompt-only guesses.

Random values and string substitutes are drawn from values the environment actually returns (ids, names), so they are
plausible wrong answers rather than noise that any verifier rejects.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from agentgym.synth.store import canonical_json


def normalized(value: Any) -> str:
    """A comparison key that ignores what verifiers ignore (string case and padding, int vs float)."""

    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            return round(float(v), 2)
        if isinstance(v, str):
            return v.strip().lower()
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    return canonical_json(norm(value))


def value_pool(calls: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    """Strings and numbers seen in the reference run's tool results (sorted, so the pool is deterministic)."""
    strings: set[str] = set()
    numbers: set[float] = set()

    def walk(v: Any) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, str):
            strings.add(v)
        elif isinstance(v, (int, float)):
            numbers.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for call in calls:
        walk(call.get("result"))
    return sorted(strings), sorted(numbers)


def default_value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {k: default_value(s) for k, s in schema.get("properties", {}).items()}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(kind)


def random_value(schema: dict[str, Any], rng: random.Random, strings: list[str], numbers: list[float]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {k: random_value(s, rng, strings, numbers) for k, s in schema.get("properties", {}).items()}
    if kind == "array":
        return [random_value(schema.get("items", {}), rng, strings, numbers) for _ in range(rng.randint(0, 3))]
    if kind == "string":
        return rng.choice(strings) if strings and rng.random() < 0.8 else f"x{rng.randint(0, 999)}"
    if kind in ("integer", "number"):
        base = rng.choice(numbers) if numbers and rng.random() < 0.5 else rng.randint(0, 1000)
        value = base + rng.randint(-3, 3)
        return int(value) if kind == "integer" else round(float(value), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def mutations(value: Any, schema: dict[str, Any], rng: random.Random, strings: list[str]) -> list[Any]:
    """Near misses that change exactly one field (one element for lists) of `value`."""
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        out = []
        for key, sub in schema.get("properties", {}).items():
            out += [{**value, key: m} for m in mutations(value.get(key), sub, rng, strings)]
        return out
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int) and kind == "integer":
        return [value + 1, value - 1]
    if isinstance(value, (int, float)):
        return [round(value + 1, 2), round(value * 1.1 + 0.5, 2)]
    if isinstance(value, str):
        others = [s for s in strings if s.strip().lower() != value.strip().lower()]
        return [rng.choice(others) if others else value + "x", value + "x"]
    if isinstance(value, list):
        items = schema.get("items", {})
        extra = random_value(items, rng, strings, [])
        out = [value[:-1], value + [extra]] if value else [[extra]]
        if value:
            out += [[m, *value[1:]] for m in mutations(value[0], items, rng, strings)[:1]]
        return out
    return []


def prompt_guesses(prompt: str, schema: dict[str, Any], rng: random.Random, count: int = 8) -> list[Any]:
    """Answers built from the prompt alone (numbers and capitalized words in it): what a tool-less guesser submits."""
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", prompt)]
    words = re.findall(r"\b[A-Z][A-Za-z0-9_-]+\b", prompt)
    return [random_value(schema, rng, words, numbers) for _ in range(count)]


def non_answers(reference: Any, schema: dict[str, Any], *, others: list[Any], calls: list[dict[str, Any]],
                rng: random.Random, num_random: int = 8) -> dict[str, list[Any]]:  # fmt: skip
    """Every kind of non-answer for one task, keyed by kind, with anything equal to the reference removed."""
    strings, numbers = value_pool(calls)
    kinds = {
        "empty": [None, {}, "", []],
        "default": [default_value(schema)],
        "random": [random_value(schema, rng, strings, numbers) for _ in range(num_random)],
        "other_task": list(others),
        "mutation": mutations(reference, schema, rng, strings),
    }
    right = normalized(reference)
    out: dict[str, list[Any]] = {}
    for kind, values in kinds.items():
        seen: set[str] = set()
        out[kind] = []
        for v in values:
            key = normalized(v)
            if key != right and key not in seen:
                seen.add(key)
                out[kind].append(json.loads(json.dumps(v)))
    return out
