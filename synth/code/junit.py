"""JUnit XML (pytest `--junitxml`, xunit1) -> outcome per pytest node id.

Mirrors `agentgym.envs.code_repair.junit` on purpose (synth may not import envs): node ids recorded here are the ones
the env grades, and a test checks that the two parsers agree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

_KINDS = {"failure": "failed", "error": "error", "skipped": "skipped"}
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def node_id(classname: str, name: str, file: str | None, is_file: Callable[[str], bool] | None = None) -> str:
    """The pytest node id of a JUnit testcase (see the env's parser for the rules)."""
    parts = classname.split(".") if classname else []
    if file and file.endswith(".py"):
        module = file[:-3].replace("/", ".")
        if classname == module or classname.startswith(module + "."):
            rest = classname[len(module) + 1 :]
            return "::".join(p for p in (file, rest.replace(".", "::"), name) if p)
    if is_file is not None:
        for k in range(len(parts), 0, -1):
            path = "/".join(parts[:k]) + ".py"
            if is_file(path):
                return "::".join([path, *parts[k:], name])
    k = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    return "::".join(["/".join(parts[:k]) + ".py", *parts[k:], name]) if parts else name


def parse_outcomes(xml_text: str | bytes, is_file: Callable[[str], bool] | None = None
                   ) -> dict[str, tuple[str, str]]:  # fmt: skip
    """node id -> (outcome, short message); the worse outcome wins when a test is reported twice."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as e:
        raise ValueError(f"not valid JUnit XML: {e}") from None
    out: dict[str, tuple[str, str]] = {}
    for case in root.iter("testcase"):
        nid = node_id(case.get("classname", ""), case.get("name", ""), case.get("file"), is_file)
        outcome, message = "passed", ""
        for child in case:
            kind = _KINDS.get(child.tag)
            if kind is not None and _RANK[kind] > _RANK[outcome]:
                outcome, message = kind, (child.get("message") or (child.text or "")).strip()
        if nid not in out or _RANK[outcome] > _RANK[out[nid][0]]:
            out[nid] = (outcome, message)
    return out
