"""Check a tool call against its tool's JSON schema, with one message written for the model when it is wrong."""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from agentgym.api import ToolCall, ToolSpec
from agentgym.tools.messages import (
    _clip,
    _describe,
    _echo,
    _json_error,
    _json_text,
    _short,
)

_MAX_SCHEMA_ERRORS = 3
_SURROGATE = re.compile("[\ud800-\udfff]")


def validate_call(call: ToolCall, tools: Sequence[ToolSpec]) -> str | None:
    """None if `call` names one of `tools` with arguments its schema accepts; otherwise one message, written for the
    model, that says exactly what is wrong. Never raises.

    Checks in order: the tool exists (with a "did you mean"), string arguments decode to a JSON object, no required
    argument is missing and none is unexpected (arguments not in `properties` are rejected unless the schema allows
    them with `additionalProperties` or `patternProperties`), every value is one JSON can carry (no NaN or Infinity,
    no unpaired surrogate in a string or key, which no UTF-8 encoder accepts), then the rest of the JSON schema (types, enums, bounds,
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
    problem = _check_names(arguments, spec.parameters) or _check_values(arguments)
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


def _check_values(value: Any, path: str = "") -> str | None:
    """The first value JSON cannot carry: a non-finite number, or text with an unpaired surrogate (e.g. "\\udcff").

    Python's `json` reads both (`NaN`, `"\\udcff"`), but no tool can pass them on: UTF-8 encoders refuse the
    surrogate, and arithmetic on NaN or Infinity silently gives nonsense.
    """
    where = f"argument {_short(path)}" if path else "arguments"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} must be a finite number, got {value!r} (JSON has no NaN or Infinity)"
    if isinstance(value, str):
        return _check_text(value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (problem := _check_text(key, f"an argument name under {where}")):
                return problem
            problem = _check_values(item, f"{path}.{key}" if path else str(key))
            if problem is not None:
                return problem
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            problem = _check_values(item, f"{path}[{i}]")
            if problem is not None:
                return problem
    return None


def _check_text(text: str, where: str) -> str | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (f"{where} contains an unpaired surrogate {ascii(found.group())} at character {found.start()}, which is "
            "not valid Unicode; send plain UTF-8 text")


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
