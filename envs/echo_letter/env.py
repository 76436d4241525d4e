"""`EchoLetterEnv`: one turn, the user shows a letter and the reply must start with it.

The smallest setting where GRPO learning is visible (with `agentgym.model.char_tokenizer.CharTokenizer`). Used by the
learning test, the resume test and `examples/train_grpo.py --toy`. Not registered: tests and examples build it directly.
"""

from __future__ import annotations

import random

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolSpec, Verdict
from agentgym.errors import ResetNeeded

LETTERS = "abcdefgh"


class EchoLetterEnv:
    """One turn: the user shows a letter; reward 1 iff the reply starts with it (components: accuracy)."""

    name = "echo"

    def __init__(self, *, letters: str = LETTERS) -> None:
        self.letters = letters
        self.task: Task | None = None

    def tools(self) -> list[ToolSpec]:
        return []

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        self.task = task
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action: Action) -> StepResult:
        if self.task is None:
            raise ResetNeeded("EchoLetterEnv.step called before reset")
        expected = self.task.data["answer"]
        passed = action.text.strip()[:1] == expected
        verdict = Verdict(reward=float(passed), passed=passed, reasons=[f"reply {action.text!r} vs {expected!r}"],
                          components={"accuracy": float(passed)})
        self.task = None
        return StepResult(observation=Observation(), reward=verdict.reward, terminated=True, verdict=verdict)

    async def close(self) -> None:
        self.task = None

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        rng = random.Random(seed)
        out = []
        for i in range(n):
            letter = rng.choice(self.letters)
            out.append(Task(id=f"echo-{seed}-{i}", env=self.name, prompt=letter, data={"answer": letter}))
        return out
