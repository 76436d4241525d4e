"""Re-play episodes that failed by the env's fault (`env_error`), so the trainer never learns from an infra failure.

An `env_error` episode (the sandbox did not start, the kernel died, the index is missing) says nothing about the model.
It is played again from scratch, in a fresh env, on the same task with the same seed, up to `max_retries` times. What
still fails afterwards is left labelled `env_error`, and the collector drops its whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from agentgym.api import Env, Trajectory
from agentgym.rollout.loop import run_episode


async def retry_env_errors(groups: Sequence[Any], *, make_env: Callable[[str], Env], policy: Any,
                           reward_fn: Callable[[Trajectory], float], max_turns: int, max_retries: int,
                           concurrency: int = 16, **episode_options: Any) -> int:
    """Replace each `env_error` trajectory of `groups` (objects with `env`, `task`, `trajectories`, `rewards`) by a
    re-played one, at most `max_retries` times per episode; returns how many re-plays ran. `episode_options` go to
    `run_episode` (e.g. the rollout's `context` and `budget`), so a re-play runs exactly like the first try."""
    if max_retries <= 0:
        return 0
    slots = asyncio.Semaphore(max(1, concurrency))

    async def replay(group: Any, index: int) -> int:
        num_retries = 0
        while group.trajectories[index].error == "env_error" and num_retries < max_retries:
            num_retries += 1
            failed = group.trajectories[index]
            async with slots:
                env = make_env(group.env)
                try:
                    trajectory = await run_episode(env, policy, group.task, seed=failed.seed, max_turns=max_turns,
                                                   **episode_options)
                finally:
                    with contextlib.suppress(Exception):
                        await env.close()
            trajectory.info.update({k: v for k, v in failed.info.items() if k == "episode"})
            trajectory.info["env_error_retries"] = num_retries
            group.trajectories[index] = trajectory
            group.rewards[index] = reward_fn(trajectory)
        return num_retries

    jobs = [replay(g, i) for g in groups for i, t in enumerate(g.trajectories) if t.error == "env_error"]
    return sum(await asyncio.gather(*jobs))
