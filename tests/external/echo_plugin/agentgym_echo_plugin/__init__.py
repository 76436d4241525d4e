"""`echo`: a third-party agentgym env that asks the agent to submit a given word back, built on the public API only."""

from __future__ import annotations

import random

from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.toolenv import ToolEnv, tool

WORDS = ("apple", "river", "copper", "violet", "thunder", "meadow", "lantern", "pebble")

__all__ = ["EchoEnv"]


class EchoEnv(ToolEnv):
    """Submit the word named in the prompt. Reward 1 iff it matches exactly."""

    name = "echo"
    system_prompt = "Repeat the requested word by calling `submit`."

    def __init__(self, *, max_turns: int = 4, tool_format: str = "auto") -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)

    @tool("Say a word out loud (does not end the episode).", word={"type": "string", "description": "any word"})
    async def say(self, word: str) -> str:
        return word

    @tool("Submit the word; this ends the episode.", word={"type": "string", "description": "the requested word"})
    async def submit(self, word: str) -> Verdict:
        expected = self.task.data["word"]
        passed = word == expected
        return Verdict(reward=float(passed), passed=passed,
                       reasons=[f"submitted {word!r}, expected {expected!r}"], components={"exact": float(passed)})

    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"word": task.data["word"]})])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        tasks = []
        for i in range(n):
            word = random.Random(f"echo-{seed}-{i}").choice(WORDS)
            tasks.append(Task(id=f"echo-{seed}-{i}", env="echo", prompt=f"Submit the word {word!r}.",
                              data={"word": word}))
        return tasks
