"""`HttpBackend`: a `SearchBackend` that asks a JSON search endpoint, so a web-search API can replace the local index.

The wire format (both requests are POST with a JSON body; `Authorization: Bearer KEY` when a key is set):

- ``POST {base_url}/search`` ``{"query": "json dumps", "k": 5}`` →
  ``{"results": [{"id": "json.dumps", "title": "json.dumps", "snippet": "Serialize obj ...", "url": null,
  "score": 8.8, "offset": 0}]}`` (``url``, ``score`` and ``offset`` are optional).
- ``POST {base_url}/document`` ``{"id": "json.dumps"}`` → ``{"id": ..., "title": ..., "text": ..., "url": ...}``;
  status 404 when there is no such document.

`serve.py` implements the same API over any backend (e.g. a local index served to other machines).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from agentgym.envs.search.backend import BackendUnavailable, DocumentNotFound, SearchHit
from agentgym.envs.search.documents import Document

MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class HttpBackend:
    """Search and fetch documents through a JSON endpoint.

    Args:
        base_url: the endpoint root, e.g. ``"http://127.0.0.1:8400"``; ``/search`` and ``/document`` are appended.
        api_key: sent as a bearer token; when None, the environment variable `api_key_env` is read (if set).
        api_key_env: the environment variable holding the key.
        timeout_s: seconds to wait for each request.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, api_key_env: str = "AGENTGYM_SEARCH_API_KEY",
                 timeout_s: float = 10.0) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        self.timeout_s = timeout_s

    def search(self, query: str, k: int) -> list[SearchHit]:
        reply = self._post("/search", {"query": query, "k": k})
        results = reply.get("results")
        if not isinstance(results, list):
            raise BackendUnavailable(f"{self.base_url}/search: reply has no 'results' list")
        hits = []
        for i, item in enumerate(results[:k]):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise BackendUnavailable(f"{self.base_url}/search: result {i} has no string 'id'")
            hits.append(SearchHit(id=item["id"], title=str(item.get("title") or item["id"]),
                                  snippet=str(item.get("snippet") or ""), score=float(item.get("score") or 0.0),
                                  offset=max(0, int(item.get("offset") or 0)), url=item.get("url")))
        return hits

    def get(self, doc_id: str) -> Document:
        reply = self._post("/document", {"id": doc_id}, not_found=doc_id)
        if not isinstance(reply.get("text"), str):
            raise BackendUnavailable(f"{self.base_url}/document: reply for {doc_id!r} has no string 'text'")
        return Document(id=str(reply.get("id") or doc_id), title=str(reply.get("title") or doc_id),
                        text=reply["text"], kind="web", url=reply.get("url"))

    def _post(self, route: str, body: dict[str, Any], *, not_found: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + route, data=json.dumps(body).encode("utf-8"),
                                         headers=headers, method="POST")
        url = self.base_url + route
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) only
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            if e.code == 404 and not_found is not None:
                raise DocumentNotFound(f"no document with id {not_found!r}") from None
            raise BackendUnavailable(f"{url} answered HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            raise BackendUnavailable(f"{url} did not answer: {getattr(e, 'reason', e)}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise BackendUnavailable(f"{url}: reply larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            reply = json.loads(raw)
        except ValueError:
            raise BackendUnavailable(f"{url}: reply is not JSON: {raw[:80]!r}") from None
        if not isinstance(reply, dict):
            raise BackendUnavailable(f"{url}: reply is not a JSON object")
        return reply
