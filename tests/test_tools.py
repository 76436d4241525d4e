"""Unit tests for agentgym.tools: both call formats, rendering, and every validation message pinned whole."""

from __future__ import annotations

import json
import time

import pytest

from agentgym.api import ToolCall, ToolSpec
from agentgym.tools import (
    ParsedToolCalls,
    parse_tool_calls,
    render_tool_calls,
    render_tools_prompt,
    validate_call,
)

CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
CALLS_END = "<｜tool▁calls▁end｜>"
CALL_BEGIN = "<｜tool▁call▁begin｜>"
CALL_END = "<｜tool▁call▁end｜>"
SEP = "<｜tool▁sep｜>"

CALCULATOR = ToolSpec(
    name="calculator",
    description="Evaluate an arithmetic expression.",
    parameters={"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
)
SUBMIT = ToolSpec(
    name="submit",
    description="Submit the final answer.",
    parameters={"type": "object", "properties": {"answer": {"type": "number"}}, "required": ["answer"]},
)
WEATHER = ToolSpec(
    name="weather",
    parameters={
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1},
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"type": ["string", "null"]},
        },
        "required": [],
    },
)
TOOLS = [CALCULATOR, SUBMIT]


def hermes(obj: object) -> str:
    return f"<tool_call>\n{json.dumps(obj)}\n</tool_call>"


def v31(name: str, args: str) -> str:
    return f"{CALL_BEGIN}{name}{SEP}{args}{CALL_END}"


def v3(name: str, args: str) -> str:
    return f"{CALL_BEGIN}function{SEP}{name}\n```json\n{args}\n```{CALL_END}"


def pairs(parsed: ParsedToolCalls) -> list[tuple[str, object]]:
    return [(c.name, c.arguments) for c in parsed.calls]


# --- Hermes parsing ---------------------------------------------------------------------------------------------------
def test_hermes_single_call_with_text_before() -> None:
    text = "Let me add.\n" + hermes({"name": "calculator", "arguments": {"expression": "2+2"}})
    parsed = parse_tool_calls(text, "hermes")
    assert parsed == ParsedToolCalls(
        content="Let me add.",
        calls=[ToolCall(id="call_0", name="calculator", arguments={"expression": "2+2"})],
        errors=[],
    )


def test_hermes_several_calls_with_text_around_and_between() -> None:
    text = (
        "First.\n"
        + hermes({"name": "calculator", "arguments": {"expression": "1+1"}})
        + "\nthen\n"
        + hermes({"name": "submit", "arguments": {"answer": 2}})
        + "\nDone."
    )
    parsed = parse_tool_calls(text)
    assert pairs(parsed) == [("calculator", {"expression": "1+1"}), ("submit", {"answer": 2})]
    assert [c.id for c in parsed.calls] == ["call_0", "call_1"]
    assert parsed.content == "First.\n\nthen\n\nDone."
    assert parsed.errors == []


def test_hermes_tolerates_whitespace_parameters_key_and_string_arguments() -> None:
    text = (
        '<tool_call>   {"name" : "calculator" ,\n "parameters": {"expression": "3*3"}}\t\n</tool_call>'
        '<tool_call>{"name": "submit", "arguments": "{\\"answer\\": 9}"}</tool_call>'
        '<tool_call>\n```json\n{"name": "submit", "arguments": {"answer": 1}}\n```\n</tool_call>'
    )
    parsed = parse_tool_calls(text, "hermes")
    assert pairs(parsed) == [
        ("calculator", {"expression": "3*3"}),
        ("submit", {"answer": 9}),
        ("submit", {"answer": 1}),
    ]
    assert parsed.errors == [] and parsed.content == ""


def test_hermes_ids_carried_in_the_text_are_kept() -> None:
    text = hermes({"id": "abc", "name": "submit", "arguments": {"answer": 1}}) + hermes(
        {"name": "submit", "arguments": {"answer": 2}}
    )
    assert [c.id for c in parse_tool_calls(text).calls] == ["abc", "call_1"]


def test_hermes_openai_function_nesting_and_missing_arguments() -> None:
    text = hermes({"type": "function", "function": {"name": "submit", "arguments": {"answer": 3}}}) + hermes(
        {"name": "noargs"}
    )
    assert pairs(parse_tool_calls(text)) == [("submit", {"answer": 3}), ("noargs", {})]


