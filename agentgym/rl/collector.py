"""The rollout collector: draw tasks, play each as a group of G episodes, score them, drop flat groups and refill."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from agentgym.api import Env, Task, Trajectory
from agentgym.rl.filtering import has_reward_variance
from agentgym.rl.retry import retry_env_errors
from agentgym.rl.rollout_stats import RolloutStats
from agentgym.rl.sampler import MixedTaskSampler
from agentgym.rl.truncation import handle_truncated
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop


@dataclass(slots=True)
class Group:
    """G episodes of one task, their shaped rewards and the env they came from."""

    env: str
    task: Task
    trajectories: list[Trajectory]
    rewards: list[float]


@dataclass(slots=True)
class Collection:
    """What one step collected: the groups to train on and counts for the metrics."""

    groups: list[Group] = field(default_factory=list)
    num_episodes: int = 0
    num_filtered: int = 0
    num_failed: int = 0
    """Groups dropped because an episode still failed with `env_error` after its retries (= num_env_error_dropped)."""
    num_env_error_retries: int = 0
    num_env_error_dropped: int = 0
    num_rounds: int = 0
    all_rewards: list[float] = field(default_factory=list)
    num_truncated: int = 0
    """Truncated episodes (any budget); with on_truncated="drop" they are left out of their groups."""
    num_dropped_truncated: int = 0
    num_groups_dropped_truncated: int = 0
    stats: RolloutStats = field(default_factory=RolloutStats)
    """Diversity, tool use and length over every played group, filtered or not (`rl.rollout_stats`)."""


RewardFn = Callable[[Trajectory], float]


class RolloutCollector:
    """Collects `groups_per_step` informative groups per step.

    Args:
        sampler: the mixed-task sampler.
        make_env: env name -> a fresh env instance.
        policy: the rollout policy (usually an `EnginePolicy`).
        reward_fn: trajectory -> shaped reward (env reward plus shaping).
        group_size, max_turns, concurrency: rollout settings.
        dynamic_filtering: drop groups without reward variance and refill, for up to `max_refill_rounds` rounds.
        group_seed: "shared" (one env seed per group) or "varied" (one per episode).
        env_error_retries: re-plays of an `env_error` episode before its group is dropped.
        context, budget: the rollout's `ContextConfig` / `BudgetConfig` (None: off).
        on_truncated, min_group_size: reward handling of truncated episodes (`agentgym.rl.truncation`).
    """

    def __init__(self, sampler: MixedTaskSampler, make_env: Callable[[str], Env], policy: Any, reward_fn: RewardFn,
                 *, group_size: int, max_turns: int, concurrency: int = 64, dynamic_filtering: bool = True,
                 max_refill_rounds: int = 4, group_seed: str = "shared", env_error_retries: int = 2,
                 context: Any = None, budget: Any = None, on_truncated: str = "keep", min_group_size: int = 2) -> None:
        if group_seed not in ("shared", "varied"):
            raise ValueError(f"group_seed must be 'shared' or 'varied', got {group_seed!r}")
        self.sampler = sampler
        self.make_env = make_env
        self.policy = policy
        self.reward_fn = reward_fn
        self.group_size = group_size
        self.max_turns = max_turns
        self.concurrency = concurrency
        self.dynamic_filtering = dynamic_filtering
        self.max_refill_rounds = max_refill_rounds
        self.group_seed = group_seed
        self.env_error_retries = env_error_retries
        self.context, self.budget = context, budget
        self.on_truncated, self.min_group_size = on_truncated, min_group_size

    def collect(self, num_groups: int, *, seed: int) -> Collection:
        """Groups for one step (fewer than `num_groups` only when the refill rounds ran out)."""
        out = Collection()
        for round_index in range(1 + (self.max_refill_rounds if self.dynamic_filtering else 0)):
            missing = num_groups - len(out.groups)
            if missing <= 0:
                break
            draws = self.sampler.sample(missing)
            groups = run_episodes_loop(partial(self._play, draws, seed=seed * 7919 + round_index))
            if self.env_error_retries and any(t.error == "env_error" for g in groups for t in g.trajectories):
                out.num_env_error_retries += run_episodes_loop(partial(
                    retry_env_errors, groups, make_env=self.make_env, policy=self.policy, reward_fn=self.reward_fn,
                    max_turns=self.max_turns, max_retries=self.env_error_retries, concurrency=self.concurrency,
                    context=self.context, budget=self.budget))
            out.num_rounds += 1
            for g in groups:
                self.sampler.observe(g.task, g.trajectories)  # live difficulty: every played group, filtered or not
                out.num_episodes += len(g.trajectories)
                out.all_rewards.extend(g.rewards)
                out.stats.add_group([t for t in g.trajectories if t.error != "env_error"])
                if any(t.error == "env_error" for t in g.trajectories):
                    out.num_failed += 1
                    out.num_env_error_dropped += 1
                elif not self._handle_truncated(g, out):
                    out.num_groups_dropped_truncated += 1
                elif self.dynamic_filtering and not has_reward_variance(g.rewards):
                    out.num_filtered += 1
                else:
                    out.groups.append(g)
        out.groups = out.groups[:num_groups]
        return out

    def _handle_truncated(self, group: Group, out: Collection) -> bool:
        """Apply `on_truncated` to the group in place and count; False when the whole group is dropped."""
        outcome = handle_truncated(group.trajectories, group.rewards, on_truncated=self.on_truncated,
                                   min_group_size=self.min_group_size)
        out.num_truncated += outcome.num_truncated
        out.num_dropped_truncated += outcome.num_dropped
        group.trajectories, group.rewards = outcome.trajectories, outcome.rewards
        return not outcome.is_group_dropped

    async def _play(self, draws: list[tuple[str, Task]], *, seed: int) -> list[Group]:
        config = RolloutConfig(num_samples=self.group_size, concurrency=self.concurrency, max_turns=self.max_turns,
                               seed=seed, same_seed_per_task=self.group_seed == "shared", progress=False,
                               context=self.context, budget=self.budget)
        by_env: dict[str, list[int]] = {}
        for i, (name, _) in enumerate(draws):
            by_env.setdefault(name, []).append(i)
        runs = [run_episodes(lambda name=name: self.make_env(name), self.policy, [draws[i][1] for i in idx], config)
                for name, idx in by_env.items()]
        results = await asyncio.gather(*runs)
        groups: list[Group | None] = [None] * len(draws)
        for (name, idx), trajectories in zip(by_env.items(), results):
            for j, i in enumerate(idx):
                group = trajectories[j * self.group_size:(j + 1) * self.group_size]
                groups[i] = Group(env=name, task=draws[i][1], trajectories=group,
                                  rewards=[self.reward_fn(t) for t in group])
        return [g for g in groups if g is not None]
