"""Task files: JSONL, one `Task` per line; errors name the file, the line and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from pydantic import ValidationError

from agentgym.api import Task
from agentgym.errors import TaskFileError
from agentgym.jsonio import write_jsonl_atomic


def load_tasks(path: str | Path) -> list[Task]:
    """Read tasks from a JSONL file (blank lines and lines starting with '#' are skipped)."""
    path = Path(path)
    if path.is_dir():
        raise TaskFileError(f"task file {str(path)!r} is a directory; pass a JSONL file with one task per line")
    if not path.is_file():
        raise TaskFileError(f"task file {str(path)!r} does not exist (expected a JSONL file with one task per line)")
    tasks: list[Task] = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            tasks.append(Task.model_validate(json.loads(line)))
        except json.JSONDecodeError as e:
            raise TaskFileError(f"{path}:{i}: not valid JSON ({e.msg} at column {e.colno})") from None
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'task'}: {err['msg']}" for err in e.errors())
            raise TaskFileError(f"{path}:{i}: not a valid task ({problems})") from None
    if not tasks:
        raise TaskFileError(f"task file {str(path)!r} contains no tasks")
    return tasks


def save_tasks(path: str | Path, tasks: Sequence[Task]) -> Path:
    """Write tasks as JSONL atomically."""
    return write_jsonl_atomic(path, [t.model_dump(mode="json") for t in tasks])