def test_hermes_code_with_braces_quotes_and_markers_inside_string_arguments() -> None:
    code = 'def f(x):\n    return {"a": [x, "}"]}  # </tool_call> <tool_call> \\ \'q\''
    text = "Run it:" + hermes({"name": "python", "arguments": {"code": code}})
    parsed = parse_tool_calls(text)
    assert pairs(parsed) == [("python", {"code": code})]
    assert parsed.content == "Run it:" and parsed.errors == []


def test_hermes_unicode_and_nested_arguments() -> None:
    args = {"query": "Ünïcödé ✓ 中文 🙂", "filters": {"years": [1999, 2000], "deep": {"x": None, "y": [{"z": 1.5}]}}}
    text = "<tool_call>" + json.dumps({"name": "search", "arguments": args}, ensure_ascii=False) + "</tool_call>"
    assert pairs(parse_tool_calls(text, "hermes")) == [("search", args)]


def test_hermes_unclosed_block_at_end_is_an_error() -> None:
    text = (
        "ok " + hermes({"name": "submit", "arguments": {"answer": 1}}) + '\n<tool_call>\n{"name": "calculator", "argu'
    )
    parsed = parse_tool_calls(text)
    assert pairs(parsed) == [("submit", {"answer": 1})]
    assert parsed.errors == [
        """tool call 2: <tool_call> is not closed by </tool_call>: '{"name": "calculator", "argu'"""
    ]
    assert parsed.content == "ok"


def test_hermes_unclosed_block_followed_by_another_block() -> None:
    text = '<tool_call>{"name": "a"\n' + hermes({"name": "submit", "arguments": {"answer": 1}})
    parsed = parse_tool_calls(text)
    assert parsed.errors == ["""tool call 1: <tool_call> is not closed by </tool_call>: '{"name": "a"'"""]
    assert pairs(parsed) == [("submit", {"answer": 1})]
    assert parsed.calls[0].id == "call_0"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "tool call 1: the <tool_call> block is empty"),
        (
            '{"name": "calculator", "arguments": {"expression": "1"}',
            """tool call 1: not valid JSON (Expecting ',' delimiter at line 1 column 56): """
            """'{"name": "calculator", "arguments": {"expression": "1"}'""",
        ),
        ("[1, 2]", 'tool call 1: expected a JSON object like {"name": ..., "arguments": {...}}, got array [1, 2]'),
        ('{"arguments": {}}', 'tool call 1: "name" must be the tool name as a non-empty string, got null'),
        ('{"name": 5}', 'tool call 1: "name" must be the tool name as a non-empty string, got integer 5'),
        (
            '{"name": "submit", "arguments": [1]}',
            """tool call 1: "arguments" of 'submit' must be a JSON object, got array [1]""",
        ),
    ],
)
def test_hermes_malformed_blocks(body: str, message: str) -> None:
    parsed = parse_tool_calls(f"before <tool_call>{body}</tool_call> after", "hermes")
    assert parsed.errors == [message]
    assert parsed.calls == []
    assert parsed.content == "before  after"


def test_hermes_bad_json_inside_arguments_keeps_the_call_with_raw_arguments() -> None:
    raw = '{"code": "print(\\q)"}'  # \q is not a JSON escape
    parsed = parse_tool_calls('<tool_call>{"name": "python", "arguments": ' + raw + "}</tool_call>")
    assert parsed.errors == []
    assert pairs(parsed) == [("python", raw)]


def test_hermes_string_arguments_that_are_not_an_object_stay_strings() -> None:
    parsed = parse_tool_calls(hermes({"name": "submit", "arguments": "[1, 2"}))
    assert pairs(parsed) == [("submit", "[1, 2")]


def test_long_malformed_block_is_truncated_in_the_message() -> None:
    body = "x" * 1000
    (error,) = parse_tool_calls(f"<tool_call>{body}</tool_call>").errors
    assert (
        error
        == f"tool call 1: not valid JSON (Expecting value at line 1 column 1): {'x' * 120!r}... (1000 characters in all)"
    )


def test_text_without_markers_has_no_calls_and_no_errors() -> None:
    for fmt in ("auto", "hermes", "deepseek"):
        assert parse_tool_calls("  The answer is {42}.  ", fmt) == ParsedToolCalls("The answer is {42}.", [], [])  # type: ignore[arg-type]


def test_stray_closing_tag_stays_in_content() -> None:
    assert parse_tool_calls("done </tool_call>") == ParsedToolCalls("done </tool_call>", [], [])


def test_unknown_format_is_a_programmer_error() -> None:
    with pytest.raises(ValueError, match=r"^fmt must be 'hermes', 'deepseek' or 'auto', got 'xml'$"):
        parse_tool_calls("x", "xml")  # type: ignore[arg-type]


