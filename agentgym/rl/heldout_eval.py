"""The trainer's periodic held-out evaluation: play each env's held-out set once with the current policy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentgym.api import Env, Task
from agentgym.rl.task_stats import is_success
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop


def evaluate_heldout(policy: Any, make_env: Callable[[str], Env], sets: Mapping[str, Sequence[Task]], *,
                     max_turns: int, concurrency: int = 64, seed: int = 0) -> dict[str, float]:
    """One episode per held-out task; returns ``heldout/<env>/reward`` (mean env reward), ``heldout/<env>/pass``
    (share of passed verdicts) and ``heldout/<env>/n`` for every env of `sets`."""

    async def play() -> list[list[Any]]:
        config = RolloutConfig(num_samples=1, max_turns=max_turns, concurrency=concurrency, seed=seed, progress=False)
        return await asyncio.gather(*(run_episodes(lambda name=name: make_env(name), policy, list(tasks), config)
                                      for name, tasks in sets.items()))

    metrics: dict[str, float] = {}
    for name, trajectories in zip(sets, run_episodes_loop(play)):
        n = max(1, len(trajectories))
        metrics[f"heldout/{name}/reward"] = sum(t.reward for t in trajectories) / n
        metrics[f"heldout/{name}/pass"] = sum(is_success(t) for t in trajectories) / n
        metrics[f"heldout/{name}/n"] = len(trajectories)
    return metrics
