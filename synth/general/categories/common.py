"""Helpers shared by the procedural category generators: SQL for rows, answer schemas, and verifier/solution sources."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from agentgym.synth.general.drafts import EnvDraft
from agentgym.synth.schemas import ToolRecord


def unit_rng(*parts: object) -> random.Random:
    """A `Random` seeded from a hash of the parts (string seeds sharing a prefix give correlated first draws)."""
    return random.Random(int.from_bytes(hashlib.sha256("-".join(map(str, parts)).encode()).digest()[:8], "big"))


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def table_sql(name: str, columns: str, rows: list[tuple]) -> list[str]:
    """`CREATE TABLE name (columns)` plus one INSERT per row."""
    out = [f"CREATE TABLE {name} ({columns})"]
    out += [f"INSERT INTO {name} VALUES ({', '.join(sql_literal(v) for v in row)})" for row in rows]
    return out


def object_schema(fields: dict[str, str | tuple[str, str]]) -> dict[str, Any]:
    """A strict JSON Schema object: every field required, nothing else allowed. ("array", "string") is a list type."""
    properties: dict[str, Any] = {}
    for name, kind in fields.items():
        properties[name] = {"type": "array", "items": {"type": kind[1]}} if isinstance(kind, tuple) else {"type": kind}
    return {"type": "object", "properties": properties, "required": list(fields), "additionalProperties": False}


def tool(name: str, description: str, params: dict[str, Any], kind: str = "read") -> ToolRecord:
    """A tool spec; every listed parameter is required."""
    return ToolRecord(name=name, description=description, kind=kind,  # type: ignore[arg-type]
                      parameters={"type": "object", "properties": params, "required": list(params),
                                  "additionalProperties": False})  # fmt: skip


def env_draft(category: str, seed: int, sql: list[str], tools: list[tuple[ToolRecord, str]]) -> EnvDraft:
    """An environment draft from the DB's SQL and (spec, source) pairs of the tools available at this level."""
    source = "\n\n".join(src.strip() for _, src in tools) + "\n"
    return EnvDraft(category=category, sql=sql, tools_source=source, tools=[spec for spec, _ in tools],
                    world={"seed": seed})


def solution_source(params: dict[str, Any], body: str) -> str:
    """A reference solution: the task's parameters as a constant `P`, then ``def solution(tools)``."""
    return f"P = {params!r}\n\n{body.strip()}\n"


VERIFIER = '''
import json

EXPECTED = json.loads({expected!r})
UNORDERED = {unordered!r}
STATE_QUERY = {state_query!r}
EXPECTED_ROWS = json.loads({expected_rows!r})


def _norm(value, unordered=False):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return round(float(value), 2)
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, list):
        items = [_norm(v) for v in value]
        return sorted(items, key=repr) if unordered else items
    return value


def verify(answer, db):
    reasons = []
    if EXPECTED is not None:
        if not isinstance(answer, dict):
            return False, ["the answer must be a JSON object"]
        extra = sorted(set(answer) - set(EXPECTED))
        if extra:
            reasons.append("unexpected fields: " + ", ".join(extra))
        for key, want in EXPECTED.items():
            if key not in answer:
                reasons.append("missing field " + key)
            elif _norm(answer[key], key in UNORDERED) != _norm(want, key in UNORDERED):
                reasons.append("field " + key + " is wrong")
    if STATE_QUERY:
        rows = [_norm(list(row)) for row in db.execute(STATE_QUERY).fetchall()]
        if rows != [_norm(list(row)) for row in EXPECTED_ROWS]:
            reasons.append("the database is not in the expected final state")
    return not reasons, reasons or ["every field matches" + (" and the final state is right" if STATE_QUERY else "")]
'''


def verifier_source(expected: dict[str, Any] | None, *, unordered: tuple[str, ...] = (),
                    state_query: str = "", expected_rows: list[list[Any]] | None = None) -> str:
    """A verifier that compares the answer field by field (numbers to 2 decimals, strings case-insensitively,
    `unordered` list fields as multisets) and, with `state_query`, the rows that query returns on the final DB."""
    return VERIFIER.format(expected=json.dumps(expected), unordered=list(unordered), state_query=state_query,
                           expected_rows=json.dumps(expected_rows or [])).lstrip()
