"""Append-only, resumable output: kept tasks in the JSONL task file, every candidate's fate in a `.state.jsonl` beside it.

Each record is one line written and fsynced on its own, so a crash loses at most the line being written; a torn
last line is cut off when the run resumes. A resumed run skips every candidate already recorded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentgym.api import Task


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    raw = path.read_bytes()
    good_end = raw.rfind(b"\n") + 1
    if good_end < len(raw):  # a torn last line from an interrupted run
        with open(path, "r+b") as f:
            f.truncate(good_end)
        raw = raw[:good_end]
    out = []
    for line in raw.decode("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(json.loads(line))
    return out


class TaskStore:
    """The task file plus its state file. `done` holds the candidate keys already decided, `patch_hashes` the kept bugs."""

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)
        self.state_path = self.path.with_name(self.path.name + ".state.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tasks = [Task.model_validate(r) for r in _read_lines(self.path)]
        self.states = _read_lines(self.state_path)
        self.done = {s["key"] for s in self.states}
        self.patch_hashes = {t.meta.get("patch_sha256") for t in self.tasks}

    def num_kept(self, project: str) -> int:
        return sum(1 for t in self.tasks if t.meta.get("project") == project)

    def add_task(self, task: Task) -> None:
        self._append(self.path, task.model_dump(mode="json"))
        self.tasks.append(task)
        self.patch_hashes.add(task.meta.get("patch_sha256"))

    def add_state(self, key: str, status: str, **extra: Any) -> None:
        record = {"key": key, "status": status, **extra}
        self._append(self.state_path, record)
        self.states.append(record)
        self.done.add(key)

    @staticmethod
    def _append(path: Path, record: dict[str, Any]) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
