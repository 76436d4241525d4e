"""`agentgym quickstart`: a short batch of `arith` episodes with a scripted multi-turn policy, end to end.

This exercises registry → env → tools → agent loop → JSONL on a fresh machine in seconds. The trainer issue replaces it
with the real quickstart (GRPO on the embedded model).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Sequence

from agentgym.api import Action, Message, ToolCall, ToolSpec, Trajectory
from agentgym.registry import make
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes

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


def run_quickstart(*, num_tasks: int = 32, num_samples: int = 2, out_dir: str | Path = "runs/quickstart",
                   progress: bool = True) -> tuple[list[Trajectory], Path, float]:
    """Play `num_tasks` arith tasks `num_samples` times each; returns the trajectories, their file and the wall time."""
    env_probe = make("arith")
    tasks = env_probe.sample_tasks(num_tasks, seed=0)
    out = Path(out_dir) / "trajectories.jsonl"
    start = time.perf_counter()
    trajectories = asyncio.run(
        run_episodes(lambda: make("arith"), ScriptedPolicy(arith_solver), tasks,
                     RolloutConfig(num_samples=num_samples, concurrency=16, max_turns=4, progress=progress), out=out)
    )
    return trajectories, out, time.perf_counter() - start
