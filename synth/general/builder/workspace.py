"""`Workspace`: the builder agent's work folder, a `LocalSandbox` directory where every command the agent sends runs.

The agent's bash, Python and SQL all run there (no network, rlimits, its own uid); the host only writes files the
agent wrote and reads back a JSON snapshot that a sandboxed script produced. The folder holds:

- ``db.sqlite``: the environment's data, built with the `sql` tool; every data table has a ``_source`` column naming
  the corpus document each row came from.
- ``tools.py`` (``def name(db, **arguments)`` per tool) and ``tools.json`` (the tool specs: name, description,
  parameters, kind).
- ``task.json`` (``prompt``, ``answer_schema``, ``verifier_kind``, optional ``knobs``), ``solution.py``
  (``def solution(tools)``) and ``verifier.py`` (``def verify(answer, db)``): the task of the current level.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits

DB_FILE = "db.sqlite"
TASK_FILES = ("task.json", "solution.py", "verifier.py")
SNAPSHOT_FILE = ".snapshot.json"
MAX_ROWS = 50

_SQL_SCRIPT = r"""
import json, sqlite3, sys
db = sqlite3.connect("db.sqlite")
out = []
for statement in [s for s in sys.stdin.read().split(";\n") if s.strip()]:
    cur = db.execute(statement)
    if cur.description:
        rows = cur.fetchmany(%d)
        out.append({"columns": [d[0] for d in cur.description], "rows": rows})
    else:
        out.append({"changed": db.total_changes})
db.commit()
print(json.dumps(out, default=str))
""" % MAX_ROWS

_SNAPSHOT_SCRIPT = r"""
import json, os, sqlite3
snap = {"files": {}, "tables": {}, "dump": []}
for name in ("tools.py", "tools.json", "task.json", "solution.py", "verifier.py"):
    if os.path.isfile(name):
        with open(name, encoding="utf-8", errors="replace") as f:
            snap["files"][name] = f.read()
if os.path.isfile("db.sqlite"):
    db = sqlite3.connect("db.sqlite")
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for t in names:
        cols = [r[1] for r in db.execute('PRAGMA table_info("%s")' % t.replace('"', '""'))]
        rows = db.execute('SELECT COUNT(*) FROM "%s"' % t.replace('"', '""')).fetchone()[0]
        sources = []
        if "_source" in cols:
            sources = [r[0] for r in db.execute('SELECT _source FROM "%s"' % t.replace('"', '""'))]
        snap["tables"][t] = {"columns": cols, "num_rows": rows, "sources": sources}
    snap["dump"] = [line for line in db.iterdump() if line not in ("BEGIN TRANSACTION;", "COMMIT;")]
with open(".snapshot.json", "w") as f:
    json.dump(snap, f)
"""


def default_config() -> SandboxConfig:
    """No network, read-only host, 512 MiB, 20 s per command: what one agent command may use."""
    return SandboxConfig(limits=SandboxLimits(timeout_s=20.0, memory_bytes=512 * 1024 * 1024, max_processes=32),
                         python_executable=sys.executable)


@dataclass(slots=True)
class Snapshot:
    """What the work folder holds at one moment (read back from a sandboxed script)."""

    files: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    """table -> {"columns", "num_rows", "sources" (the `_source` value of every row, if the column exists)}."""
    dump: list[str] = field(default_factory=list)
    """The DB as SQL statements (`iterdump` without its BEGIN/COMMIT), which rebuild it in a check sandbox."""


class Workspace:
    """The sandboxed work folder of one build; use as a context manager (closing deletes the folder).

    Every method blocks (call it from a thread in async code) and never raises for what the agent's command does:
    the outcome comes back as text for the agent to read.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.box = LocalSandbox(config or default_config())

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill anything left running and delete the folder. Idempotent."""
        self.box.close()

    def bash(self, command: str) -> str:
        result = self.box.run(["bash", "-c", command])
        return _render(result)

    def python(self, code: str) -> str:
        result = self.box.run_python(code)
        return _render(result)

    def sql(self, statements: str) -> str:
        """Run `;`-separated statements on db.sqlite (one per line end); SELECTs show up to `MAX_ROWS` rows."""
        result = self.box.run_python(_SQL_SCRIPT, stdin=statements.strip().rstrip(";") + ";\n")
        if not result.ok:
            return "error: " + (result.stderr.strip().splitlines() or [result.summary(timing=False)])[-1]
        return result.stdout.strip()

    def write_file(self, path: str, content: str) -> str:
        self.box.write_file(path, content)
        return f"wrote {path} ({len(content.encode())} bytes)"

    def snapshot(self) -> Snapshot:
        """The work folder's files, tables (with their row sources) and DB dump."""
        result = self.box.run_python(_SNAPSHOT_SCRIPT)
        if not result.ok:
            raise RuntimeError(f"snapshot failed: {result.summary(timing=False)} {result.stderr[-500:]}")
        data = json.loads(self.box.read_file(SNAPSHOT_FILE))
        return Snapshot(files=data["files"], tables=data["tables"], dump=data["dump"])


def _render(result: Any) -> str:
    parts = [result.summary(timing=False)]
    if result.stdout:
        parts.append(result.stdout.rstrip())
    if result.stderr:
        parts.append("[stderr]\n" + result.stderr.rstrip())
    return "\n".join(parts)
