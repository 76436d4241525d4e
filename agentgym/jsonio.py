"""Atomic JSONL writing shared by task files and run outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path


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