# --- DeepSeek parsing -------------------------------------------------------------------------------------------------
def test_deepseek_v31_several_calls() -> None:
    text = (
        "I will compute."
        + CALLS_BEGIN
        + v31("calculator", '{"expression": "2+2"}')
        + v31("submit", '{"answer": 4}')
        + CALLS_END
    )
    parsed = parse_tool_calls(text, "deepseek")
    assert parsed == ParsedToolCalls(
        content="I will compute.",
        calls=[
            ToolCall(id="call_0", name="calculator", arguments={"expression": "2+2"}),
            ToolCall(id="call_1", name="submit", arguments={"answer": 4}),
        ],
        errors=[],
    )


def test_deepseek_v3_fenced_style() -> None:
    text = CALLS_BEGIN + v3("get_weather", '{"location": "Tokyo"}') + "\n" + v3("noargs", "{}") + CALLS_END
    parsed = parse_tool_calls(text)
    assert pairs(parsed) == [("get_weather", {"location": "Tokyo"}), ("noargs", {})]
    assert parsed.content == "" and parsed.errors == []


def test_deepseek_v31_tool_named_function_is_not_mistaken_for_v3() -> None:
    text = CALLS_BEGIN + v31("function", '{"a": 1}') + CALLS_END
    assert pairs(parse_tool_calls(text)) == [("function", {"a": 1})]


def test_deepseek_markers_and_braces_inside_string_arguments() -> None:
    args = {"code": f'x = "{CALL_END}{SEP}{CALLS_END}"; y = {{"k": "}}"}}', "note": "中文 🙂"}
    text = CALLS_BEGIN + v31("python", json.dumps(args, ensure_ascii=False)) + CALLS_END
    parsed = parse_tool_calls(text)
    assert pairs(parsed) == [("python", args)] and parsed.errors == [] and parsed.content == ""


def test_deepseek_ascii_bar_lookalike_markers() -> None:
    text = '<|tool▁calls▁begin|><|tool_call_begin|>submit<|tool_sep|>{"answer": 1}<|tool_call_end|><|tool▁calls▁end|>'
    assert pairs(parse_tool_calls(text)) == [("submit", {"answer": 1})]


def test_deepseek_invalid_json_arguments_are_kept_raw() -> None:
    text = CALLS_BEGIN + v31("calculator", '{"expression": 2+2}') + CALLS_END
    parsed = parse_tool_calls(text, "deepseek")
    assert pairs(parsed) == [("calculator", '{"expression": 2+2}')] and parsed.errors == []


def test_deepseek_unclosed_call_and_missing_separator_and_name() -> None:
    text = (
        CALLS_BEGIN
        + f'{CALL_BEGIN}calculator{{"expression": "1"}}{CALL_END}'
        + f"{CALL_BEGIN}{SEP}{{}}{CALL_END}"
        + v31("submit", '{"answer": 1}')
        + f'{CALL_BEGIN}calculator{SEP}{{"expr'
    )
    parsed = parse_tool_calls(text)
    assert parsed.errors == [
        """tool call 1: no <｜tool▁sep｜> between the tool name and its arguments: 'calculator{"expression": "1"}'""",
        "tool call 2: no tool name before <｜tool▁sep｜>: '<｜tool▁sep｜>{}'",
        """tool call 4: <｜tool▁call▁begin｜> is not closed by <｜tool▁call▁end｜>: 'calculator<｜tool▁sep｜>{"expr'""",
    ]
    assert pairs(parsed) == [("submit", {"answer": 1})]
    assert parsed.calls[0].id == "call_0"


def test_deepseek_section_without_calls_is_an_error() -> None:
    parsed = parse_tool_calls(f"Sure.{CALLS_BEGIN}calculator 2+2{CALLS_END}")
    assert parsed.errors == [
        "tool call 1: the tool calls section holds no <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGUMENTS<｜tool▁call▁end｜>: "
        "'calculator 2+2<｜tool▁calls▁end｜>'"
    ]
    assert parsed.calls == []


def test_auto_picks_the_format_whose_marker_comes_first() -> None:
    ds = CALLS_BEGIN + v31("submit", '{"answer": 1}') + CALLS_END
    h = hermes({"name": "calculator", "arguments": {"expression": "1"}})
    assert pairs(parse_tool_calls(ds + h)) == [("submit", {"answer": 1})]
    assert pairs(parse_tool_calls(h + ds)) == [("calculator", {"expression": "1"})]
    assert pairs(parse_tool_calls(ds + h, "hermes")) == [("calculator", {"expression": "1"})]


