"""`arith_solver`: a scripted two-turn policy that solves `arith` tasks (calculator, then submit).

Used by `agentgym quickstart --scripted`, the agent-loop tests and the throughput benchmarks.
"""

from __future__ import annotations

import re
from typing import Sequence

from agentgym.api import Action, Message, ToolCall, ToolSpec

_EXPRESSION = re.compile(r"Compute the value of (?P<expr>.+?)\. Use")


def arith_solver(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Action:
    """Call the calculator on the task's expression, then submit what it returned (a two-turn tool-using episode)."""
    last = messages[-1]
    if last.role == "tool" and last.name == "calculator":
        return Action(tool_calls=[ToolCall(id="submit", name="submit", arguments={"answer": float(last.content)})])
    user = next(m.content for m in messages if m.role == "user")
    match = _EXPRESSION.search(user)
    expression = match["expr"] if match else "0"
    return Action(text=f'<tool_call>{{"name": "calculator", "arguments": {{"expression": "{expression}"}}}}</tool_call>')
