"""Fuzz an env through its public API with hostile agent input, and report what the env did wrong.

An agent's action can be anything a model can emit: malformed tool-call text, wrong types, missing or extra
arguments, numbers no float can hold, megabyte strings, unpaired surrogates, tools that do not exist. The contract
(`agentgym.api.Env.step`) says none of it raises and none of it is the env's fault, so every such step must come back
as a `StepResult` whose `error` is `None` or `"model_error"`, in reasonable time. `fuzz_env` checks exactly that::

    for finding in fuzz_env("arith", n=50, seed=0):
        print(finding.describe())
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

from agentgym.api import Action, Env, StepResult, Task, ToolCall, ToolSpec
from agentgym.registry import make

FindingKind = Literal["exception", "timeout", "env_error"]

# Values no well-behaved JSON producer sends, but a model (or a Python client) can.
HUGE_INT = 10**400
ODD_NUMBERS: list[Any] = [HUGE_INT, -HUGE_INT, float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 2**63, 2**64 + 1]
ODD_STRINGS = [
    "a\x00b", "\udcff", "", "\ud800x\udc00", " ", "\x00", "x\udfff", "\ufeff", "\u202e\u2066rtl", "e\u0301" * 50,
    "🙂" * 100, "\u0000" * 10, "\r\n\t\x0b\x0c\x1b[31m", "10**400", "1" * 400, "1e400", "NaN", "-Infinity",
    "'; DROP TABLE t; --", "../../../../etc/passwd", "${HOME}$(echo hi)`id`", "%s%n%x", "[" * 3000, "{" * 3000,
]
HUGE_STRING_CHARS = 200_000
WRONG_TYPES: list[Any] = [None, [1, "a", None], {"a": {"b": [1]}}, True, 0, -1, 1.5, "", "text", [], {}]
# Tool-call text that no parser can make sense of, and text whose JSON holds what Python's json accepts but JSON
# forbids (NaN, Infinity) or what no float holds (a 400-digit integer, 1e400).
MALFORMED_TEXTS = [
    "\udcff", "", "   ", "<tool_call>", "<tool_call>{not json}</tool_call>", "</tool_call>",
    '<tool_call>{"name": 7, "arguments": {}}</tool_call>', '<tool_call>{"arguments": {}}</tool_call>',
    '<tool_call>["a", "b"]</tool_call>', "<tool_call>" + "[" * 5000 + "</tool_call>",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>", "<|tool_call_begin|>x<|tool_sep|>{",
    "<tool_call>\n" * 200, "\\boxed{", "\\boxed{\udcff}", "```json\n{\n```",
]
RAW_NUMBERS = ["1" + "0" * 400, "-" + "9" * 400, "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" * 5000]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the env did wrong with one fuzzed action.

    - env: the env's name.
    - kind: "exception" (something escaped `reset`/`step`), "timeout" (a step ran past the limit) or "env_error"
      (the step blamed the env for what was the agent's input).
    - case: which family of input caused it, e.g. "huge-number".
    - action: a short rendering of the action.
    - detail: the exception, the time taken, or the observation's text.
    """

    env: str
    kind: FindingKind
    case: str
    action: str
    detail: str

    def describe(self) -> str:
        """One ASCII line, e.g. ``arith: env_error on huge-number: submit(answer=<int of 401 digits>) -> internal
        error in tool 'submit' (OverflowError: ...); this is not your fault``."""
        return f"{self.env}: {self.kind} on {self.case}: {self.action} -> {self.detail}"


def fuzz_env(
    env: str | Callable[[], Env], n: int = 50, seed: int = 0, *, step_timeout_s: float = 10.0,
    reset_timeout_s: float = 120.0,
) -> list[Finding]:
    """Drive an env with `n` hostile actions and return what went wrong; an empty list means it held up.

    Each action is stepped on a fresh episode of one of the env's own `sample_tasks` (so a `submit` or a crash in one
    case cannot hide another). Not for use inside a running event loop: call `afuzz_env` there.

    Args:
        env: a registered env name, or a zero-argument factory returning an env.
        n: how many actions to try.
        seed: picks the actions; the same seed gives the same actions.
        step_timeout_s: a step taking longer than this is a finding.
        reset_timeout_s: a reset taking longer than this is a finding (and ends the run).

    Returns:
        Findings in the order they happened; each has a one-line `describe()`.
    """
    return asyncio.run(afuzz_env(env, n, seed, step_timeout_s=step_timeout_s, reset_timeout_s=reset_timeout_s))


