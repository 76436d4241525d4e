"""Parse pytest's JUnit XML (`--junitxml`, `junit_family=xunit1`) into outcomes keyed by pytest node id.

Shared by the code_repair env (grading) and the code-task synthesis (validating mutants), so both agree on node ids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One test case: its node id, outcome ("passed", "failed", "error", "skipped") and short failure message."""

    node_id: str
    outcome: str
    message: str = ""


def node_id(classname: str, name: str, file: str | None, is_file: Callable[[str], bool] | None = None) -> str:
    """Rebuild the pytest node id from a JUnit testcase.

    pytest writes `classname` as the node id's path with "/" -> "." and ".py" dropped, plus the class names. With
    xunit1 the `file` attribute gives the path back; for a test inherited from another file it does not match, and
    then the longest dotted prefix that names an existing file (`is_file`) is taken as the module.
    """
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


def parse_junit(xml_text: str | bytes, is_file: Callable[[str], bool] | None = None) -> dict[str, TestOutcome]:
    """Outcomes by node id. A test reported twice (a teardown error after a pass) keeps the worse outcome.

    Raises:
        ValueError: the text is not JUnit XML.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as e:
        raise ValueError(f"not valid JUnit XML: {e}") from None
    rank = {PASSED: 0, SKIPPED: 1, FAILED: 2, ERROR: 3}
    out: dict[str, TestOutcome] = {}
    for case in root.iter("testcase"):
        nid = node_id(case.get("classname", ""), case.get("name", ""), case.get("file"), is_file)
        outcome, message = PASSED, ""
        for child in case:
            kind = {"failure": FAILED, "error": ERROR, "skipped": SKIPPED}.get(child.tag)
            if kind is not None:
                if rank[kind] > rank[outcome]:
                    outcome, message = kind, (child.get("message") or (child.text or "")).strip()
        previous = out.get(nid)
        if previous is None or rank[outcome] > rank[previous.outcome]:
            out[nid] = TestOutcome(nid, outcome, message)
    return out
