"""The filter's resumable state: one JSONL file rewritten atomically after every round.

Line 1 is a header (the config fingerprint, the task-set hash, the next round's number); each further line is one
task's `TaskState`. A run killed mid-round restarts that round; the episodes it had finished are read back from the
round's trajectory file (see `round_path`), so nothing already paid for is sampled again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.synth.filter_rules import FilterConfig, TaskState

from agentgym.api import Task
from agentgym.errors import AgentGymError
from agentgym.jsonio import write_jsonl_atomic

STATE_VERSION = 1


class FilterStateError(AgentGymError, ValueError):
    """A state file that belongs to another run (other tasks or settings) or cannot be read."""


@dataclass(kw_only=True, slots=True)
class FilterState:
    """Everything a filter run needs to continue: the next round and every task's record."""

    next_round: int
    tasks: list[TaskState]


def task_set_hash(tasks: Sequence[Task]) -> str:
    """A hash of the tasks' ids, envs, prompts and data, in order: a resumed run must filter the same tasks."""
    digest = hashlib.sha256()
    for task in tasks:
        record = {"id": task.id, "env": task.env, "prompt": task.prompt, "data": task.data}
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def save_state(path: Path, state: FilterState, *, config: FilterConfig, tasks_hash: str) -> None:
    header = {"kind": "header", "version": STATE_VERSION, "config": config.fingerprint(), "tasks_hash": tasks_hash,
              "next_round": state.next_round}
    write_jsonl_atomic(path, [header] + [t.to_dict() for t in state.tasks])


def load_state(path: Path, *, config: FilterConfig, tasks_hash: str) -> FilterState | None:
    """The saved state, or None when `path` does not exist.

    Raises:
        FilterStateError: the file is unreadable, or was written for other tasks or other filter settings.
    """
    if not path.exists():
        return None
    try:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        header: dict[str, Any] = lines[0]
        tasks = [TaskState.from_dict(r) for r in lines[1:]]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise FilterStateError(f"{path}: not a filter state file ({e}); delete it to start over") from None
    if header.get("version") != STATE_VERSION or header.get("kind") != "header":
        raise FilterStateError(f"{path}: unknown state format; delete it to start over")
    if header["tasks_hash"] != tasks_hash:
        raise FilterStateError(f"{path} was written for a different task file; pass the same tasks or delete it")
    if header["config"] != config.fingerprint():
        raise FilterStateError(f"{path} was written with other filter settings {header['config']}; rerun with "
                               f"those settings or delete it")
    return FilterState(next_round=header["next_round"], tasks=tasks)


def round_path(state_path: Path, round_index: int) -> Path:
    """Where round `round_index` writes its trajectories (`<state>.round<N>.jsonl`, `.partial` while running)."""
    return state_path.with_name(f"{state_path.name}.round{round_index}.jsonl")


def remove_round_files(state_path: Path, *, keep: int | None = None) -> None:
    """Delete the rounds' trajectory files (once the state that folded them in is written), except round `keep`."""
    kept = {round_path(state_path, keep).name, round_path(state_path, keep).name + ".partial"} if keep is not None else set()
    for path in state_path.parent.glob(f"{state_path.name}.round*.jsonl*"):
        if path.name not in kept:
            path.unlink(missing_ok=True)