async def afuzz_env(
    env: str | Callable[[], Env], n: int = 50, seed: int = 0, *, step_timeout_s: float = 10.0,
    reset_timeout_s: float = 120.0,
) -> list[Finding]:
    """`fuzz_env` for callers already inside an event loop."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    factory: Callable[[], Env] = (lambda: make(env)) if isinstance(env, str) else env
    rng = random.Random(seed)
    instance = factory()
    name = str(getattr(instance, "name", env))
    findings: list[Finding] = []
    try:
        tasks: list[Task] = instance.sample_tasks(max(1, min(n, 4)), seed=seed)  # type: ignore[attr-defined]
        for i in range(n):
            task = tasks[i % len(tasks)]
            try:
                await asyncio.wait_for(instance.reset(task, seed=seed + i), reset_timeout_s)
            except Exception as e:  # noqa: BLE001 - a reset that fails on the env's own task is a finding
                findings.append(Finding(name, "exception", "reset", f"reset({task.id})", _error(e)))
                break
            case, action = make_action(i, rng, instance.tools())
            finding = await _step(instance, name, case, action, step_timeout_s)
            if finding is not None:
                findings.append(finding)
                if finding.kind != "env_error":  # the env may be wedged: continue on a fresh one
                    await _close(instance)
                    instance = factory()
    finally:
        await _close(instance)
    return findings


async def _step(env: Env, name: str, case: str, action: Action, timeout_s: float) -> Finding | None:
    shown = render_action(action)
    start = time.perf_counter()
    try:
        result = await asyncio.wait_for(env.step(action), timeout_s)
    except TimeoutError:
        return Finding(name, "timeout", case, shown, f"step did not return within {timeout_s:g} s")
    except Exception as e:  # noqa: BLE001 - the contract says step never raises for a bad action
        return Finding(name, "exception", case, shown, _error(e))
    if not isinstance(result, StepResult):
        return Finding(name, "exception", case, shown, f"step returned {type(result).__name__}, not StepResult")
    if result.error == "env_error":
        text = " | ".join(m.content for m in result.observation.messages)
        return Finding(name, "env_error", case, shown, _clip(ascii(text)[1:-1], 300))
    elapsed = time.perf_counter() - start
    if elapsed > timeout_s:  # a step that blocked the loop cannot be cancelled by wait_for
        return Finding(name, "timeout", case, shown, f"step took {elapsed:.1f} s (limit {timeout_s:g} s)")
    return None


# --- the actions ----------------------------------------------------------------------------------------------------
def make_action(index: int, rng: random.Random, tools: list[ToolSpec]) -> tuple[str, Action]:
    """Hostile action number `index` for an env with `tools`: (its case name, the action).

    The actions go round the cases, and each case round the tools, so `len(cases) * len(tools)` actions try every case
    on every tool; each further round takes the next value of every list of odd values (most hostile first).
    """
    cases = list(_CASES)
    case = cases[index % len(cases)]
    turn = index // len(cases)
    spec = tools[turn % len(tools)] if tools else None
    pick = _Pick(rng, spec, turn // max(1, len(tools)))
    return case, _CASES[case](pick)


@dataclass(slots=True)
class _Pick:
    """What one action is built from: the seeded rng, the tool it calls (None: the env has no tools) and its round."""

    rng: random.Random
    spec: ToolSpec | None
    round: int

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else "submit"

    @property
    def props(self) -> dict[str, Any]:
        props = self.spec.parameters.get("properties") if self.spec is not None else None
        return props if isinstance(props, dict) else {}

    def value(self, values: list[Any]) -> Any:
        return values[self.round % len(values)]

    def key(self) -> str:
        return self.rng.choice(list(self.props)) if self.props else "value"


def _plausible(schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    kind = kind[0] if isinstance(kind, list) and kind else kind
    return {"string": "1", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}, "null": None}.get(
        kind, "1")


def _call(pick: _Pick, value: Any) -> Action:
    """A call of the tool whose arguments are plausible except one, which is `value`."""
    arguments = {k: _plausible(v) for k, v in pick.props.items()}
    arguments[pick.key()] = value
    return Action(tool_calls=[ToolCall(id="fuzz", name=pick.name, arguments=arguments)])


def _text_call(pick: _Pick, raw_value: str) -> Action:
    """The same call written as Hermes text, with `raw_value` spliced into the JSON unquoted (e.g. ``1e400``)."""
    key = pick.key()
    others = {k: _plausible(v) for k, v in pick.props.items() if k != key}
    body = json.dumps(others)[1:-1]
    arguments = "{" + (body + ", " if body else "") + json.dumps(key) + ": " + raw_value + "}"
    return Action(text=f'<tool_call>\n{{"name": {json.dumps(pick.name)}, "arguments": {arguments}}}\n</tool_call>')


def _extra(pick: _Pick) -> Action:
    arguments = {k: _plausible(v) for k, v in pick.props.items()} | {"unexpected\udcff": 1, "x" * 300: None}
    return Action(tool_calls=[ToolCall(id="fuzz", name=pick.name, arguments=arguments)])


RAW_ARGUMENTS = ["\udcff", "{" * 3000, "", "null", "[1, 2]", "{", '"a string"', '{"a": 1}{"b": 2}']
UNKNOWN_TOOLS = ["submit\udcff", "no_such_tool", "", "x" * 500, "🙂"]
HUGE_STRINGS = [c * HUGE_STRING_CHARS for c in ("x", "\u00e9", "\U0001f642", "\n")]

_CASES: dict[str, Callable[[_Pick], Action]] = {
    "malformed-text": lambda pick: Action(text=pick.value(MALFORMED_TEXTS)),
    "unknown-tool": lambda pick: Action(tool_calls=[ToolCall(id="fuzz", name=pick.value(UNKNOWN_TOOLS))]),
    "missing-arguments": lambda pick: Action(tool_calls=[ToolCall(id="fuzz", name=pick.name)]),
    "extra-arguments": _extra,
    "raw-arguments": lambda pick: Action(tool_calls=[
        ToolCall(id="fuzz", name=pick.name, arguments=pick.value(RAW_ARGUMENTS))]),
    "wrong-type": lambda pick: _call(pick, pick.value(WRONG_TYPES)),
    "huge-number": lambda pick: _call(pick, pick.value(ODD_NUMBERS)),
    "huge-number-text": lambda pick: _text_call(pick, pick.value(RAW_NUMBERS)),
    "odd-string": lambda pick: _call(pick, pick.value(ODD_STRINGS)),
    "huge-string": lambda pick: _call(pick, pick.value(HUGE_STRINGS)),
}


# --- rendering ------------------------------------------------------------------------------------------------------
def render_action(action: Action, limit: int = 120) -> str:
    """A short ASCII rendering of an action, e.g. ``submit(answer=<int of 401 digits>)`` or ``text '<tool_call>'``."""
    if action.tool_calls:
        parts = []
        for call in action.tool_calls:
            if isinstance(call.arguments, dict):
                args = ", ".join(f"{_clip(ascii(k)[1:-1], 40)}={_value(v)}" for k, v in call.arguments.items())
            else:
                args = _value(call.arguments)
            parts.append(f"{_clip(ascii(call.name)[1:-1], 40)}({args})")
        return _clip("; ".join(parts), limit)
    return _clip("text " + ascii(action.text), limit)


def _value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"{'-' if value < 0 else ''}<int of {_num_digits(value)} digits>"
    if isinstance(value, str) and len(value) > 30:
        return ascii(value[:20]) + f"...({len(value)} chars)"
    return _clip(ascii(value), 40)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num_digits(x: int) -> int:
    """Decimal digits of |x| without str() (which refuses more than 4300 digits)."""
    n = abs(x)
    k = max(0, int((n.bit_length() - 1) * math.log10(2)) - 1)
    while n >= 10 ** (k + 1):
        k += 1
    return k + 1


def _error(e: BaseException) -> str:
    return _clip(ascii(f"{type(e).__name__}: {e}")[1:-1], 300)


async def _close(env: Env) -> None:
    try:
        await env.close()
    except Exception:  # noqa: BLE001 - closing after a finding is best effort; the finding is already recorded
        pass
