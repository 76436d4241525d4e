"""Task sources: where an env's tasks come from, its own generator or a task file/folder written by synth or filter.

A source is named by one string (the `tasks` key of a train config's env entry):

- ``None``: the env's own generator, ``env.sample_tasks(num_tasks, seed=seed)`` (what every run did before).
- a JSONL file of `Task`s: what ``agentgym filter`` writes (``<tasks>.passk.jsonl``, only the kept tasks, each with
  its pass@k record in ``meta["passk"]``) or any `save_tasks` output.
- a folder: its ``tasks.jsonl``, e.g. the output folder of ``agentgym synth general`` (tasks plus ``envs/<id>/``).

A `general` task's ``data["env_dir"]`` may be relative; it then points into the task file's folder, so the env must
be made with ``root=<that folder>``: `TaskFile.env_kwargs` says so, and the trainer's env factory passes it on.

A reasoning-gym style dataset (`agentgym.interop.dataset_env.DatasetEnv`) is registered as an env of its own
(`dataset_env_factory`), so it is a generator source: name the registered env, leave `tasks` unset.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.api import Task
from agentgym.errors import TaskFileError
from agentgym.taskio import load_tasks

FOLDER_TASK_FILES = ("tasks.jsonl",)
"""The task file looked up inside a folder source, in order."""


class TaskSourceError(TaskFileError):
    """A task source that cannot serve tasks: missing, empty, wrong env, repeated ids. One line naming the path."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskFile:
    """The tasks of one file source.

    Attributes:
        path: the JSONL file read (for a folder source, the folder's ``tasks.jsonl``).
        tasks: its tasks, in file order.
        root: the folder relative ``data["env_dir"]`` paths point into (the file's folder).
    """

    path: Path
    tasks: tuple[Task, ...]
    root: Path

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments the env must be made with to play these tasks: ``{"root": folder}`` when any task has
        a relative ``data["env_dir"]`` (a `general` task), else nothing."""
        relative = any(isinstance(d, str) and not Path(d).is_absolute()
                       for d in (t.data.get("env_dir") for t in self.tasks))
        return {"root": str(self.root)} if relative else {}


def find_task_file(path: str | Path) -> Path:
    """The JSONL file of a file or folder source.

    Raises:
        TaskSourceError: the path does not exist, or is a folder without ``tasks.jsonl``.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in FOLDER_TASK_FILES:
            if (path / name).is_file():
                return path / name
        found = sorted(p.name for p in path.glob("*.jsonl"))
        raise TaskSourceError(f"task folder {str(path)!r} has no {' or '.join(FOLDER_TASK_FILES)} "
                              f"(its JSONL files: {', '.join(found) or 'none'}); name the task file itself")
    raise TaskSourceError(f"task source {str(path)!r} does not exist (expected a task JSONL file or a synthesis "
                          f"output folder)")


def read_task_file(path: str | Path, *, env: str) -> TaskFile:
    """Read a file or folder source for env `env`, checking what a training run relies on.

    Raises:
        TaskSourceError: missing or unreadable, no tasks (e.g. a filter output that kept none), a task of another env
            (``task.env != env``), or a repeated task id (per-task statistics are kept by id).
    """
    file = find_task_file(path)
    stat = file.stat()
    return _read(file.resolve(), env, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _read(file: Path, env: str, mtime_ns: int, size: int) -> TaskFile:  # cached: validated at load, read at build
    try:
        tasks = load_tasks(file)
    except TaskFileError as e:
        if "contains no tasks" in str(e):
            raise TaskSourceError(f"task file {str(file)!r} contains no tasks (a filter output that kept none?)"
                                  ) from None
        raise TaskSourceError(str(e)) from None
    wrong = [t for t in tasks if t.env != env]
    if wrong:
        envs = sorted({t.env for t in wrong})
        raise TaskSourceError(f"task file {str(file)!r} holds tasks of env {', '.join(map(repr, envs))} "
                              f"({len(wrong)} of {len(tasks)}, first {wrong[0].id!r}), not of {env!r}")
    seen: set[str] = set()
    repeated = [t.id for t in tasks if t.id in seen or seen.add(t.id)]
    if repeated:
        raise TaskSourceError(f"task file {str(file)!r} repeats task ids ({len(repeated)}, first {repeated[0]!r}); "
                              f"ids must be unique")
    return TaskFile(path=file, tasks=tuple(tasks), root=file.parent)


def source_tasks(env: Any, *, name: str, tasks: str | Path | None, num_tasks: int, seed: int) -> list[Task]:
    """The task pool of one env: the file source's tasks (all of them), or `env.sample_tasks(num_tasks, seed=seed)`.

    Raises:
        TaskSourceError: see `read_task_file`; or the env has no generator and no file was given.
    """
    if tasks is not None:
        return list(read_task_file(tasks, env=name).tasks)
    if not hasattr(env, "sample_tasks"):
        raise TaskSourceError(f"env {name!r} has no sample_tasks(); give it a task file to train on (tasks: PATH)")
    return list(env.sample_tasks(num_tasks, seed=seed))


def describe_source(tasks: str | Path | None, *, num_tasks: int, seed: int) -> str:
    """One line naming the source, for logs: ``"generator sample_tasks(256, seed=0)"`` or ``"file out/tasks.jsonl"``."""
    return f"generator sample_tasks({num_tasks}, seed={seed})" if tasks is None else f"file {tasks}"


def merge_env_kwargs(name: str, given: dict[str, Any], sources: Sequence[TaskFile]) -> dict[str, Any]:
    """`given` plus what the sources need (`TaskFile.env_kwargs`).

    Raises:
        TaskSourceError: two sources (or the given kwargs) need different values of the same keyword.
    """
    out = dict(given)
    for source in sources:
        for key, value in source.env_kwargs.items():
            if key in out and str(out[key]) != str(value):
                raise TaskSourceError(f"env {name!r}: tasks in {str(source.path)!r} need {key}={value!r}, but "
                                      f"{key}={out[key]!r} is already set; use tasks with absolute env_dir paths "
                                      f"(a synthesis folder's tasks.jsonl) or files from one folder")
            out[key] = value
    return out
