"""`SearchBackend`: what the search env needs from an index, so a web-search API can replace the local one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agentgym.envs.search.documents import Document


@dataclass(frozen=True, kw_only=True, slots=True)
class SearchHit:
    """One ranked search result.

    Attributes:
        id: the document id to pass to `get` (and to the agent's `open`/`find` tools).
        title: the document title.
        snippet: a short passage of the document that matched the query.
        score: the backend's relevance score (higher is better; only the order matters).
        offset: the character offset of the matching passage in the document text, so `open(id, offset)` shows it.
        url: the document's address, when it has one.
    """

    id: str
    title: str
    snippet: str
    score: float = 0.0
    offset: int = 0
    url: str | None = None


class DocumentNotFound(KeyError):
    """`get` was asked for an id the backend does not hold; the message names the id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class BackendUnavailable(RuntimeError):
    """The backend could not answer (server down, timeout, malformed reply): the env's fault, not the agent's."""


@runtime_checkable
class SearchBackend(Protocol):
    """A source of ranked hits and full documents.

    Implementations: `LocalIndex` (bm25s over a built index folder) and `HttpBackend` (a JSON search endpoint).
    Both methods may be called from worker threads; implementations must not mutate shared state while answering.
    """

    def search(self, query: str, k: int) -> list[SearchHit]:
        """The best `k` hits for `query`, best first; fewer when fewer documents match, [] when none does."""
        ...

    def get(self, doc_id: str) -> Document:
        """The full document. Raises `DocumentNotFound` for an unknown id."""
        ...
