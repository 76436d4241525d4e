"""`Document`: one indexed text with a stable id and a title, and the corpus hash over a list of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """One document of a corpus.

    Attributes:
        id: stable across rebuilds of the same source: a qualified name (``"json.dumps"``), ``"topic:NAME"`` for a
            language-reference topic, or the path relative to the source folder (``"guide/intro.md"``).
        title: a short human title shown in search results (``"json.dumps"``, ``"Getting started"``).
        text: the full plain text; `open` pages through it and `find` searches its lines.
        kind: what the document describes (``"function"``, ``"class"``, ``"method"``, ``"module"``, ``"topic"``,
            ``"file"``).
        url: where the document lives, when it has an address (HTTP backends; absent for local files).
        meta: structured facts the task generator uses (module, signature, member lists); never shown to the agent.
    """

    id: str
    title: str
    text: str
    kind: str = "file"
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or self.id != self.id.strip():
            raise ValueError(f"id must be a non-empty string without surrounding spaces, got {self.id!r}")
        if not isinstance(self.text, str):
            raise ValueError(f"text must be a string, got {type(self.text).__name__}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Document:
        return cls(**record)


def corpus_hash(documents: Iterable[Document]) -> str:
    """A SHA-256 over ids, titles and texts in order: equal hashes mean the same corpus, whatever machine built it."""
    digest = hashlib.sha256()
    for doc in documents:
        for part in (doc.id, doc.title, doc.text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()
