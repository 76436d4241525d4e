"""Tool calls in model text: render tool specs into prompts, parse calls out of completions, validate arguments."""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema

from agentgym.api import ToolCall, ToolSpec

__all__ = [
    "ParsedToolCalls",
    "ToolFormat",
    "parse_tool_calls",
    "render_tool_calls",
    "render_tools_prompt",
    "validate_call",
]

ToolFormat = Literal["hermes", "deepseek"]

# Hermes/ChatML (Qwen, SmolLM2, NousResearch): one JSON object per <tool_call> block.
HERMES_OPEN = "<tool_call>"
HERMES_CLOSE = "</tool_call>"

# DeepSeek V3/V3.1 special tokens. They use the fullwidth bar U+FF5C and U+2581 ("▁"); the regexes also accept the
# ASCII look-alikes a model or a detokenizer sometimes writes instead.
DS_CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
DS_CALLS_END = "<｜tool▁calls▁end｜>"
DS_CALL_BEGIN = "<｜tool▁call▁begin｜>"
DS_CALL_END = "<｜tool▁call▁end｜>"
DS_SEP = "<｜tool▁sep｜>"


def _ds_marker(words: str) -> re.Pattern[str]:
    return re.compile(r"<[|｜]" + r"[▁_ ]".join(words.split()) + r"[|｜]>")


