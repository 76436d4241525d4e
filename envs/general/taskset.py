"""A synthesized task set for `GeneralEnv(tasks=...)`: a task JSONL file or a synthesis output folder (its
``tasks.jsonl``), whose relative ``env_dir`` paths point into the file's folder."""

from __future__ import annotations

import json
from pathlib import Path

from agentgym.api import Task


def task_file(path: str | Path) -> Path:
    """The JSONL file of a file or folder (raises ValueError naming the path when there is none)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tasks.jsonl"
    if not path.is_file():
        raise ValueError(f"general tasks: {str(path)!r} does not exist (pass a task JSONL file or a synthesis folder)")
    return path


def read_task_set(path: str | Path) -> list[Task]:
    """The `general` tasks of a file or folder, in file order (raises ValueError when it holds none or other envs')."""
    file = task_file(path)
    tasks = [Task.model_validate(json.loads(line)) for line in file.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not tasks:
        raise ValueError(f"general tasks: {str(file)!r} contains no tasks")
    other = next((t for t in tasks if t.env != "general"), None)
    if other is not None:
        raise ValueError(f"general tasks: {str(file)!r} holds task {other.id!r} of env {other.env!r}")
    return tasks