# --- rendering --------------------------------------------------------------------------------------------------------
def test_render_hermes_calls_exact_text() -> None:
    calls = [
        ToolCall(name="calculator", arguments={"expression": "2+2"}),
        ToolCall(name="submit", arguments={"answer": 4}),
    ]
    assert render_tool_calls(calls, "hermes") == (
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "submit", "arguments": {"answer": 4}}\n</tool_call>'
    )


def test_render_deepseek_calls_exact_text_v31_style() -> None:
    calls = [
        ToolCall(name="calculator", arguments={"expression": "2+2"}),
        ToolCall(name="submit", arguments={"answer": 4}),
    ]
    assert render_tool_calls(calls, "deepseek") == (
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>calculator<｜tool▁sep｜>{"expression": "2+2"}<｜tool▁call▁end｜>'
        '<｜tool▁call▁begin｜>submit<｜tool▁sep｜>{"answer": 4}<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
    )


def test_render_no_calls_is_empty() -> None:
    assert render_tool_calls([], "hermes") == "" and render_tool_calls([], "deepseek") == ""


@pytest.mark.parametrize("fmt", ["hermes", "deepseek"])
def test_render_string_arguments_round_trip(fmt: str) -> None:
    calls = [ToolCall(name="a", arguments='{"x": 1}'), ToolCall(name="b", arguments="not json {")]
    parsed = parse_tool_calls(render_tool_calls(calls, fmt), fmt)  # type: ignore[arg-type]
    assert pairs(parsed) == [("a", {"x": 1}), ("b", "not json {")]


def test_render_tools_prompt_hermes_exact_text() -> None:
    assert render_tools_prompt([SUBMIT], "hermes") == (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        '{"type": "function", "function": {"name": "submit", "description": "Submit the final answer.", "parameters": '
        '{"type": "object", "properties": {"answer": {"type": "number"}}, "required": ["answer"]}}}\n</tools>\n\n'
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call> "
        'XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


def test_render_tools_prompt_deepseek_exact_text() -> None:
    assert render_tools_prompt([CALCULATOR, SUBMIT], "deepseek") == (
        "## Tools\nYou have access to the following tools:\n\n"
        "### calculator\nDescription: Evaluate an arithmetic expression.\n\n"
        'Parameters: {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}\n\n'
        "### submit\nDescription: Submit the final answer.\n\n"
        'Parameters: {"type": "object", "properties": {"answer": {"type": "number"}}, "required": ["answer"]}\n\n'
        "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>tool_call_arguments<｜tool▁call▁end｜>"
        "{additional_tool_calls}<｜tool▁calls▁end｜>\n\n"
        "Where:\n- `tool_call_name` must be an exact match to one of the available tools\n"
        "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
        "- For multiple tool calls, chain them directly without separators or spaces"
    )


def test_render_tools_prompt_without_tools_is_empty_and_bad_format_raises() -> None:
    assert render_tools_prompt([], "hermes") == ""
    with pytest.raises(ValueError, match=r"^fmt must be 'hermes' or 'deepseek', got 'xml'$"):
        render_tools_prompt(TOOLS, "xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^fmt must be 'hermes' or 'deepseek', got 'xml'$"):
        render_tool_calls([ToolCall(name="a")], "xml")  # type: ignore[arg-type]


# --- validation -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            ToolCall(name="calculator", arguments='{"a": 1 "b"'),
            """tool 'calculator': arguments are not valid JSON (Expecting ',' delimiter at line 1 column 9): '{"a": 1 "b"'""",
        ),
        (
            ToolCall(name="calculator", arguments="[1, 2]"),
            "tool 'calculator': arguments must be a JSON object, got array [1, 2]",
        ),
        (
            ToolCall(name="calculater", arguments={"expression": "1"}),
            "unknown tool 'calculater'; did you mean 'calculator'? Available tools: calculator, submit",
        ),
        (ToolCall(name="browse"), "unknown tool 'browse'. Available tools: calculator, submit"),
        (ToolCall(name="calculator"), "tool 'calculator': missing required argument 'expression' (string)"),
        (
            ToolCall(name="calculator", arguments={"expression": "1", "foo": 2}),
            "tool 'calculator': unexpected argument 'foo'; expected arguments: expression",
        ),
        (
            ToolCall(name="calculator", arguments={"expr": "1"}),
            "tool 'calculator': missing required argument 'expression' (string); unexpected argument 'expr'; "
            "expected arguments: expression",
        ),
        (
            ToolCall(name="submit", arguments={"answer": "abc"}),
            """tool 'submit': argument 'answer' must be number, got string "abc\"""",
        ),
        (
            ToolCall(name="submit", arguments={"answer": True}),
            "tool 'submit': argument 'answer' must be number, got boolean true",
        ),
        (
            ToolCall(name="submit", arguments={"answer": None}),
            "tool 'submit': argument 'answer' must be number, got null",
        ),
    ],
)
def test_validate_call_messages(call: ToolCall, message: str) -> None:
    assert validate_call(call, TOOLS) == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"unit": "kelvin"},
            """tool 'weather': argument 'unit' must be one of "celsius", "fahrenheit", got "kelvin\"""",
        ),
        ({"days": 0}, "tool 'weather': argument 'days': 0 is less than the minimum of 1"),
        ({"days": 2.5}, "tool 'weather': argument 'days' must be integer, got number 2.5"),
        ({"where": {"lat": "x", "lon": 1}}, """tool 'weather': argument 'where.lat' must be number, got string "x\""""),
        ({"where": {}}, "tool 'weather': argument 'where' is missing required properties 'lat', 'lon'"),
        ({"tags": ["a", 3]}, "tool 'weather': argument 'tags[1]' must be string, got integer 3"),
        ({"note": 1}, "tool 'weather': argument 'note' must be string or null, got integer 1"),
        (
            {"days": 0, "unit": "k"},
            """tool 'weather': argument 'unit' must be one of "celsius", "fahrenheit", got "k"; """
            "argument 'days': 0 is less than the minimum of 1",
        ),
    ],
)
def test_validate_call_schema_violations_name_the_path(arguments: dict, message: str) -> None:
    assert validate_call(ToolCall(name="weather", arguments=arguments), [WEATHER]) == message


