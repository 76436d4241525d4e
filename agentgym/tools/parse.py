"""Parse tool calls out of model text (Hermes or DeepSeek format), never raising: malformed blocks become errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from agentgym.api import ToolCall
from agentgym.tools.formats import (
    DS_CALL_BEGIN,
    DS_CALL_END,
    DS_SEP,
    HERMES_CLOSE,
    HERMES_OPEN,
    ToolFormat,
)
from agentgym.tools.messages import _describe, _echo, _json_error, _short


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

