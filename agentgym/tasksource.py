"""Task sources: where an env's tasks come from, its own generator or a task file/folder written by synth or filter.

A source is named by one string (the `tasks` key of a train config's env entry):

- ``None``: the env's own generator, ``env.sample_tasks(num_tasks, seed=seed)`` (what every run did before).
- a JSONL file of `Task`s: what ``agentgym filter`` writes (``<tasks>.passk.jsonl``, only the kept tasks, each with
  its pass@k record in ``meta["passk"]``) or any `save_tasks` output.
- a folder: its ``tasks.jsonl``, e.g. the output folder of ``agentgym synth general`` (tasks plus ``envs/<id>/``).

A `general` task's ``data["env_dir"]`` (or a `code_repair` task's ``data["repo"]``) may be relative; it then points
into the task file's folder, so the env must be made with ``root=<that folder>``: `TaskFile.env_kwargs` says so, and
the trainer's env factory passes it on. A folder may also hold ``env_kwargs.json`` (`ENV_KWARGS_FILE`), written by
the synthesis step that made the tasks, e.g. ``agentgym synth search`` over its own corpus:
``{"env": "search", "kwargs": {"source": "/data/corpus", "index_dir": "./index"}}``; a value starting with ``./``
is a path inside the folder. Those kwargs are needed to play the tasks (the index they were built on), so they go
to the env too.

A reasoning-gym style dataset (`agentgym.interop.dataset_env.DatasetEnv`) is registered as an env of its own
(`dataset_env_factory`), so it is a generator source: name the registered env, leave `tasks` unset.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.api import Task
from agentgym.errors import TaskFileError
from agentgym.taskio import load_tasks

FOLDER_TASK_FILES = ("tasks.jsonl",)
"""The task file looked up inside a folder source, in order."""

ENV_KWARGS_FILE = "env_kwargs.json"
"""Beside a task file: the env kwargs its tasks need, ``{"env": NAME, "kwargs": {...}}`` (see the module docstring)."""

RELATIVE_PATH_KEYS = ("env_dir", "repo")
"""`task.data` keys whose relative paths point into the task file's folder (general's env folder, code_repair's
repository snapshot): such tasks need the env made with ``root=<folder>``."""


class TaskSourceError(TaskFileError):
    """A task source that cannot serve tasks: missing, empty, wrong env, repeated ids. One line naming the path."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskFile:
    """The tasks of one file source.

    Attributes:
        path: the JSONL file read (for a folder source, the folder's ``tasks.jsonl``).
        tasks: its tasks, in file order.
        root: the folder relative ``data["env_dir"]``/``data["repo"]`` paths point into (the file's folder).
        folder_kwargs: the env kwargs of the folder's `ENV_KWARGS_FILE` (``./`` paths resolved), or {}.
    """

    path: Path
    tasks: tuple[Task, ...]
    root: Path
    folder_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments the env must be made with to play these tasks: the folder's `ENV_KWARGS_FILE` kwargs,
        plus ``{"root": folder}`` when any task has a relative path under a `RELATIVE_PATH_KEYS` key."""
        relative = any(is_relative_path(t.data.get(key)) for t in self.tasks for key in RELATIVE_PATH_KEYS)
        return {**self.folder_kwargs, **({"root": str(self.root)} if relative else {})}


def is_relative_path(value: Any) -> bool:
    """A relative file path (not absolute, not ``$VAR/...`` or ``~/...``, which the env expands itself)."""
    return isinstance(value, str) and bool(value) and not value.startswith(("$", "~")) and not Path(value).is_absolute()


def write_env_kwargs(folder: str | Path, env: str, kwargs: dict[str, Any]) -> Path:
    """Write ``folder/env_kwargs.json`` (atomically); paths inside `folder` are stored as ``./rel`` so it can move."""
    folder = Path(folder).resolve()
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if isinstance(value, (str, Path)) and Path(value).is_absolute() and Path(value).resolve().is_relative_to(folder):
            value = "./" + Path(value).resolve().relative_to(folder).as_posix()
        out[key] = str(value) if isinstance(value, Path) else value
    path = folder / ENV_KWARGS_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"env": env, "kwargs": out}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_env_kwargs(folder: Path, *, env: str) -> dict[str, Any]:
    """The kwargs of ``folder/env_kwargs.json`` for `env` (``./`` paths made absolute); {} when there is none.

    Raises:
        TaskSourceError: the file is not ``{"env": NAME, "kwargs": {...}}`` or names another env.
    """
    path = folder / ENV_KWARGS_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TaskSourceError(f"{str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(record, dict) or not isinstance(record.get("kwargs"), dict):
        raise TaskSourceError(f"{str(path)!r} must hold {{\"env\": NAME, \"kwargs\": {{...}}}}")
    if record.get("env") != env:
        raise TaskSourceError(f"{str(path)!r} holds kwargs for env {record.get('env')!r}, not {env!r}")
    return {k: str(folder / v[2:]) if isinstance(v, str) and v.startswith("./") else v
            for k, v in record["kwargs"].items()}


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
            (``task.env != env``), a repeated task id (per-task statistics are kept by id), or a bad
            ``env_kwargs.json`` beside it.
    """
    file = find_task_file(path)
    stat = file.stat()
    source = _read(file.resolve(), env, stat.st_mtime_ns, stat.st_size)
    return dataclasses.replace(source, folder_kwargs=read_env_kwargs(source.root, env=env))


