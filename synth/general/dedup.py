"""Near-duplicate detection: MinHash over a normalized prompt's word 3-shingles, keyed by the tool-signature hash.

Two tasks are duplicates when they use the same tool signature (names and parameter schemas) and their prompts'
estimated Jaccard similarity reaches `threshold`. LSH banding finds candidates without comparing every pair.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from agentgym.synth.store import canonical_json

NUM_PERMUTATIONS = 64
NUM_BANDS = 16
_MASK = (1 << 61) - 1


def normalize_prompt(prompt: str) -> str:
    """Lowercase, punctuation dropped, whitespace collapsed (numbers kept: they change the task)."""
    return " ".join(re.sub(r"[^\w.]+", " ", prompt.lower()).split())


def tool_signature(tools: list[dict[str, Any]]) -> str:
    """Hash of the sorted tool names with their parameter schemas."""
    items = sorted((t["name"], canonical_json(t.get("parameters", {}))) for t in tools)
    return hashlib.sha256(canonical_json(items).encode()).hexdigest()[:16]


def minhash(text: str) -> list[int]:
    """`NUM_PERMUTATIONS` MinHash values of the word 3-shingles of `normalize_prompt(text)`."""
    words = normalize_prompt(text).split()
    shingles = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
    hashes = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles]
    out = []
    for i in range(NUM_PERMUTATIONS):
        a, b = 2 * i + 1 + (i << 33), (i * 0x9E3779B97F4A7C15) & _MASK
        out.append(min(((a * h + b) & _MASK) for h in hashes))
    return out


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return sum(x == y for x, y in zip(a, b)) / len(a)


class DedupIndex:
    """Remembers accepted tasks; `is_duplicate` compares a new one with its LSH-band neighbours."""

    def __init__(self, threshold: float = 0.9) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        self.threshold = threshold
        self._buckets: dict[tuple[str, int, tuple[int, ...]], list[list[int]]] = {}

    @staticmethod
    def _bands(signature: list[int]) -> list[tuple[int, tuple[int, ...]]]:
        rows = len(signature) // NUM_BANDS
        return [(i, tuple(signature[i * rows : (i + 1) * rows])) for i in range(NUM_BANDS)]

    def is_duplicate(self, tool_sig: str, signature: list[int]) -> bool:
        for band in self._bands(signature):
            for other in self._buckets.get((tool_sig, *band), []):
                if similarity(signature, other) >= self.threshold:
                    return True
        return False

    def add(self, tool_sig: str, signature: list[int]) -> None:
        for band in self._bands(signature):
            self._buckets.setdefault((tool_sig, *band), []).append(signature)
