"""`LocalIndex`: the local `SearchBackend`, a built index folder searched with bm25s.

Loaded indexes are shared: `open_index` keeps one `LocalIndex` per folder and corpus hash for the whole process,
because a rollout makes hundreds of env instances over the same read-only index.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from agentgym.envs.search.backend import DocumentNotFound, SearchHit
from agentgym.envs.search.builder import FORMAT_VERSION
from agentgym.envs.search.documents import Document
from agentgym.envs.search.tokenizer import STOPWORDS, Tokenizer
from agentgym.errors import require

SNIPPET_CHARS = 240
_WORD = re.compile(r"\w+")


class IndexFormatError(ValueError):
    """The folder is not an index this version can read (missing files, other format version)."""


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of an index folder. Raises `IndexFormatError` when it is missing or unreadable."""
    manifest_path = Path(path) / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexFormatError(f"{path} is not a search index ({manifest_path.name}: {e}); build one with "
                               f"`agentgym search build-index`") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(f"{path} has index format {manifest.get('format_version')!r}; this agentgym reads "
                               f"format {FORMAT_VERSION}. Rebuild it with `agentgym search build-index`")
    return manifest


def open_index(path: str | Path) -> LocalIndex:
    """The shared `LocalIndex` for the folder `path` (loaded once per process and corpus hash)."""
    resolved = Path(path).resolve()
    return _open_cached(str(resolved), read_manifest(resolved)["corpus_hash"])


@functools.lru_cache(maxsize=8)
def _open_cached(path: str, corpus_hash: str) -> LocalIndex:  # noqa: ARG001 - the hash is part of the cache key
    return LocalIndex(path)


class LocalIndex:
    """A loaded index folder: bm25s over passages, plus the documents they came from.

    Attributes:
        path: the index folder.
        manifest: its ``manifest.json``.
        documents: every document, in build order.
        snippet_chars: the longest snippet a hit carries.
    """

    def __init__(self, path: str | Path, *, snippet_chars: int = SNIPPET_CHARS) -> None:
        import numpy as np

        bm25s = require("bm25s", "search", "the search index")
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.snippet_chars = snippet_chars
        with open(self.path / "documents.jsonl", encoding="utf-8") as f:
            self.documents = [Document.from_dict(json.loads(line)) for line in f]
        self._by_id = {doc.id: doc for doc in self.documents}
        self._passages = np.load(self.path / "passages.npy")
        self._retriever = bm25s.BM25.load(str(self.path / "bm25s"), load_vocab=True, show_progress=False)
        self._vocab: dict[str, int] = self._retriever.vocab_dict
        self.tokenizer = Tokenizer(stemmer=self.manifest["tokenizer"]["stemmer"])
        if len(self._passages) != self.manifest["num_passages"]:
            raise IndexFormatError(f"{self.path}: passages.npy has {len(self._passages)} rows, the manifest says "
                                   f"{self.manifest['num_passages']}; rebuild the index")

    @property
    def corpus_hash(self) -> str:
        return self.manifest["corpus_hash"]

    def get(self, doc_id: str) -> Document:
        try:
            return self._by_id[doc_id]
        except KeyError:
            raise DocumentNotFound(f"no document with id {doc_id!r}") from None

    def search(self, query: str, k: int) -> list[SearchHit]:
        """The `k` best documents for `query` (each document once, at its best passage), best first."""
        term_ids = [self._vocab[t] for t in self.tokenizer(query) if t in self._vocab]
        if not term_ids or k < 1:
            return []
        scores = self._retriever.get_scores_from_ids(term_ids)
        hits: list[SearchHit] = []
        seen: set[int] = set()
        for passage in _ranked_positive(scores):
            doc_number, start, end = (int(x) for x in self._passages[passage])
            if doc_number in seen:
                continue
            seen.add(doc_number)
            doc = self.documents[doc_number]
            hits.append(SearchHit(id=doc.id, title=doc.title, snippet=self._snippet(doc.text[start:end], query),
                                  score=float(scores[passage]), offset=start, url=doc.url))
            if len(hits) == k:
                break
        return hits

    def _snippet(self, passage: str, query: str) -> str:
        """About `snippet_chars` of the passage, starting near the first query word it contains."""
        lowered = passage.lower()
        words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS and len(w) > 1]
        positions = [p for p in (lowered.find(w) for w in words) if p >= 0]
        start = 0
        if positions:
            first = min(positions)
            start = max(0, lowered.rfind("\n", 0, first) + 1, first - self.snippet_chars // 3)
        piece = " ".join(passage[start:start + self.snippet_chars].split())
        prefix = "..." if start > 0 else ""
        suffix = "..." if start + self.snippet_chars < len(passage) else ""
        return prefix + piece + suffix


def _ranked_positive(scores: Any) -> Any:
    """Indexes of the positive scores, best first, ties broken by index; sorts lazily in growing batches."""
    import numpy as np

    positive = np.flatnonzero(scores > 0)
    done = 0
    while done < len(positive):
        batch = min(len(positive), max(64, done * 4))
        if batch < len(positive):
            values = scores[positive]
            kth = np.partition(values, len(positive) - batch)[len(positive) - batch]
            top = positive[values >= kth]  # ties at the cut all come along, so every prefix is the global one
        else:
            top = positive
        order = top[np.lexsort((top, -scores[top]))]
        yield from order[done:]
        done = len(order)
