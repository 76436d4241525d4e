"""A scripted oracle for the starter tasks: it reads only the conversation, calls search/find, and submits.

It never looks at the task's answer. It parses the question (the templates in `tasks.py`), runs the same lookups a
careful agent would, and copies the answer out of the tool results, so a pass proves the task is solvable through the
tools. Use it as ``ScriptedPolicy(oracle_action)``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from agentgym.api import Action, Message, ToolCall
from agentgym.envs.search.tasks import VERIFY_K, first_parameter

_QUESTIONS = [
    ("module_first_function", re.compile(r"^The function `([^`]+)` is defined in a Python standard-library module")),
    ("defining_module", re.compile(r"^Which Python standard-library module defines the function `([^`]+)`")),
    ("first_parameter", re.compile(r"first parameter of the function `([^`]+)`")),
    ("phrase_title", re.compile(r"contains the exact phrase \"(.+)\"\? Answer with the document's title")),
]
_HIT = re.compile(r'^(\d+)\. (.*)\n   id: ("(?:[^"\\]|\\.)*") \| offset', re.MULTILINE)
_GIVE_UP = "I could not find it"


def oracle_action(messages: Sequence[Message], tools: Sequence[Any] = ()) -> Action:  # noqa: ARG001
    """The next action for the conversation so far (a `ScriptedPolicy` function)."""
    question = next((m.content for m in messages if m.role == "user"), "")
    stage = sum(1 for m in messages if m.role == "assistant")
    outputs = _tool_outputs(messages)
    for family, pattern in _QUESTIONS:
        match = pattern.search(question)
        if match:
            return _PLANS[family](match.group(1), stage, outputs)
    return _submit(_GIVE_UP)


def _defining_module(name: str, stage: int, outputs: list[list[str]]) -> Action:
    if stage == 0:
        return _call("search", query=name, k=VERIFY_K)
    if stage == 1:
        doc_id = _pick(outputs[0], lambda i: i.rpartition(".")[2] == name)
        return _call("find", doc_id=doc_id, pattern="Module:") if doc_id else _submit(_GIVE_UP)
    return _submit(_line_value(outputs[1][0], "Module:") or _GIVE_UP)


def _first_parameter(qualified: str, stage: int, outputs: list[list[str]]) -> Action:
    if stage == 0:
        return _call("search", query=qualified, k=VERIFY_K)
    if stage == 1:
        doc_id = _pick(outputs[0], lambda i: i == qualified)
        return _call("find", doc_id=doc_id, pattern="Signature:") if doc_id else _submit(_GIVE_UP)
    signature = _line_value(outputs[1][0], "Signature:") or ""
    return _submit(first_parameter(signature[signature.find("("):]) or _GIVE_UP)


def _module_first_function(name: str, stage: int, outputs: list[list[str]]) -> Action:
    if stage < 2:
        return _defining_module(name, stage, outputs)
    if stage == 2:
        module = _line_value(outputs[1][0], "Module:")
        return _call("find", doc_id=module, pattern="Functions:") if module else _submit(_GIVE_UP)
    listed = _line_value(outputs[2][0], "Functions:") or ""
    names = [n.strip() for n in listed.split(",") if n.strip()]
    if listed.endswith("..."):
        names = names[:-1]  # `find` clipped the line inside the last name
    return _submit(min(names, key=str.lower) if names else _GIVE_UP)


def _phrase_title(phrase: str, stage: int, outputs: list[list[str]]) -> Action:
    if stage == 0:
        return _call("search", query=phrase, k=VERIFY_K)
    hits = _hits(outputs[0])
    if stage == 1:
        if not hits:
            return _submit(_GIVE_UP)
        return Action(tool_calls=[ToolCall(id=f"find-{i}", name="find", arguments={"doc_id": doc_id, "pattern": phrase})
                                  for i, (doc_id, _) in enumerate(hits)])
    for (_, title), found in zip(hits, outputs[1], strict=False):
        if not found.startswith("no line") and not found.startswith("error"):
            return _submit(title)
    return _submit(_GIVE_UP)


_PLANS = {"defining_module": _defining_module, "first_parameter": _first_parameter,
          "module_first_function": _module_first_function, "phrase_title": _phrase_title}


def _tool_outputs(messages: Sequence[Message]) -> list[list[str]]:
    """The tool results of each assistant turn, in order: ``outputs[turn][call]``."""
    outputs: list[list[str]] = []
    for m in messages:
        if m.role == "assistant":
            outputs.append([])
        elif m.role == "tool" and outputs:
            outputs[-1].append(m.content)
    return outputs


def _hits(search_output: list[str]) -> list[tuple[str, str]]:
    """(id, title) of each numbered hit in a `search` result."""
    text = search_output[0] if search_output else ""
    return [(json.loads(m.group(3)), m.group(2)) for m in _HIT.finditer(text)]


def _pick(search_output: list[str], is_wanted: Any) -> str | None:
    return next((doc_id for doc_id, _ in _hits(search_output) if is_wanted(doc_id)), None)


def _line_value(find_output: str, label: str) -> str | None:
    """The text after `label` on the first ``line N: LABEL value`` line of a `find` result."""
    match = re.search(rf"^line \d+: {re.escape(label)} ?(.*)$", find_output, re.MULTILINE)
    return match.group(1).strip() if match else None


def _call(name: str, **arguments: Any) -> Action:
    return Action(tool_calls=[ToolCall(id=f"{name}-1", name=name, arguments=arguments)])


def _submit(answer: str) -> Action:
    return _call("submit", answer=answer)
