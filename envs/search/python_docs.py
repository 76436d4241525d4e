"""The default corpus, built with no download: the running CPython's pydoc topics and standard-library docstrings.

The docstrings come from `stdlib_walker.py`, run in a child interpreter (no site-packages, no PYTHON* environment,
fixed hash seed) so that import side effects stay out of this process, the output is the same on every run, and a
deadline can stop the walk while keeping what it found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from agentgym.envs.search.documents import Document

WALKER = Path(__file__).with_name("stdlib_walker.py")
MAX_LIST_NAMES = 400  # members listed per header line; keeps `os` and `socket` headers readable


def python_docs_documents(
    *, time_limit_s: float = 60.0, per_module_s: float = 3.0, on_module: Callable[[str], None] | None = None
) -> tuple[list[Document], dict[str, Any]]:
    """All documents of the `python-docs` corpus, in a fixed order, and a report of what the walk skipped.

    Args:
        time_limit_s: the whole walk stops after this long; documents found so far are kept.
        per_module_s: a module whose import or description takes longer is skipped.
        on_module: called with each module name as it is described (drives a progress bar).

    Returns:
        (documents, report) where report has ``"skipped"`` (module: reason) and ``"is_complete"``.
    """
    documents = topic_documents()
    records, report = walk_stdlib(time_limit_s=time_limit_s, per_module_s=per_module_s, on_module=on_module)
    seen = {d.id for d in documents}
    for record in records:
        doc = record_to_document(record)
        if doc.id not in seen:  # first definition wins; later ones would shadow a stable id
            seen.add(doc.id)
            documents.append(doc)
    return documents, report


def topic_documents() -> list[Document]:
    """One document per pydoc language-reference topic (`pydoc_data.topics`), id ``"topic:NAME"``."""
    from pydoc_data.topics import topics

    return [
        Document(id=f"topic:{name}", title=f"Language reference: {name}", text=text.strip() + "\n", kind="topic",
                 meta={"topic": name})
        for name, text in sorted(topics.items())
    ]


def walk_stdlib(
    *, time_limit_s: float, per_module_s: float, on_module: Callable[[str], None] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the walker in a child interpreter and collect its records; kill it if it outlives `time_limit_s`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"  # set and frozenset defaults in signatures print in hash order
    command = [sys.executable, "-S", "-P", str(WALKER), str(time_limit_s), str(per_module_s)]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, cwd=str(WALKER.parent), text=True, encoding="utf-8")
    timer = threading.Timer(time_limit_s + 10.0, proc.kill)  # the child stops itself; this is the backstop
    timer.start()
    records: list[dict[str, Any]] = []
    report: dict[str, Any] = {"skipped": [], "is_complete": False}
    try:
        assert proc.stdout is not None
        for record in _read_records(proc.stdout):
            if record["kind"] == "done":
                report = {"skipped": record["skipped"], "is_complete": True}
                continue
            if record["kind"] == "module" and on_module is not None:
                on_module(record["module"])
            records.append(record)
    finally:
        timer.cancel()
        proc.wait()
    if not report["is_complete"]:
        report["skipped"].append(f"walker ended early (exit code {proc.returncode}); kept {len(records)} records")
    return records, report


def _read_records(stream: Any) -> Iterator[dict[str, Any]]:
    for line in stream:
        try:
            yield json.loads(line)
        except ValueError:
            return  # a line cut short by a kill: everything before it is whole


def record_to_document(record: dict[str, Any]) -> Document:
    """Turn one walker record into a `Document` whose text starts with a small header of labelled lines.

    Example text for ``json.dumps``::

        json.dumps
        Kind: function
        Module: json
        Signature: dumps(obj, *, skipkeys=False, ...)

        Serialize ``obj`` to a JSON formatted ``str``. ...
    """
    kind, module = record["kind"], record["module"]
    if kind == "module":
        header = [module, "Kind: module"]
        if record["functions"]:
            header.append("Functions: " + _names(record["functions"]))
        if record["classes"]:
            header.append("Classes: " + _names(record["classes"]))
        meta = {"module": module, "functions": record["functions"], "classes": record["classes"]}
        return Document(id=module, title=module, text=_join(header, record["doc"]), kind="module", meta=meta)
    qualname = record["qualname"]
    name = qualname.rpartition(".")[2]
    full = f"{module}.{qualname}"
    header = [full, f"Kind: {kind}", f"Module: {module}"]
    if kind == "method":
        header.append(f"Class: {qualname.rpartition('.')[0]}")
    signature = record.get("signature")
    if signature is not None:
        header.append(f"Signature: {name}{signature}")
    if kind == "class":
        if record.get("bases"):
            header.append("Bases: " + ", ".join(record["bases"]))
        if record.get("methods"):
            header.append("Methods: " + _names(record["methods"]))
    meta = {"module": module, "qualname": qualname, "name": name, "signature": signature}
    return Document(id=full, title=full, text=_join(header, record["doc"]), kind=kind, meta=meta)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LIST_NAMES])
    return shown + (f", ... ({len(names) - MAX_LIST_NAMES} more)" if len(names) > MAX_LIST_NAMES else "")


def _join(header: list[str], doc: str) -> str:
    return "\n".join(header) + "\n\n" + (doc.strip() or "(no docstring)") + "\n"
