"""Write a new env in ~40 lines, register it, check it against the env contract, and roll it out.

Run it: `python examples/register_plugin.py` (set AGENTGYM_SMOKE=1 for the reduced run the tests use).
A real plugin would ship the class in its own package and register it through the `agentgym.envs` entry-point group
(`[project.entry-points."agentgym.envs"] reverse = "my_plugin.env:ReverseEnv"`); `agentgym.register` does the same at
run time.
"""

from __future__ import annotations

import asyncio
import os
import random

import agentgym
from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.checker import check_env
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes
from agentgym.toolenv import ToolEnv, tool

WORDS = ["gymnasium", "rollout", "verifier", "plugin", "sandbox", "trajectory", "reward", "policy"]


# --- the env: its tools, its verifier, and two optional hooks --------------------------------------------------------
class ReverseEnv(ToolEnv):
    """Reverse a word. Tools: `length` (a helper) and `submit` (ends the episode; reward 1 iff exactly reversed)."""

    name = "reverse"
    system_prompt = "Reverse the word you are given. Call `submit` with the reversed word."

    @tool("The number of characters in a word.", word={"type": "string"})
    async def length(self, word: str) -> str:
        return str(len(word))

    @tool("Submit the reversed word; this ends the episode.", answer={"type": "string"})
    async def submit(self, answer: str) -> Verdict:
        expected = self.task.data["answer"]
        passed = answer.strip() == expected
        reason = f"{answer.strip()!r} {'==' if passed else '!='} expected {expected!r}"
        return Verdict(reward=float(passed), passed=passed, reasons=[reason], components={"exact": float(passed)})

    def reference_action(self, task: Task) -> Action:  # optional: the oracle `agentgym envs check` uses
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:  # optional: a seeded task generator
        rng = random.Random(seed)
        words = [rng.choice(WORDS) for _ in range(n)]
        return [Task(id=f"reverse-{seed}-{i}", env="reverse", prompt=f"Reverse the word: {w}", data={"answer": w[::-1]})
                for i, w in enumerate(words)]


# --- a scripted agent: reads the word from the prompt and submits it reversed ---------------------------------------
def reverse_agent(messages, tools) -> Action:
    word = messages[-1].content.rsplit(" ", 1)[-1]
    return Action(text=f'<tool_call>{{"name": "submit", "arguments": {{"answer": "{word[::-1]}"}}}}</tool_call>')


def main() -> None:
    is_smoke = os.environ.get("AGENTGYM_SMOKE") == "1"
    agentgym.register("reverse", ReverseEnv, max_turns=4)  # or an entry point string: "my_plugin.env:ReverseEnv"

    for result in check_env(lambda: agentgym.make("reverse")):  # raises ContractViolation on a broken contract
        print(f"  check {result.name}: {result.detail}")

    tasks = agentgym.make("reverse").sample_tasks(4 if is_smoke else 32, seed=0)
    config = RolloutConfig(num_samples=2, concurrency=8, progress=False)
    trajectories = asyncio.run(run_episodes(lambda: agentgym.make("reverse"), ScriptedPolicy(reverse_agent), tasks,
                                            config))
    solved = sum(t.verdict is not None and t.verdict.passed for t in trajectories)
    print(f"reverse: {solved}/{len(trajectories)} episodes solved; first verdict: {trajectories[0].verdict.reasons}")
    if solved != len(trajectories):
        raise SystemExit("the scripted agent should solve every episode")


if __name__ == "__main__":
    main()
