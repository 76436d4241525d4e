"""The code-synthesis run's ledger: each candidate's fate in one `synth.store.Store`, and the kept tasks' file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentgym.api import Task
from agentgym.synth.store import Store
from agentgym.taskio import save_tasks


class TaskLedger:
    """Every candidate's fate, keyed by candidate, in a `Store` beside the task file (``<out>.state.jsonl``).

    A "kept" record carries its task, and the task file is rewritten atomically from those whenever one is kept (and
    when the ledger opens), so a crash never leaves a torn task file and a resumed run skips every decided candidate.
    """

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)
        self.states = Store(self.path.with_name(self.path.name + ".state.jsonl"))
        self.tasks = [Task.model_validate(r["task"]) for r in self.states if r.get("status") == "kept"]
        self.patch_hashes = {t.meta.get("patch_sha256") for t in self.tasks}
        if self.tasks:
            save_tasks(self.path, self.tasks)

    def is_decided(self, key: str) -> bool:
        return self.states.has(key)

    def num_kept(self, project: str) -> int:
        return sum(1 for t in self.tasks if t.meta.get("project") == project)

    def add_state(self, key: str, status: str, **extra: Any) -> None:
        self.states.append({"status": status, **extra}, key=key)

    def keep(self, key: str, task: Task) -> None:
        self.states.append({"status": "kept", "task_id": task.id, "task": task.model_dump(mode="json")}, key=key)
        self.tasks.append(task)
        self.patch_hashes.add(task.meta.get("patch_sha256"))
        save_tasks(self.path, self.tasks)
