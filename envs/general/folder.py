"""The on-disk format of a synthesized environment folder and of a `general` task, and their loader.

An environment is a folder with three files:

- ``db.sqlite``: the environment's data (SQLite).
- ``tools.py``: one top-level function per tool, ``def name(db, **arguments)``, taking a `sqlite3.Connection` and the
  JSON arguments and returning a JSON value. It raises ValueError/KeyError/LookupError for the caller's mistakes.
- ``manifest.json``: ``{"format": "agentgym-general-env/1", "env_id", "category", "tools": [{"name", "description",
  "parameters" (JSON Schema), "kind": "read"|"write"}], "hashes": {"db": H_db, "tools": H_tools}, "env_sha256": H}``
  where H_db is the SHA-256 of the DB's SQL dump (``iterdump`` lines, each followed by a newline), H_tools that of the
  tools.py bytes, and H that of ``f"db:{H_db}\\ntools:{H_tools}"``.

A task is an `agentgym.api.Task` with ``env="general"`` whose `data` holds ``env_dir`` (absolute, or relative to the
env's `root`), ``env_sha256``, ``answer_schema`` (JSON Schema of the submitted answer), ``verifier`` (Python source
defining ``verify(answer, db)``), ``verifier_kind`` ("answer", "state" or "both") and ``reference`` (``{"calls":
[{"name", "arguments"}], "answer": ...}``, the reference solution's tool calls and answer). Only the prompt and the
answer schema are shown to the agent. The synthesis pipeline writes exactly this format; it is duplicated there on
purpose (layering: synth never imports envs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.api import ToolSpec

FORMAT = "agentgym-general-env/1"
TASK_FIELDS = ("env_dir", "env_sha256", "answer_schema", "verifier", "verifier_kind", "reference")


class EnvFolderError(ValueError):
    """An environment folder or a task that does not follow the format; the message names the path and the problem."""


@dataclass(frozen=True, slots=True)
class EnvFolder:
    """A loaded environment folder: its manifest, tool specs and file contents."""

    path: Path
    env_id: str
    category: str
    env_sha256: str
    db_sha256: str
    specs: tuple[ToolSpec, ...]
    kinds: dict[str, str]
    tools_source: str
    db_bytes: bytes


def load_folder(path: Path) -> EnvFolder:
    """Read and check an environment folder (the tools hash is checked here; the DB hash inside the sandbox)."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        tools_source = (path / "tools.py").read_text(encoding="utf-8")
        db_bytes = (path / "db.sqlite").read_bytes()
    except (OSError, json.JSONDecodeError) as e:
        raise EnvFolderError(f"environment folder {path} is unreadable: {e}") from None
    if manifest.get("format") != FORMAT:
        raise EnvFolderError(f"{path}/manifest.json: format must be {FORMAT!r}, got {manifest.get('format')!r}")
    hashes = manifest.get("hashes") or {}
    tools_sha = hashlib.sha256(tools_source.encode()).hexdigest()
    if hashes.get("tools") != tools_sha:
        raise EnvFolderError(f"{path}/tools.py does not match the hash in its manifest (edited after synthesis?)")
    try:
        specs = tuple(ToolSpec(name=t["name"], description=t.get("description", ""), parameters=t["parameters"])
                      for t in manifest["tools"])
    except (KeyError, TypeError, ValueError) as e:
        raise EnvFolderError(f"{path}/manifest.json: bad tool list: {e}") from None
    if "submit" in {s.name for s in specs}:
        raise EnvFolderError(f"{path}/manifest.json: 'submit' is reserved for the env's own answer tool")
    return EnvFolder(path=path, env_id=str(manifest.get("env_id", path.name)), category=str(manifest.get("category")),
                     env_sha256=str(manifest.get("env_sha256")), db_sha256=str(hashes.get("db")), specs=specs,
                     kinds={t["name"]: t.get("kind", "read") for t in manifest["tools"]},
                     tools_source=tools_source, db_bytes=db_bytes)  # fmt: skip


def check_task_data(task_id: str, data: dict[str, Any]) -> None:
    """Raise EnvFolderError naming the first missing field of a general task."""
    missing = [f for f in TASK_FIELDS if f not in data]
    if missing:
        raise EnvFolderError(f"task {task_id!r} is not a general task: data lacks {missing}")
