"""Property tests for agentgym.tools: the parser never raises, rendering round-trips, validation never raises."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentgym.api import ToolCall, ToolSpec
from agentgym.tools import parse_tool_calls, render_tool_calls, validate_call

MARKERS = [
    "<tool_call>",
    "</tool_call>",
    "<｜tool▁calls▁begin｜>",
    "<｜tool▁calls▁end｜>",
    "<｜tool▁call▁begin｜>",
    "<｜tool▁call▁end｜>",
    "<｜tool▁sep｜>",
    "<|tool_call_begin|>",
    "<|tool_sep|>",
]
FRAGMENTS = MARKERS + [
    "<tool_",
    "｜tool▁",
    "function",
    "```json\n",
    "```",
    "{",
    "}",
    "[",
    '"',
    "\\",
    "\n",
    '"name"',
    '"arguments"',
    '"parameters"',
    ": ",
    ", ",
    '{"name": "calculator", "arguments": {"expression": "1+1"}}',
    '{"name": "submit", "arguments": "{\\"answer\\": 1"}',
    '{"answer": 4}',
    "calculator",
    "null",
    "[" * 3000,
]
SPLICED_TEXT = st.lists(st.one_of(st.text(), st.sampled_from(FRAGMENTS)), max_size=12).map("".join)

NAME_PATTERN = ToolSpec.model_fields["name"].metadata[0].pattern
NAMES = st.from_regex(NAME_PATTERN, fullmatch=True)
STRINGS = st.one_of(st.text(), st.sampled_from(FRAGMENTS))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | STRINGS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(STRINGS, children, max_size=4),
    max_leaves=12,
)
ARGUMENT_DICTS = st.dictionaries(STRINGS, JSON_VALUES, max_size=5)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


_ANY_MARKER = re.compile(r"<[|｜]tool|tool_call>")
# Raw (non-JSON) string arguments: round-trip as strings when they are not blank, not a JSON object, carry no marker
# and (DeepSeek writes them bare, between markers) no surrounding whitespace.
RAW_ARGUMENTS = st.text(min_size=1).filter(
    lambda s: s == s.strip() and not _is_json_object(s) and not _ANY_MARKER.search(s)
)
CALLS = st.lists(
    st.builds(lambda n, a: ToolCall(name=n, arguments=a), NAMES, ARGUMENT_DICTS | RAW_ARGUMENTS),
    min_size=1,
    max_size=4,
)


@st.composite
def _mutated_calls(draw: st.DrawFn) -> str:
    """Rendered calls with text around them, then cut, spliced and truncated: text close to a real completion."""
    fmt = draw(st.sampled_from(["hermes", "deepseek"]))
    text = draw(st.text(max_size=20)) + render_tool_calls(draw(CALLS), fmt) + draw(st.text(max_size=20))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + draw(st.sampled_from(["", *FRAGMENTS]) | st.text(max_size=3)) + text[j:]
    return text


ARBITRARY_TEXT = st.one_of(SPLICED_TEXT, _mutated_calls())

SPECS = [
    ToolSpec(
        name="calculator",
        parameters={"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
    ),
    ToolSpec(
        name="weather",
        parameters={
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 14},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 3},
                "choice": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^a+$"}]},
            },
            "required": ["unit"],
        },
    ),
    ToolSpec(name="open", parameters={"type": "object", "additionalProperties": {"type": "number"}}),
    ToolSpec(name="noargs"),
    ToolSpec(name="broken", parameters={"type": "object", "properties": {"a": {"type": 5}}}),
]
SPEC_NAMES = [s.name for s in SPECS]


@pytest.mark.slow  # about 5 s: 1,000 texts, each parsed in three modes
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARBITRARY_TEXT)
def test_parse_never_raises_and_keeps_its_contract(text: str) -> None:
    for fmt in ("auto", "hermes", "deepseek"):
        parsed = parse_tool_calls(text, fmt)  # type: ignore[arg-type]
        assert isinstance(parsed.content, str) and parsed.content == parsed.content.strip()
        assert not any(e.startswith("internal tool-call parser error") for e in parsed.errors), parsed.errors
        assert all(e.startswith("tool call ") for e in parsed.errors)
        assert all(c.name.strip() and isinstance(c.arguments, (dict, str)) for c in parsed.calls)
        assert all(c.id for c in parsed.calls)
        if "<tool_call>" not in text and fmt == "hermes":
            assert parsed.calls == [] and parsed.errors == []


@settings(max_examples=300, deadline=None)
@given(CALLS, st.sampled_from(["hermes", "deepseek"]))
def test_render_then_parse_round_trips(calls: list[ToolCall], fmt: str) -> None:
    text = render_tool_calls(calls, fmt)  # type: ignore[arg-type]
    for parse_fmt in (fmt, "auto"):
        parsed = parse_tool_calls(text, parse_fmt)  # type: ignore[arg-type]
        assert parsed.errors == []
        assert parsed.content == ""
        assert [(c.name, c.arguments) for c in parsed.calls] == [(c.name, c.arguments) for c in calls]
        assert [c.id for c in parsed.calls] == [f"call_{i}" for i in range(len(calls))]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.sampled_from(SPEC_NAMES), st.text(max_size=80)),
    st.one_of(
        ARGUMENT_DICTS,
        st.dictionaries(st.sampled_from(["expression", "unit", "days", "where", "tags", "choice", "x"]), JSON_VALUES),
        STRINGS,
        JSON_VALUES.map(json.dumps),
    ),
)
def test_validate_call_never_raises(name: str, arguments: dict | str) -> None:
    message = validate_call(ToolCall(name=name, arguments=arguments), SPECS)
    assert message is None or (isinstance(message, str) and message and "\n" not in message)
    assert not (message or "").startswith(f"tool {name!r}: could not check")
    if name not in SPEC_NAMES:
        assert message is not None and message.startswith("unknown tool ")