def read_task_files(path: str | Path, envs: Sequence[str] | None = None) -> dict[str, TaskFile]:
    """Read a file or folder source whose tasks may belong to several envs: one `TaskFile` per env.

    `envs` names the envs wanted (each must have tasks in the file; tasks of other envs are left out); None takes
    every env the file names, in order. A one-env source is read by `read_task_file` (so a task of another env is
    refused); each `TaskFile.env_kwargs` is what that env must be made with (``env_kwargs.json`` serves the env it
    names). Used by ``agentgym eval --tasks`` and ``agentgym filter --tasks``.

    Raises:
        TaskSourceError: see `read_task_file`; or a wanted env has no task in the file.
    """
    file = find_task_file(path)
    stat = file.stat()
    whole = _read(file.resolve(), None, stat.st_mtime_ns, stat.st_size)
    found = list(dict.fromkeys(t.env for t in whole.tasks))
    names = list(envs) if envs is not None else found
    if len(names) == 1:
        return {names[0]: read_task_file(file, env=names[0])}
    out = {}
    for name in names:
        tasks = tuple(t for t in whole.tasks if t.env == name)
        if not tasks:
            raise TaskSourceError(f"task file {str(file)!r} has no tasks of env {name!r} (its tasks are of: "
                                  f"{', '.join(found)})")
        folder = read_env_kwargs(whole.root, env=name) if _kwargs_env(whole.root) in (None, name) else {}
        out[name] = dataclasses.replace(whole, tasks=tasks, folder_kwargs=folder)
    return out


def _kwargs_env(folder: Path) -> str | None:
    """The env a folder's `ENV_KWARGS_FILE` names (None: no such file, or not a JSON object)."""
    try:
        record = json.loads((folder / ENV_KWARGS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record.get("env") if isinstance(record, dict) else None


@functools.lru_cache(maxsize=32)
def _read(file: Path, env: str | None, mtime_ns: int, size: int) -> TaskFile:  # cached: validated at load
    """The file's tasks, checked: not empty, unique ids, every task of `env` (None: any env)."""
    try:
        tasks = load_tasks(file)
    except TaskFileError as e:
        if "contains no tasks" in str(e):
            raise TaskSourceError(f"task file {str(file)!r} contains no tasks (a filter output that kept none?)"
                                  ) from None
        raise TaskSourceError(str(e)) from None
    wrong = [t for t in tasks if env is not None and t.env != env]
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
