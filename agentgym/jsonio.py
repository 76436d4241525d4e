"""JSON I/O shared across layers: atomic JSONL files (task files, run outputs) and JSON HTTP replies (servers)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_jsonl_atomic(path: str | Path, records: list[dict]) -> Path:
    """Write records as JSON lines to a temp file, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:  # see `dumps_utf8`
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def dumps_utf8(value: Any) -> bytes:
    """`value` as UTF-8 JSON, for any text an agent or a task can hold, including a lone surrogate such as "\\udcff".

    UTF-8 cannot encode a lone surrogate, and json only meets one inside a string literal, where backslashreplace
    writes exactly its JSON escape (``\\udcff``): the bytes are valid JSON and decode back to the same Python text.
    """
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def utf8_safe(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) written out as text, e.g. "\\udcff" -> "\\\\udcff".

    For transports whose serializer insists on valid UTF-8 (the MCP SDK's pydantic models): the text survives, visibly.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [utf8_safe(v) for v in value]
    return value


def send_json(handler: Any, status: int, payload: Any) -> None:
    """Answer an `http.server.BaseHTTPRequestHandler` request with `payload` as a UTF-8 JSON body."""
    data = dumps_utf8(payload)
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
