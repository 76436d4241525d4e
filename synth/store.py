"""An append-only JSONL record store with content hashes, crash repair and keyed de-duplication, for resumable stages.

Every line is an envelope ``{"key": K, "sha256": H, "record": {...}}`` where H is the SHA-256 of the record's canonical
JSON (sorted keys, no spaces). A record is appended with one ``write`` on an ``O_APPEND`` descriptor under an exclusive
``flock`` and then ``fsync``-ed, so a crash (even SIGKILL) can at worst leave one partial last line. Opening the store
repairs that: a torn or hash-mismatched *last* line is cut off. A bad line anywhere else is real corruption and raises
`StoreCorrupt` naming the file and line. A key that is already present is never appended twice, so a stage that is
rerun after a crash skips what it finished and writes no duplicate. One process writes a store at a time (the lock
keeps lines whole, but a second writer's keys are seen only after reopening).

Example::

    store = Store("out/tasks.store.jsonl")
    if not store.has("trip-0-L1"):
        store.append({"id": "trip-0-L1", "prompt": "..."}, key="trip-0-L1")
    [r["id"] for r in store.records()]
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentgym.errors import AgentGymError

__all__ = ["Store", "StoreCorrupt", "canonical_json", "content_hash"]


class StoreCorrupt(AgentGymError, ValueError):
    """A store file has a damaged line before its end (not a torn write from a crash): the message names the line."""


def canonical_json(value: Any) -> str:
    """The JSON text that content hashes are computed over: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    """SHA-256 hex digest of `canonical_json(value)`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


class Store:
    """An append-only JSONL file of keyed records.

    Args:
        path: the file; created (with parents) on the first append. A torn last line left by a crash is repaired.

    Attributes:
        path: the file.
        num_repaired_bytes: bytes cut off the end when the store was opened (0 for a clean file).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._records: dict[str, dict[str, Any]] = {}
        self.num_repaired_bytes = 0
        self._load()

    # -- reading ------------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                data = f.read()
                good_end = self._parse(data)
                if good_end < len(data):
                    f.truncate(good_end)
                    f.flush()
                    os.fsync(f.fileno())
                    self.num_repaired_bytes = len(data) - good_end
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _parse(self, data: bytes) -> int:
        """Read every envelope; return the offset after the last good line (the repair point)."""
        offset = 0
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            is_last = number == len(lines)
            is_last_full = number == len(lines) - 1 and lines[-1] == b""
            if is_last and line == b"":
                break
            envelope = _decode(line) if not is_last else None  # a last piece with no newline is always torn
            if envelope is None:
                if is_last or is_last_full:
                    return offset
                raise StoreCorrupt(f"{self.path}:{number}: damaged record (bad JSON or content hash) in mid-file")
            key, record = envelope
            if key not in self._records:  # a duplicate line (not written by this class) keeps the first
                self._records[key] = record
            offset += len(line) + 1
        return offset

    def has(self, key: str) -> bool:
        """Whether a record with `key` is stored."""
        return key in self._records

    def get(self, key: str) -> dict[str, Any] | None:
        """The record stored under `key`, or None."""
        return self._records.get(key)

    def keys(self) -> list[str]:
        """All keys, in the order they were first written."""
        return list(self._records)

    def records(self) -> list[dict[str, Any]]:
        """All records, in the order they were first written."""
        return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    # -- writing ------------------------------------------------------------------------------------------------------
    def append(self, record: dict[str, Any] | BaseModel, *, key: str | None = None) -> bool:
        """Append `record` under `key` (default: the record's "id", else "key", else its content hash).

        Returns True when written, False when `key` was already stored (nothing is written: no duplicates).

        Raises:
            TypeError: the record is not a dict or pydantic model.
            ValueError: the record is not JSON-serializable.
        """
        if isinstance(record, BaseModel):
            record = record.model_dump(mode="json")
        if not isinstance(record, dict):
            raise TypeError(f"record must be a dict or a pydantic model, got {type(record).__name__}")
        key = key if key is not None else str(record.get("id") or record.get("key") or content_hash(record))
        if self.has(key):
            return False
        try:
            line = canonical_json({"key": key, "sha256": content_hash(record), "record": record}) + "\n"
        except (TypeError, ValueError) as e:
            raise ValueError(f"record {key!r} is not JSON-serializable: {e}") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        self._records[key] = json.loads(json.dumps(record))
        return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _decode(line: bytes) -> tuple[str, dict[str, Any]] | None:
    try:
        envelope = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("key"), str):
        return None
    record = envelope.get("record")
    if not isinstance(record, dict) or envelope.get("sha256") != content_hash(record):
        return None
    return envelope["key"], record
