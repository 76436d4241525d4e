"""Long-tail entity sampling through the search tools: a seeded random walk over search results.

An entity is an API document (function, method or class) whose short name identifies it among the search results
for that name (no other hit has the same last name component) and is rarely mentioned: at most `max_mentions` hits
show the name in their title or snippet. Such entities are what DeepSeek-V3.2's search pipeline calls long-tail: an
answer agent cannot lean on popularity to guess facts about them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from agentgym.synth.search.session import ToolSession

ENTITY_KINDS = ("function", "method", "class")
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{4,}")


@dataclass(frozen=True, slots=True)
class Entity:
    """A document the question starts from: its id, short name and kind."""

    doc_id: str
    name: str
    kind: str
    num_mentions: int


async def sample_entity(session: ToolSession, rng: random.Random, *, seed_queries: tuple[str, ...],
                        walk_steps: int, max_mentions: int, max_candidates: int = 12) -> Entity | None:
    """Walk `walk_steps` searches from a random seed query (each next query is a word from a random snippet), then
    return the first long-tail entity among the hits seen, in a seeded random order; None when none qualifies."""
    query = rng.choice(seed_queries)
    seen: list[str] = []
    for _ in range(walk_steps):
        hits = await session.search(query, k=10)
        if not hits:
            query = rng.choice(seed_queries)
            continue
        seen.extend(h.id for h in hits if h.id not in seen)
        words = _WORD.findall(rng.choice(hits).snippet)
        query = rng.choice(words) if words else rng.choice(seed_queries)
    rng.shuffle(seen)
    for doc_id in seen[:max_candidates]:
        entity = await check_entity(session, doc_id, max_mentions=max_mentions)
        if entity is not None:
            return entity
    return None


async def check_entity(session: ToolSession, doc_id: str, *, max_mentions: int) -> Entity | None:
    """The entity for `doc_id` if it is an API document with a unique, rarely mentioned short name."""
    name = doc_id.rpartition(".")[2]
    if "." not in doc_id or len(name) < 4 or not name.isidentifier():
        return None
    kind = await session.label(doc_id, "Kind")
    if kind not in ENTITY_KINDS:
        return None
    hits = await session.search(name, k=20)
    same_name = [h.id for h in hits if h.id.rpartition(".")[2] == name]
    if same_name != [doc_id]:
        return None
    mentions = sum(name.lower() in (h.title + " " + h.snippet).lower() for h in hits)
    if mentions > max_mentions:
        return None
    return Entity(doc_id=doc_id, name=name, kind=kind, num_mentions=mentions)