_DS_CALLS_BEGIN = _ds_marker("tool calls begin")
_DS_CALLS_END = _ds_marker("tool calls end")
_DS_CALL_BEGIN = _ds_marker("tool call begin")
_DS_CALL_END = _ds_marker("tool call end")
_DS_SEP = _ds_marker("tool sep")
_DS_ANY_START = re.compile(f"{_DS_CALLS_BEGIN.pattern}|{_DS_CALL_BEGIN.pattern}")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n?(.*?)\n?[ \t]*```$", re.DOTALL)
# A Hermes block whose JSON does not parse, but whose name and arguments can still be told apart (typically a string
# argument with a bad escape): the call is kept with the raw arguments so the env can answer that tool call by name.
_HERMES_SALVAGE = re.compile(
    r'^\{\s*"name"\s*:\s*"([^"\\]+)"\s*,\s*"(?:arguments|parameters)"\s*:\s*(.*?)\s*\}$', re.DOTALL
)
_ECHO_CHARS = 120
_VALUE_CHARS = 60
_MAX_SCHEMA_ERRORS = 3
_DECODER = json.JSONDecoder()

# A parsed block: (name, arguments, id or None), or an error message.
_Found = tuple[str, "dict[str, Any] | str", "str | None"] | str


@dataclass(frozen=True, slots=True)
class ParsedToolCalls:
    """The tool calls found in one assistant message.

    - content: the text with the tool-call blocks (and DeepSeek's section markers) removed, stripped.
    - calls: the well-formed calls in order. Ids are "call_0", "call_1", ... unless the text carried ids. `arguments` is
      a dict, or the raw string when the arguments did not decode to a JSON object (`validate_call` explains why).
    - errors: one message per malformed block, e.g. ``"tool call 2: <tool_call> is not closed by </tool_call>: '{'"``,
      numbered by the block's position among all blocks of the message.
    """

    content: str
    calls: list[ToolCall]
    errors: list[str]


def parse_tool_calls(text: str, fmt: ToolFormat | Literal["auto"] = "auto") -> ParsedToolCalls:
    """Find the tool calls in model text. Never raises for any `text`: malformed blocks become `errors`.

    `fmt="auto"` picks the format whose marker comes first in the text (`<tool_call>` or a DeepSeek tool-call
    token); text without markers gives no calls and no errors. Raises ValueError only for an unknown `fmt`.

    Example: ``parse_tool_calls('Let me add.\\n<tool_call>\\n{"name": "calculator", "arguments": {"expression":
    "2+2"}}\\n</tool_call>')`` gives content ``"Let me add."`` and one call ``calculator(expression="2+2")`` with id
    ``"call_0"``.
    """
    if fmt not in ("auto", "hermes", "deepseek"):
        raise ValueError(f"fmt must be 'hermes', 'deepseek' or 'auto', got {fmt!r}")
    try:
        return _parse(text, fmt)
    except Exception as e:  # noqa: BLE001 - the contract is "never raises"; the fuzz tests check this never fires
        return ParsedToolCalls(str(text).strip(), [], [f"internal tool-call parser error ({type(e).__name__}: {e})"])


def _parse(text: str, fmt: str) -> ParsedToolCalls:
    if fmt == "auto":
        hermes_at = text.find(HERMES_OPEN)
        ds = _DS_ANY_START.search(text)
        if hermes_at == -1 and ds is None:
            return ParsedToolCalls(text.strip(), [], [])
        fmt = "hermes" if ds is None or (hermes_at != -1 and hermes_at < ds.start()) else "deepseek"
    outside, found = _scan_hermes(text) if fmt == "hermes" else _scan_deepseek(text)
    calls: list[ToolCall] = []
    errors: list[str] = []
    for number, item in enumerate(found, start=1):
        if isinstance(item, str):
            errors.append(f"tool call {number}: {item}")
        else:
            name, arguments, call_id = item
            calls.append(ToolCall(id=call_id or f"call_{len(calls)}", name=name, arguments=arguments))
    content = "".join(s for s in outside if s.strip()).strip()
    return ParsedToolCalls(content, calls, errors)


# --- scanning -------------------------------------------------------------------------------------------------------
class _Finder:
    """The next match of a marker at or after a position, remembered, so that a scan over many blocks stays linear."""

    __slots__ = ("_pattern", "_text", "_searched_from", "_match")

    def __init__(self, pattern: re.Pattern[str], text: str) -> None:
        self._pattern, self._text = pattern, text
        self._searched_from = -1
        self._match: re.Match[str] | None = None

    def next(self, pos: int) -> re.Match[str] | None:
        m = self._match
        if not (0 <= self._searched_from <= pos and (m is None or m.start() >= pos)):
            self._match = m = self._pattern.search(self._text, pos)
            self._searched_from = pos
        return m


@dataclass(slots=True)
class _Scan:
    """The state of one pass over a text: marker finders and the budget of the JSON-first fast path.

    The fast path decodes the JSON object right after a marker, so that an end marker inside a string argument does
    not end the block. A failed decode can cost a pass over the whole text (an unclosed string runs to the end, and
    the error counts lines from the start), so failures are capped at a few passes; past that, and for anything but
    an object, a block ends at the next end marker.
    """

    text: str
    opens: _Finder
    closes: _Finder
    budget: int

    def decode_then_close(self, start: int) -> tuple[Any, str, int] | None:
        """(value, raw JSON text, index after the end marker) for a JSON value at `start` followed by the end
        marker, else None."""
        text = self.text
        i = start
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if self.budget <= 0 or i >= len(text) or text[i] != "{":
            return None
        try:
            value, end = _DECODER.raw_decode(text, i)
        except (ValueError, RecursionError):
            self.budget -= len(text)  # an unclosed string scans to the end; the error message counts lines from 0
            return None
        self.budget -= end - i
        j = end
        while j < len(text) and text[j] in " \t\r\n":
            j += 1
        close = self.closes.next(j)
        return (value, text[i:end], close.end()) if close is not None and close.start() == j else None


def _scan(text: str, opener: re.Pattern[str], closer: re.Pattern[str], read: Any) -> tuple[list[str], list[_Found]]:
    """Split `text` into the parts outside blocks and one item per block. `read(scan, body_start)` reads the block
    that starts at `body_start` (just after its open marker) and returns its item and the index after the block."""
    scan = _Scan(text, _Finder(opener, text), _Finder(closer, text), budget=4 * len(text) + 1_000_000)
    outside: list[str] = []
    found: list[_Found] = []
    pos = 0
    while (begin := scan.opens.next(pos)) is not None:
        outside.append(text[pos : begin.start()])
        item, pos = read(scan, begin.end())
        found.append(item)
    outside.append(text[pos:])
    return outside, found


def _block_end(scan: _Scan, body_start: int, open_name: str, close_name: str) -> tuple[str | None, int, int]:
    """Where a block without a fast-path match ends: (error or None, end of body, index after the block)."""
    close = scan.closes.next(body_start)
    reopen = scan.opens.next(body_start)
    if close is None or (reopen is not None and reopen.start() < close.start()):
        stop = len(scan.text) if reopen is None else reopen.start()
        return f"{open_name} is not closed by {close_name}: {_echo(scan.text[body_start:stop].strip())}", stop, stop
    return None, close.start(), close.end()


# --- Hermes ---------------------------------------------------------------------------------------------------------
_HERMES_OPEN = re.compile(re.escape(HERMES_OPEN))
_HERMES_CLOSE = re.compile(re.escape(HERMES_CLOSE))


def _scan_hermes(text: str) -> tuple[list[str], list[_Found]]:
    return _scan(text, _HERMES_OPEN, _HERMES_CLOSE, _read_hermes)


def _read_hermes(scan: _Scan, body_start: int) -> tuple[_Found, int]:
    decoded = scan.decode_then_close(body_start)
    if decoded is not None:
        value, _, after = decoded
        return _hermes_item(value), after
    error, body_end, after = _block_end(scan, body_start, HERMES_OPEN, HERMES_CLOSE)
    return (error or _hermes_body(scan.text[body_start:body_end])), after


def _hermes_body(body: str) -> _Found:
    body = _strip_fence(body.strip())
    if not body:
        return f"the {HERMES_OPEN} block is empty"
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as e:
        salvaged = _HERMES_SALVAGE.match(body)
        # Only when the JSON breaks inside the arguments; a missing closing brace of the block itself stays an error.
        at = getattr(e, "pos", -1)
        if salvaged and salvaged.start(2) <= at < salvaged.end(2):
            return salvaged.group(1).strip(), salvaged.group(2), None
        return f"not valid JSON ({_json_error(e)}): {_echo(body)}"
    return _hermes_item(value)


def _hermes_item(value: Any) -> _Found:
    if not isinstance(value, dict):
        return f'expected a JSON object like {{"name": ..., "arguments": {{...}}}}, got {_describe(value)}'
    if "name" not in value and isinstance(value.get("function"), dict):  # OpenAI's {"function": {...}} nesting
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return f'"name" must be the tool name as a non-empty string, got {_describe(name)}'
    name = name.strip()
    arguments = value["arguments"] if "arguments" in value else value.get("parameters")
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str):
        arguments = _decode_arguments(arguments)
    elif not isinstance(arguments, dict):
        return f'"arguments" of {_short(name)} must be a JSON object, got {_describe(arguments)}'
    call_id = value.get("id")
    return name, arguments, call_id if isinstance(call_id, str) and call_id else None


# --- DeepSeek -------------------------------------------------------------------------------------------------------
def _scan_deepseek(text: str) -> tuple[list[str], list[_Found]]:
    seps = _Finder(_DS_SEP, text)
    outside, found = _scan(text, _DS_CALL_BEGIN, _DS_CALL_END, lambda scan, start: _read_deepseek(scan, seps, start))
    outside = [_DS_CALLS_END.sub("", _DS_CALLS_BEGIN.sub("", s)) for s in outside]
    section = _DS_CALLS_BEGIN.search(text)
    if not found and section is not None:
        rest = _echo(text[section.end() :])
        found.append(f"the tool calls section holds no {DS_CALL_BEGIN}NAME{DS_SEP}ARGUMENTS{DS_CALL_END}: {rest}")
    return outside, found


def _read_deepseek(scan: _Scan, seps: _Finder, body_start: int) -> tuple[_Found, int]:
    # V3.1 style `NAME<sep>{json}<end>` first, read JSON-first so that markers inside string arguments do not end it.
    sep = seps.next(body_start)
    if sep is not None:
        limits = [m.start() for m in (scan.closes.next(body_start), scan.opens.next(body_start)) if m is not None]
        name = scan.text[body_start : sep.start()].strip()
        if name and (not limits or sep.start() < min(limits)):
            decoded = scan.decode_then_close(sep.end())
            if decoded is not None:
                _, raw, after = decoded
                return (name, _decode_arguments(raw), None), after
    error, body_end, after = _block_end(scan, body_start, DS_CALL_BEGIN, DS_CALL_END)
    return (error or _deepseek_body(scan.text[body_start:body_end])), after


def _deepseek_body(body: str) -> _Found:
    sep = _DS_SEP.search(body)
    if sep is None:
        return f"no {DS_SEP} between the tool name and its arguments: {_echo(body.strip())}"
    name, raw = body[: sep.start()].strip(), body[sep.end() :].strip()
    if name == "function" and "\n" in raw and not raw.startswith("{"):  # V3 style: type<sep>NAME\n```json\n{...}\n```
        name, _, raw = raw.partition("\n")
        name, raw = name.strip(), raw.strip()
    if not name:
        return f"no tool name before {DS_SEP}: {_echo(body.strip())}"
    return name, _decode_arguments(_strip_fence(raw)), None


# --- shared parsing helpers -----------------------------------------------------------------------------------------
def _decode_arguments(raw: str) -> dict[str, Any] | str:
    """Arguments given as JSON text: the object if it decodes to one, {} if blank, else the raw text unchanged."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    return value if isinstance(value, dict) else raw


def _strip_fence(text: str) -> str:
    fenced = _FENCE.match(text)
    return fenced.group(1).strip() if fenced else text


# --- rendering ------------------------------------------------------------------------------------------------------
_HERMES_PROMPT_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_HERMES_PROMPT_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
_DEEPSEEK_PROMPT_TAIL = (
    "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
    f"{DS_CALLS_BEGIN}{DS_CALL_BEGIN}tool_call_name{DS_SEP}tool_call_arguments{DS_CALL_END}"
    "{additional_tool_calls}" + f"{DS_CALLS_END}\n\n"
    "Where:\n- `tool_call_name` must be an exact match to one of the available tools\n"
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
    "- For multiple tool calls, chain them directly without separators or spaces"
)


def render_tools_prompt(tools: Sequence[ToolSpec], fmt: ToolFormat = "hermes") -> str:
    """The system-prompt section that lists `tools` and shows how to call them; "" when there are no tools.

    Hermes follows the Qwen2.5 chat template (`<tools>` with one OpenAI tool JSON per line, then the `<tool_call>`
    instructions); DeepSeek follows the DeepSeek-V3.1 model card (`## Tools`, a `### name` section per tool with its
    Description and compact JSON Parameters, then the tool-call format).
    """
    if not tools:
        return ""
    if fmt == "hermes":
        lines = "".join("\n" + json.dumps(t.to_openai(), ensure_ascii=False) for t in tools)
        return _HERMES_PROMPT_HEAD + lines + _HERMES_PROMPT_TAIL
    if fmt == "deepseek":
        sections = "".join(
            f"### {t.name}\nDescription: {t.description}\n\n"
            f"Parameters: {json.dumps(t.parameters, ensure_ascii=False)}\n\n"
            for t in tools
        )
        return "## Tools\nYou have access to the following tools:\n\n" + sections + _DEEPSEEK_PROMPT_TAIL
    raise ValueError(f"fmt must be 'hermes' or 'deepseek', got {fmt!r}")


def render_tool_calls(calls: Sequence[ToolCall], fmt: ToolFormat = "hermes") -> str:
    """The text with which an assistant turn makes `calls`; "" for no calls. Ids are not written (neither format has
    them). `parse_tool_calls(render_tool_calls(calls, fmt), fmt).calls` equals `calls`, ids aside.

    Hermes writes one `<tool_call>` block per call, joined by newlines. Arguments given as a string are written as
    the object they decode to, or else as a JSON string (so that they parse back as that same string). DeepSeek
    writes the V3.1 style, ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>...
    <｜tool▁calls▁end｜>``, with arguments as given.
    """
    if not calls:
        return ""
    if fmt == "hermes":
        blocks = []
        for call in calls:
            arguments = _decode_arguments(call.arguments) if isinstance(call.arguments, str) else call.arguments
            payload = json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)
            blocks.append(f"{HERMES_OPEN}\n{payload}\n{HERMES_CLOSE}")
        return "\n".join(blocks)
    if fmt == "deepseek":
        body = "".join(f"{DS_CALL_BEGIN}{c.name}{DS_SEP}{c.arguments_json()}{DS_CALL_END}" for c in calls)
        return DS_CALLS_BEGIN + body + DS_CALLS_END
    raise ValueError(f"fmt must be 'hermes' or 'deepseek', got {fmt!r}")


# --- validation -----------------------------------------------------------------------------------------------------
def validate_call(call: ToolCall, tools: Sequence[ToolSpec]) -> str | None:
    """None if `call` names one of `tools` with arguments its schema accepts; otherwise one message, written for the
    model, that says exactly what is wrong. Never raises.

    Checks in order: the tool exists (with a "did you mean"), string arguments decode to a JSON object, no required
    argument is missing and none is unexpected (arguments not in `properties` are rejected unless the schema allows
    them with `additionalProperties` or `patternProperties`), then the rest of the JSON schema (types, enums, bounds,
    nested values), naming the path of the offending value. A string that decodes to a valid object is valid: decode
    it with `json.loads` before calling the tool.

    Example: ``"tool 'submit': argument 'answer' must be number, got string \\"abc\\""``.
    """
    try:
        return _validate(call, tools)
    except Exception as e:  # noqa: BLE001 - the contract is "never raises"
        return f"tool {_short(call.name)}: could not check the arguments ({type(e).__name__}: {e})"


def _validate(call: ToolCall, tools: Sequence[ToolSpec]) -> str | None:
    spec = next((t for t in tools if t.name == call.name), None)
    if spec is None:
        return _unknown_tool(call.name, [t.name for t in tools])
    prefix = f"tool {_short(call.name)}: "
    arguments = call.arguments
    if isinstance(arguments, str):
        if not arguments.strip():
            arguments = {}
        else:
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError) as e:
                return f"{prefix}arguments are not valid JSON ({_json_error(e)}): {_echo(call.arguments)}"
    if not isinstance(arguments, dict):
        return f"{prefix}arguments must be a JSON object, got {_describe(arguments)}"
    problem = _check_names(arguments, spec.parameters)
    if problem is not None:
        return prefix + problem
    try:
        validator = _validator(json.dumps(spec.parameters, default=repr))
    except jsonschema.SchemaError as e:
        reason = _clip(e.message, 200)
        return f"{prefix}the tool's parameter schema is invalid ({reason}); this is a bug in the environment"
    errors = list(itertools.islice(validator.iter_errors(arguments), _MAX_SCHEMA_ERRORS + 1))
    if not errors:
        return None
    shown = "; ".join(dict.fromkeys(_schema_error(e) for e in errors[:_MAX_SCHEMA_ERRORS]))
    more = "; and more problems" if len(errors) > _MAX_SCHEMA_ERRORS else ""
    return prefix + shown + more


def _unknown_tool(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"unknown tool {_short(name)}{hint} Available tools: {', '.join(names) if names else '(none)'}"


def _check_names(arguments: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Missing required and unexpected argument names, in one message."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    missing = [r for r in required if r not in arguments]
    allows_extra = schema.get("additionalProperties", False) not in (False, None) or "patternProperties" in schema
    unexpected = [] if allows_extra else [k for k in arguments if k not in properties]
    parts = []
    if missing:
        listed = ", ".join(f"{_short(m)}{_type_hint(properties.get(m))}" for m in missing)
        parts.append(f"missing required argument{'s' if len(missing) > 1 else ''} {listed}")
    if unexpected:
        listed = ", ".join(_short(k) for k in unexpected)
        expected = f"expected arguments: {', '.join(properties)}" if properties else "this tool takes no arguments"
        parts.append(f"unexpected argument{'s' if len(unexpected) > 1 else ''} {listed}; {expected}")
    return "; ".join(parts) or None


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """A checked validator for one schema, cached by its JSON text (tool schemas repeat on every step). Key order is
    kept, so that errors come in the order of the schema's properties."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _schema_error(error: jsonschema.ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    where = f"argument {_short(path)}" if path else "arguments"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where} must be {expected}, got {_describe(error.instance)}"
    if error.validator == "enum" and isinstance(error.validator_value, list):
        options = ", ".join(_json_text(v) for v in error.validator_value)
        return f"{where} must be one of {_clip(options, 200)}, got {_json_text(error.instance)}"
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(error.validator_value, list):
        absent = [r for r in error.validator_value if isinstance(r, str) and r not in error.instance]
        if absent:
            listed = ", ".join(_short(a) for a in absent)
            return f"{where} is missing required propert{'ies' if len(absent) > 1 else 'y'} {listed}"
    return f"{where}: {_clip(error.message, 200)}"


# --- message helpers ------------------------------------------------------------------------------------------------
def _type_hint(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, str):
        return f" ({kind})"
    if isinstance(kind, list) and kind and all(isinstance(k, str) for k in kind):
        return f" ({' or '.join(kind)})"
    return ""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _json_text(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _clip(text, _VALUE_CHARS)


def _describe(value: Any) -> str:
    """JSON type and value, e.g. `string "abc"`, `integer 3`, `null`."""
    return "null" if value is None else f"{_json_type(value)} {_json_text(value)}"


def _echo(text: str) -> str:
    """The offending text quoted on one line, cut after _ECHO_CHARS characters."""
    if len(text) <= _ECHO_CHARS:
        return repr(text)
    return f"{text[:_ECHO_CHARS]!r}... ({len(text)} characters in all)"


def _short(name: str) -> str:
    return repr(name) if len(name) <= _VALUE_CHARS else f"{name[:_VALUE_CHARS]!r}..."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_error(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)
