"""Serve any `SearchBackend` over the JSON API that `HttpBackend` speaks (see `http_backend.py`), with the stdlib."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentgym.envs.search.backend import DocumentNotFound, SearchBackend
from agentgym.jsonio import send_json

MAX_REQUEST_BYTES = 64 * 1024


def make_server(backend: SearchBackend, *, host: str = "127.0.0.1", port: int = 0,
                api_key: str | None = None) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for `backend`. Port 0 picks a free port: read it from ``server.server_port``.

    Call ``server.serve_forever()`` (or `serve_in_thread`), and ``server.shutdown()`` to stop.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
            if api_key is not None and self.headers.get("Authorization") != f"Bearer {api_key}":
                return self._reply(401, {"error": "missing or wrong bearer token"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    return self._reply(413, {"error": "request too large"})
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._reply(400, {"error": "body is not JSON"})
            if self.path == "/search" and isinstance(body.get("query"), str) and isinstance(body.get("k"), int):
                hits = backend.search(body["query"], body["k"])
                return self._reply(200, {"results": [
                    {"id": h.id, "title": h.title, "snippet": h.snippet, "url": h.url, "score": h.score,
                     "offset": h.offset} for h in hits]})
            if self.path == "/document" and isinstance(body.get("id"), str):
                try:
                    doc = backend.get(body["id"])
                except DocumentNotFound as e:
                    return self._reply(404, {"error": str(e)})
                return self._reply(200, {"id": doc.id, "title": doc.title, "text": doc.text, "url": doc.url})
            return self._reply(400, {"error": "expected POST /search {query, k} or POST /document {id}"})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            send_json(self, status, payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run `server.serve_forever()` in a daemon thread and return the thread."""
    thread = threading.Thread(target=server.serve_forever, name="search-server", daemon=True)
    thread.start()
    return thread
