"""`Corpus`: the builder agent's local search over a folder of text files (a small bm25s index, built in memory).

The search env's index builder lives in `envs/search`, which synth may not import, so this is a separate, smaller
index: one bm25s document per file (no stemming, English stop words), built when the builder starts. Without bm25s it
falls back to ranking files by how many query words they contain. Document ids are file paths relative to the
corpus folder (``cities/lyon.txt``); the builder records them as the source of every row it stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".txt", ".md", ".csv", ".json", ".tsv")
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the document id, its first line as a title, a snippet around the best match, its score."""

    doc_id: str
    title: str
    snippet: str
    score: float


class Corpus:
    """The text files under `root` (recursively), searchable with `search` and readable with `open`.

    Args:
        root: the corpus folder.
        max_docs: read at most this many files (sorted by path).

    Raises:
        ValueError: `root` is not a folder or holds no readable text file.
    """

    def __init__(self, root: str | Path, *, max_docs: int = 10_000) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"corpus {str(self.root)!r} is not a folder")
        self.docs: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES and path.stat().st_size <= MAX_FILE_BYTES:
                self.docs[path.relative_to(self.root).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
            if len(self.docs) >= max_docs:
                break
        if not self.docs:
            raise ValueError(f"corpus {str(self.root)!r} holds no text files ({', '.join(SUFFIXES)})")
        self.ids = list(self.docs)
        self.backend = "substring"
        self._index = None
        try:
            import bm25s
        except ImportError:
            return
        tokens = bm25s.tokenize([self.docs[i] for i in self.ids], stopwords="en", show_progress=False)
        self._index = bm25s.BM25()
        self._index.index(tokens, show_progress=False)
        self.backend = "bm25s"

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The `k` best documents for `query` (fewer when fewer match)."""
        if not query.strip():
            raise ValueError("query must not be empty")
        k = max(1, min(k, len(self.ids)))
        scored: list[tuple[str, float]]
        if self._index is not None:
            import bm25s

            tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
            if not tokens.vocab:
                return []
            docs, scores = self._index.retrieve(tokens, k=k, show_progress=False)
            scored = [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
        else:
            words = _words(query)
            counts = [(i, float(sum(w in self.docs[i].lower() for w in words))) for i in self.ids]
            scored = sorted((c for c in counts if c[1] > 0), key=lambda c: (-c[1], c[0]))[:k]
        return [Hit(doc_id=i, title=self.docs[i].strip().splitlines()[0][:80] if self.docs[i].strip() else i,
                    snippet=_snippet(self.docs[i], query), score=round(s, 3)) for i, s in scored]

    def open(self, doc_id: str, *, offset: int = 0, max_chars: int = 4000) -> str:
        """Up to `max_chars` characters of document `doc_id` from `offset` (raises KeyError for an unknown id)."""
        if doc_id not in self.docs:
            raise KeyError(f"no document {doc_id!r} in the corpus; use an id that search returned")
        text = self.docs[doc_id]
        chunk = text[offset : offset + max_chars]
        rest = len(text) - offset - len(chunk)
        return chunk + (f"\n[... {rest} more characters; open with offset={offset + len(chunk)}]" if rest > 0 else "")


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if len(w) > 2]


def _snippet(text: str, query: str, width: int = 160) -> str:
    lower = text.lower()
    spots = [lower.find(w) for w in _words(query) if w in lower]
    start = max(0, min(spots) - width // 4) if spots else 0
    return " ".join(text[start : start + width].split())
