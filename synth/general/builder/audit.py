"""What the builder's `check` tool examines, stage by stage, before the shared checks of `synth/general/checks.py`.

- data: the DB has at least one data table with rows, and every data table has a ``_source`` column whose value in
  every row is the id of a corpus document (or ``generated:<why>`` for a value the agent derived itself).
- tools: ``tools.json`` lists valid tool specs, ``tools.py`` parses, defines ``def name(db, ...)`` for each, and
  reaches the data only through its `db` argument: no imports of sqlite3/os/io/pathlib/..., no open/exec/eval, no
  DB file names (a tool that opens the DB file itself would read the wrong copy in the env, and escapes the episode's
  transaction).
- task: ``task.json`` (prompt, answer_schema), ``solution.py`` and ``verifier.py`` are there.

Each function returns a list of problems (empty: the stage is done), worded for the agent to act on.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from agentgym.synth.general.builder.workspace import Snapshot
from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.schemas import ToolRecord
from pydantic import ValidationError

from agentgym.pyast import parse

PROVENANCE_COLUMN = "_source"
GENERATED_PREFIX = "generated:"
BANNED_MODULES = {"sqlite3", "os", "io", "pathlib", "shutil", "subprocess", "socket", "sys", "builtins", "importlib",
                  "ctypes", "pickle", "tempfile", "glob", "urllib", "http"}
BANNED_CALLS = {"open", "exec", "eval", "compile", "__import__", "globals", "locals", "getattr", "setattr", "input",
                "breakpoint", "connect"}
DB_FILE_MARKERS = (".sqlite", ".db", ".sqlite3")
DB_FILE_PROBLEM = "reads the DB file directly instead of via its `db` connection"


def audit_data(snap: Snapshot, corpus_ids: set[str]) -> list[str]:
    """Problems with the data and its provenance."""
    tables = {t: info for t, info in snap.tables.items() if t != "_provenance"}
    if not tables:
        return ["the DB has no tables yet: create them with the sql tool and insert rows from the corpus"]
    problems = []
    if not any(info["num_rows"] for info in tables.values()):
        problems.append("every table is empty: insert the rows you retrieved")
    for name, info in sorted(tables.items()):
        if PROVENANCE_COLUMN not in info["columns"]:
            problems.append(f"table {name!r} has no {PROVENANCE_COLUMN} column (the corpus document of each row)")
            continue
        bad = sorted({str(s) for s in info["sources"]
                      if not (isinstance(s, str) and (s in corpus_ids or s.startswith(GENERATED_PREFIX)))})
        if bad:
            problems.append(f"table {name!r}: {len(bad)} {PROVENANCE_COLUMN} value(s) are not corpus document ids "
                            f"(e.g. {bad[:3]}); use the ids that search returned")
    return problems


def audit_tools(snap: Snapshot) -> tuple[list[ToolRecord], list[str]]:
    """(the tool specs, problems with tools.json / tools.py)."""
    raw, source = snap.files.get("tools.json"), snap.files.get("tools.py")
    if raw is None or source is None:
        return [], ["write tools.py (one `def name(db, **arguments)` per tool) and tools.json (their specs)"]
    try:
        specs = [ToolRecord.model_validate(t) for t in json.loads(raw)]
    except (json.JSONDecodeError, TypeError, ValidationError) as e:
        return [], [f"tools.json is not a list of tool specs {{name, description, parameters, kind}}: "
                    f"{str(e).splitlines()[0]}"]
    if not specs:
        return [], ["tools.json lists no tools"]
    names = [s.name for s in specs]
    if "submit" in names or len(set(names)) != len(names):
        return specs, ["tool names must be unique and 'submit' is reserved"]
    return specs, check_tools_source(source, names)


def check_tools_source(source: str, names: list[str]) -> list[str]:
    """Static problems of tools.py: parse errors, missing tool functions, any way to reach the DB but `db`."""
    try:
        tree = parse(source)
    except SyntaxError as e:
        return [f"tools.py does not parse: {e.msg} (line {e.lineno})"]
    problems: list[str] = []
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in names:
        fn = functions.get(name)
        if fn is None:
            problems.append(f"tools.py defines no function {name!r}")
        elif not fn.args.args or fn.args.args[0].arg != "db":
            problems.append(f"tool {name!r} must take the connection as its first parameter: def {name}(db, ...)")
    for node in ast.walk(tree):
        where = f"tools.py line {getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in BANNED_MODULES:
                    problems.append(f"{where}: imports {module!r}: a tool {DB_FILE_PROBLEM}, or the host")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in BANNED_CALLS:
                problems.append(f"{where}: calls {called}(): a tool {DB_FILE_PROBLEM}, or the host")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(node.value.strip().lower().endswith(m) for m in DB_FILE_MARKERS):
                problems.append(f"{where}: names the file {node.value!r}: a tool {DB_FILE_PROBLEM}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            problems.append(f"{where}: dunder attribute {node.attr!r} is not allowed in tools")
    return sorted(set(problems), key=problems.index)


def read_task(snap: Snapshot, level: int) -> tuple[TaskDraft | None, list[str]]:
    """The current level's task from task.json / solution.py / verifier.py, or the problems."""
    missing = [f for f in ("task.json", "solution.py", "verifier.py") if f not in snap.files]
    if missing:
        return None, [f"write {', '.join(missing)} (the task, its tools-only solution, its verifier)"]
    try:
        spec: dict[str, Any] = json.loads(snap.files["task.json"])
        task = TaskDraft(prompt=spec["prompt"], answer_schema=spec["answer_schema"],
                         verifier_kind=spec.get("verifier_kind", "answer"), knobs=spec.get("knobs", {}),
                         solution=snap.files["solution.py"], verifier=snap.files["verifier.py"], level=level)
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as e:
        return None, [f"task.json must be {{prompt, answer_schema, verifier_kind?, knobs?}}: "
                      f"{type(e).__name__}: {str(e).splitlines()[0]}"]
    if not task.prompt.strip():
        return None, ["task.json: the prompt is empty"]
    return task, []


def env_draft(category: str, snap: Snapshot, tools: list[ToolRecord]) -> EnvDraft:
    """The environment the work folder describes, in the form the shared checks and storage take."""
    return EnvDraft(category=category, sql=list(snap.dump), tools_source=snap.files["tools.py"], tools=tools)


def sources_of(snap: Snapshot) -> dict[str, int]:
    """Corpus documents behind the data, with the number of rows each gave."""
    counts: dict[str, int] = {}
    for info in snap.tables.values():
        for s in info["sources"]:
            counts[str(s)] = counts.get(str(s), 0) + 1
    return dict(sorted(counts.items()))
