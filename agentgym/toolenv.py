"""`ToolEnv`: a base class for tool-using envs, so a plugin writes its tools and verifier and nothing else.

It turns every agent mistake (no call, malformed JSON, unknown tool, bad arguments, a tool's own `ToolError`) into an
observation that says exactly what was wrong, enforces reset-before-step and the turn budget, and labels failures as
`model_error` or `env_error`. Subclassing it is optional: any object that satisfies `agentgym.api.Env` is an env.
"""

from __future__ import annotations

import inspect
import json
import random
from typing import Any, Callable, ClassVar

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, ToolSpec, Verdict
from agentgym.errors import ResetNeeded
from agentgym.tools import parse_tool_calls, validate_call

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
# Under `from __future__ import annotations` the signature holds the annotation's text, e.g. "int".
_JSON_TYPES_BY_NAME = {t.__name__: kind for t, kind in _JSON_TYPES.items()}


class ToolError(Exception):
    """Raise inside a tool for a mistake the agent made (bad expression, missing file); its text is the observation."""


def tool(description: str, **properties: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an async method as a tool. Parameters without a default in the signature are required.

    Each keyword is a JSON Schema for that parameter; a parameter left out gets its type from the annotation::

        @tool("Evaluate an arithmetic expression.", expression={"type": "string", "description": "e.g. (3+4)*5"})
        async def calculator(self, expression: str) -> str: ...
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {fn.__name__!r} must be an async method (async def)")
        params = list(inspect.signature(fn).parameters.values())[1:]  # drop self
        props: dict[str, Any] = {}
        required: list[str] = []
        for p in params:
            schema = dict(properties.get(p.name) or {})
            kind = (_JSON_TYPES_BY_NAME if isinstance(p.annotation, str) else _JSON_TYPES).get(p.annotation)
            if "type" not in schema and kind is not None:
                schema["type"] = kind
            props[p.name] = schema
            if p.default is inspect.Parameter.empty:
                required.append(p.name)
        unknown = set(properties) - set(props)
        if unknown:
            raise TypeError(f"tool {fn.__name__!r}: schemas given for parameters not in the signature: {sorted(unknown)}")
        fn.__tool_spec__ = ToolSpec(  # type: ignore[attr-defined]
            name=fn.__name__,
            description=description,
            parameters={"type": "object", "properties": props, "required": required},
        )
        return fn

    return mark


class ToolEnv:
    """Base class for envs whose agent acts through tools.

    Subclasses set `name` and `system_prompt`, define tools with `@tool`, and end the episode by returning a `Verdict`
    from a tool (usually `submit`). Optional hooks: `on_reset`, `reference_action`, `reference_policy`, `sample_tasks`,
    `aclose`. An env whose tools are not methods (they come from a server or a generated folder) fills `_specs` itself
    and overrides `call_tool`; the step loop, the parsing and the error labels stay this class's.

    How a tool's exception is labelled: `ToolError` is the agent's mistake (`model_error`, its text is the
    observation). So is an exception in `argument_errors`: the types that only the values a tool was given can cause
    (a number too large for a float, text no codec takes, nesting deeper than the stack). Any other exception is a bug
    or an infrastructure failure (`env_error`, "not your fault"). A tool should still catch what its arguments can
    break and raise `ToolError` with a message that says what to change; `agentgym.fuzz.fuzz_env` finds the cases it
    missed.

    Attributes:
        max_turns: steps before the episode is truncated (each step, valid or not, counts).
        tool_format: how to parse tool calls out of plain text ("auto", "hermes" or "deepseek").
    """

    name: ClassVar[str] = "toolenv"
    system_prompt: ClassVar[str] = "You are a helpful agent. Use the tools to solve the task."
    argument_errors: ClassVar[tuple[type[BaseException], ...]] = (OverflowError, UnicodeError, RecursionError)

    def __init__(self, *, max_turns: int = 16, tool_format: str = "auto") -> None:
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
        if tool_format not in ("auto", "hermes", "deepseek"):
            raise ValueError(f"tool_format must be 'auto', 'hermes' or 'deepseek', got {tool_format!r}")
        self.max_turns = max_turns
        self.tool_format = tool_format
        self.task: Task | None = None
        self.rng = random.Random()
        self.num_turns = 0
        self.is_running = False
        self.is_closed = False
        self._specs = _tool_specs(type(self))

    # --- the Env protocol ---------------------------------------------------------------------------------------
    def tools(self) -> list[ToolSpec]:
        return list(self._specs)

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        if self.is_closed:
            raise ResetNeeded(f"env {self.name!r} is closed; make a new one")
        self.task = task
        self.rng = random.Random(seed)
        self.num_turns = 0
        await self.on_reset(task, seed)
        self.is_running = True
        return Observation(
            messages=[Message(role="system", content=self.system_prompt), Message(role="user", content=task.prompt)]
        )

    async def step(self, action: Action) -> StepResult:
        if not self.is_running:
            raise ResetNeeded(
                f"env {self.name!r}: step() called before reset() or after the episode ended; call reset(task) first"
            )
        self.num_turns += 1
        calls, messages, error = self._parse(action)
        verdict: Verdict | None = None
        info: dict[str, Any] = {"num_calls": len(calls)}
        for call in calls:
            if verdict is not None:
                messages.append(_tool_message(call, "ignored: the episode already ended with the call before this one"))
                continue
            result, call_error = await self._run_call(call)
            error = "env_error" if "env_error" in (error, call_error) else error or call_error  # env failures win
            if isinstance(result, Verdict):
                verdict = result
                messages.append(_tool_message(call, f"submitted; reward {result.reward:g}"))
            else:
                messages.append(_tool_message(call, result))
        terminated = verdict is not None
        truncated = not terminated and self.num_turns >= self.max_turns
        if truncated:
            info["truncation_reason"] = f"turn budget of {self.max_turns} steps reached"
        self.is_running = not (terminated or truncated)
        return StepResult(
            observation=Observation(messages=messages),
            reward=verdict.reward if verdict else 0.0,
            terminated=terminated,
            truncated=truncated,
            verdict=verdict,
            error=error,
            info=info,
        )

    async def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        self.is_running = False
        await self.aclose()

    async def __aenter__(self) -> ToolEnv:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- hooks for subclasses -----------------------------------------------------------------------------------
    async def on_reset(self, task: Task, seed: int | None) -> None:
        """Prepare per-episode state (optional)."""

    async def aclose(self) -> None:
        """Release resources (optional); called once by `close`."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[str | Verdict, str | None]:
        """Run one validated call: returns (the observation text, or the `Verdict` that ends the episode; the error
        label, None, "model_error" or "env_error"). The default calls the `@tool` method `name`; a `ToolError` or an
        exception in `argument_errors` is the agent's mistake and any other exception the env's."""
        method = getattr(self, name)
        try:
            result = await method(**arguments)
        except ToolError as e:
            return f"error: {e}", "model_error"
        except self.argument_errors as e:
            return (f"error: tool {name!r} cannot work with the arguments it was given ({type(e).__name__}: "
                    f"{e}); use smaller numbers, shorter or plainer text, or less nesting"), "model_error"
        except Exception as e:  # noqa: BLE001 - an env bug must not look like the agent's fault
            return internal_error(name, f"{type(e).__name__}: {e}"), "env_error"
        if isinstance(result, Verdict):
            return result, None
        return str(result), None

    # --- internals ----------------------------------------------------------------------------------------------
    def _parse(self, action: Action) -> tuple[list[ToolCall], list[Message], str | None]:
        if action.tool_calls:
            return list(action.tool_calls), [], None
        parsed = parse_tool_calls(action.text, self.tool_format)  # type: ignore[arg-type]
        messages = [Message(role="tool", name="error", content=f"error: {e}") for e in parsed.errors]
        if not parsed.calls and not parsed.errors:
            names = ", ".join(s.name for s in self._specs)
            messages.append(
                Message(
                    role="user",
                    content=f"No tool call found in your message. Call one of the tools ({names}) to continue.",
                )
            )
        error = "model_error" if messages else None
        return list(parsed.calls), messages, error

    async def _run_call(self, call: ToolCall) -> tuple[str | Verdict, str | None]:
        problem = validate_call(call, self._specs)
        if problem is not None:
            return f"error: {problem}", "model_error"
        arguments = call.arguments if isinstance(call.arguments, dict) else _decode_object(call.arguments)
        return await self.call_tool(call.name, arguments)


def internal_error(tool_name: str, detail: str, *, kind: str = "tool") -> str:
    """The observation for an env-side failure of a tool call: says what broke and that it is not the agent's fault."""
    return f"internal error in {kind} {tool_name!r} ({detail}); this is not your fault"


def _decode_object(raw: str) -> dict[str, Any]:
    """Arguments sent as JSON text (the OpenAI wire form); `validate_call` already checked they decode to an object."""
    return json.loads(raw) if raw.strip() else {}


def _tool_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for n, v in vars(klass).items():
            if hasattr(v, "__tool_spec__") and n not in names:
                names.append(n)
    return names


def _tool_specs(cls: type) -> list[ToolSpec]:
    specs = []
    for n in _tool_names(cls):
        spec = getattr(getattr(cls, n), "__tool_spec__", None)
        if spec is None:  # an override without @tool would otherwise fail with a bare AttributeError
            raise TypeError(f"{cls.__name__}.{n} overrides a tool without @tool; decorate the override with @tool(...)")
        specs.append(spec)
    return specs


def _tool_message(call: ToolCall, content: str) -> Message:
    return Message(role="tool", name=call.name, tool_call_id=call.id or None, content=content)