def test_validate_call_accepts_valid_calls() -> None:
    assert validate_call(ToolCall(name="calculator", arguments={"expression": "2+2"}), TOOLS) is None
    assert validate_call(ToolCall(name="calculator", arguments='{"expression": "2+2"}'), TOOLS) is None
    assert validate_call(ToolCall(name="submit", arguments={"answer": 3}), TOOLS) is None
    full = {"unit": "celsius", "days": 3, "where": {"lat": 1.5, "lon": -2}, "tags": [], "note": None}
    assert validate_call(ToolCall(name="weather", arguments=full), [WEATHER]) is None
    assert validate_call(ToolCall(name="weather", arguments=""), [WEATHER]) is None


def test_validate_call_extra_arguments_allowed_only_when_the_schema_says_so() -> None:
    open_spec = ToolSpec(name="log", parameters={"type": "object", "properties": {}, "additionalProperties": True})
    closed = ToolSpec(name="ping")
    assert validate_call(ToolCall(name="log", arguments={"anything": 1}), [open_spec]) is None
    assert validate_call(ToolCall(name="ping", arguments={"a": 1, "b": 2}), [closed]) == (
        "tool 'ping': unexpected arguments 'a', 'b'; this tool takes no arguments"
    )


def test_validate_call_edge_cases_never_raise() -> None:
    bad_schema = ToolSpec(name="broken", parameters={"type": "object", "properties": {"a": {"type": "nonsense"}}})
    assert validate_call(ToolCall(name="broken", arguments={"a": 1}), [bad_schema]) == (
        "tool 'broken': the tool's parameter schema is invalid ('nonsense' is not valid under any of the given "
        "schemas); this is a bug in the environment"
    )
    assert validate_call(ToolCall(name="x"), []) == "unknown tool 'x'. Available tools: (none)"
    deep = "[" * 100_000
    assert validate_call(ToolCall(name="calculator", arguments=deep), TOOLS) == (
        f"tool 'calculator': arguments are not valid JSON (nested too deeply): {'[' * 120!r}... (100000 characters in all)"
    )


@pytest.mark.parametrize(
    "unit",
    [
        "<tool_call>x",
        '<tool_call>"',
        "<tool_call>{x",
        f"{CALL_BEGIN}x",
        f"{CALL_BEGIN}x{CALL_END}",
        f'{CALL_BEGIN}a{SEP}"',
        f"{CALL_BEGIN}a{SEP}{{x",
    ],
)
def test_parse_time_stays_linear_on_many_broken_blocks(unit: str) -> None:
    text = unit * 20_000  # quadratic scanning took 2-15 s on these; linear takes well under 0.2 s
    started = time.process_time()  # CPU time of this process: other load on the machine does not count
    parsed = parse_tool_calls(text)
    assert time.process_time() - started < 2.0
    assert len(parsed.errors) == 20_000 and parsed.calls == []
