"""How the parser and the validator quote text and values in the messages they write for the model."""

from __future__ import annotations

import json
from typing import Any

_ECHO_CHARS = 120
_VALUE_CHARS = 60


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
        try:
            text = repr(value)
        except ValueError:  # an int of more than 4300 digits has no str() or repr()
            text = f"<{_json_type(value)} of about {int(value.bit_length() * 0.30103)} digits>"
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
