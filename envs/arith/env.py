"""`arith`: multi-step arithmetic with a `calculator` tool and `submit`; the reference env for tests and docs."""

from __future__ import annotations

import math

from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.envs.arith.calculator import evaluate
from agentgym.envs.arith.tasks import ArithTaskConfig, generate_tasks
from agentgym.toolenv import ToolEnv, tool
from agentgym.tools import ToolScript, last_tool_output, tool_call

_MAX_SHOWN_DIGITS = 40  # a longer submitted integer is shown by its length only


class ArithEnv(ToolEnv):
    """Compute an expression with the calculator, then submit the integer result. Reward 1 iff it is exact.

    `max_turns` (default 4: the two-turn solution and room for two mistakes) is also `agentgym eval`'s default turn
    budget for arith.
    """

    name = "arith"
    system_prompt = (
        "You solve arithmetic problems. Call the `calculator` tool to evaluate expressions, "
        "then call `submit` with the final integer answer."
    )

    def __init__(self, *, max_turns: int = 4, difficulty: int = 3, tool_format: str = "auto") -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        ArithTaskConfig(difficulty=difficulty)  # a bad difficulty fails in make(), not at the first sample_tasks()
        self.difficulty = difficulty

    @tool("Evaluate an arithmetic expression with + - * / // % ** and parentheses.",
          expression={"type": "string", "description": "e.g. (3 + 4) * 5"})
    async def calculator(self, expression: str) -> str:
        return str(evaluate(expression))

    @tool("Submit the final answer; this ends the episode.", answer={"type": "number", "description": "the result"})
    async def submit(self, answer: float) -> Verdict:
        assert self.task is not None
        expected = self.task.data["answer"]
        passed = answer == expected
        reason = f"answer {_number(answer)} {'==' if passed else '!='} expected {_number(expected)}"
        return Verdict(reward=1.0 if passed else 0.0, passed=passed, reasons=[reason],
                       components={"accuracy": 1.0 if passed else 0.0})

    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])

    def reference_policy(self, task: Task) -> ToolScript:
        """`calculator(expression)`, then `submit` of the number the calculator printed (read from the conversation)."""
        return ToolScript([tool_call("calculator", expression=task.data["expression"]),
                           lambda messages: tool_call("submit", answer=_parse_number(last_tool_output(messages)))])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        return generate_tasks(n, seed=seed, difficulty=self.difficulty)


def _number(x: float) -> str:
    """The answer as the verdict shows it; any JSON number, however large, has one (and never raises)."""
    if isinstance(x, int):
        if abs(x) < 10**_MAX_SHOWN_DIGITS:
            return str(x)
        return f"{'-' if x < 0 else ''}<an integer of {_num_digits(x)} digits>"
    return str(int(x)) if math.isfinite(x) and x.is_integer() else repr(x)


def _parse_number(text: str) -> int | float | str:
    """The calculator's printed result as a JSON number (the text itself when it is not one)."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return text


def _num_digits(x: int) -> int:
    """Decimal digits of |x| without str() (which refuses more than 4300 digits)."""
    n = abs(x)
    k = max(0, int((n.bit_length() - 1) * math.log10(2)) - 1)  # a lower bound on floor(log10(n))
    while n >= 10 ** (k + 1):
        k += 1
    return k + 1
