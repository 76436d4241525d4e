"""Reference scripts: an env's multi-turn solution, one tool call per turn, written as the text a model must emit.

An env's optional `reference_policy(task)` hook returns a `ToolScript`: a ``(messages, tools) -> Action`` function
(what `agentgym.rollout.ScriptedPolicy` plays) whose step k is the k-th assistant turn. A step is a `ToolCall`, or a
function of the conversation so far that returns one, so a later turn can read an earlier tool's output (the
calculator's result, the printed value of a cell) the way a model would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agentgym.api import Action, Message, ToolCall, ToolSpec
from agentgym.tools.formats import ToolFormat
from agentgym.tools.render import render_tool_calls

Step = ToolCall | Callable[[Sequence[Message]], ToolCall]
"""One turn of a script: a fixed call, or a function of the conversation so far that returns the call."""


def tool_call(name: str, /, **arguments: Any) -> ToolCall:
    """``tool_call("submit", answer=35)`` → a `ToolCall` (no id: text-rendered calls carry none)."""
    return ToolCall(name=name, arguments=arguments)


def last_tool_output(messages: Sequence[Message], name: str | None = None) -> str:
    """The content of the last `tool` message (of tool `name` when given); "" when there is none."""
    for m in reversed(messages):
        if m.role == "tool" and (name is None or m.name == name):
            return m.content
    return ""


class ToolScript:
    """Plays `steps`, one per assistant turn, each rendered as tool-call text in `fmt` (Hermes by default).

    The action is ``Action(text=render_tool_calls([call], fmt))``, e.g. ``<tool_call>\\n{"name": "calculator",
    "arguments": {"expression": "(3 + 4) * 5"}}\\n</tool_call>``: exactly what a model must learn to write, so a
    demonstration trains the real format and the env parses it like a model's reply. The step index is the number
    of assistant messages already in the conversation; past the last step the reply is empty text.
    """

    def __init__(self, steps: Sequence[Step], *, fmt: ToolFormat = "hermes") -> None:
        if not steps:
            raise ValueError("a ToolScript needs at least one step")
        self.steps = list(steps)
        self.fmt = fmt

    def __len__(self) -> int:
        return len(self.steps)

    def __call__(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> Action:
        index = sum(1 for m in messages if m.role == "assistant")
        if index >= len(self.steps):
            return Action(text="")
        step = self.steps[index]
        made = step if isinstance(step, ToolCall) else step(messages)
        return Action(text=render_tool_calls([made], self.fmt))
