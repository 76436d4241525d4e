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
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def send_json(handler: Any, status: int, payload: Any) -> None:
    """Answer an `http.server.BaseHTTPRequestHandler` request with `payload` as a UTF-8 JSON body."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
