"""The Ray rollout backend: env workers and rollout workers as Ray actors.

Two ways to spread a step's episodes, chosen by where the policy can live:

- **env workers** (`mode="envs"`, the policy stays in the trainer, e.g. the embedded engine): every env instance
  lives on an `EnvHost` actor (round-robin), and the agent loop talks to it through a `RemoteEnv` proxy, so
  CPU-heavy envs (sandboxes, kernels, indexes) run outside the trainer process while generation stays batched.
- **rollout workers** (`mode="episodes"`, a policy that can travel, e.g. a vLLM server or a scripted policy): each
  task's group runs as a whole on an `EpisodeRunner` actor that holds its own copy of the policy and makes its envs
  locally.

Either way the episodes get the same env seeds, episode keys and order as `RolloutCollector`'s in-process run, so a
deterministic policy gives identical groups (tests/rl/test_scaleout_ray.py checks it).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from agentgym.api import (
    Action,
    Env,
    Observation,
    StepResult,
    Task,
    ToolSpec,
    Trajectory,
)
from agentgym.errors import DependencyNotInstalled
from agentgym.rl.backends import RolloutBackend, engine_backend
from agentgym.rl.collector import Group, RolloutCollector
from agentgym.rl.config import ConfigError, TrainConfig
from agentgym.rollout import RolloutConfig, run_episodes


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DependencyNotInstalled("the Ray rollout backend needs the Python package 'ray', which is not "
                                     "installed. Install it with: pip install 'agentgym-rl[ray]'") from None
    return ray


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """`ray`, initialized: connect to `address`, or start a local single-node cluster (Ray 2.60 has no local_mode)."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return ray


class EnvHost:
    """Actor body: hosts many env instances by id; async, so one actor steps many envs concurrently."""

    def __init__(self, make_env: Callable[[str], Env]) -> None:
        self.make_env = make_env
        self.envs: dict[int, Env] = {}
        self.next_id = 0

    def open(self, env_name: str) -> int:
        self.next_id += 1
        self.envs[self.next_id] = self.make_env(env_name)
        return self.next_id

    async def name_of(self, env_name: str) -> str:
        """The `name` attribute of the env `make_env(env_name)` builds (trajectories are stamped with it)."""
        env = self.make_env(env_name)
        try:
            return getattr(env, "name", env_name)
        finally:
            await env.close()

    async def reset(self, env_id: int, task: Task, seed: int | None) -> tuple[Observation, list[ToolSpec]]:
        env = self.envs[env_id]
        observation = await env.reset(task, seed=seed)
        return observation, env.tools()

    async def step(self, env_id: int, action: Action) -> StepResult:
        return await self.envs[env_id].step(action)

    async def close(self, env_id: int) -> None:
        env = self.envs.pop(env_id, None)
        if env is not None:
            await env.close()


class RemoteEnv:
    """An `Env` whose instance lives on an `EnvHost` actor; opened on the first `reset`."""

    def __init__(self, host: Any, env_name: str, name: str | None = None) -> None:
        self.host = host
        self.env_name = env_name
        self.name = name or env_name
        self.env_id: int | None = None
        self._tools: list[ToolSpec] = []

    def tools(self) -> list[ToolSpec]:
        return self._tools

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        if self.env_id is None:
            self.env_id = await self.host.open.remote(self.env_name)
        observation, self._tools = await self.host.reset.remote(self.env_id, task, seed)
        return observation

    async def step(self, action: Action) -> StepResult:
        return await self.host.step.remote(self.env_id, action)

    async def close(self) -> None:
        if self.env_id is not None:
            await self.host.close.remote(self.env_id)
            self.env_id = None


class EpisodeRunner:
    """Actor body: plays whole groups with its own copy of the policy and its own envs."""

    def __init__(self, make_env: Callable[[str], Env], policy: Any) -> None:
        self.make_env = make_env
        self.policy = policy

    async def run(self, env_name: str, tasks: list[Task], config: RolloutConfig, *, policy_version: int,
                  seed: int | None) -> list[Trajectory]:
        if hasattr(self.policy, "policy_version"):
            self.policy.policy_version = policy_version
        if seed is not None and hasattr(self.policy, "reseed"):
            self.policy.reseed(seed)
        return await run_episodes(lambda: self.make_env(env_name), self.policy, tasks, config)


class RayCollector(RolloutCollector):
    """`RolloutCollector` whose episodes run on Ray actors (`mode` "envs" or "episodes", see the module docstring)."""

    def __init__(self, sampler: Any, make_env: Callable[[str], Env], policy: Any, reward_fn: Any, *,
                 mode: str = "envs", num_workers: int = 2, **kwargs: Any) -> None:
        if mode not in ("envs", "episodes"):
            raise ValueError(f"RayCollector mode must be 'envs' or 'episodes', got {mode!r}")
        ray = ensure_ray()
        super().__init__(sampler, make_env, policy, reward_fn, **kwargs)
        self.mode = mode
        self.num_calls = 0
        if mode == "envs":
            host = ray.remote(num_cpus=0)(EnvHost)
            self.actors = [host.remote(make_env) for _ in range(num_workers)]
            self.make_env = self._remote_env
        else:
            runner = ray.remote(num_cpus=0)(EpisodeRunner)
            self.actors = [runner.remote(make_env, policy) for _ in range(num_workers)]
        self._next = 0
        self._env_names: dict[str, str] = {}

    def _remote_env(self, name: str) -> RemoteEnv:
        host = self.actors[self._next % len(self.actors)]
        self._next += 1
        if name not in self._env_names:  # one blocking round trip per env name
            self._env_names[name] = import_ray().get(host.name_of.remote(name))
        return RemoteEnv(host, name, self._env_names[name])

    async def _play(self, draws: list[tuple[str, Task]], *, seed: int) -> list[Group]:
        if self.mode == "envs":
            return await super()._play(draws, seed=seed)
        shared = getattr(self, "group_seed", "shared") == "shared"
        version = getattr(self.policy, "policy_version", 0) or 0
        base_seed = getattr(self.policy, "_seed", None)
        by_env: dict[str, list[int]] = {}
        for i, (name, _) in enumerate(draws):
            by_env.setdefault(name, []).append(i)
        calls, owners = [], []
        # the in-process settings, plus any other RolloutConfig field the collector carries (context, budget, ...)
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(RolloutConfig) if hasattr(self, f.name)}
        settings.update(num_samples=self.group_size, same_seed_per_task=shared, progress=False)
        for name, idx in by_env.items():
            for j, i in enumerate(idx):  # task j of this env gets the seeds run_episodes would give it in-process
                config = RolloutConfig(**{**settings, "seed": seed + 1_000_003 * j})
                actor = self.actors[self._next % len(self.actors)]
                self._next += 1
                self.num_calls += 1
                call_seed = None if base_seed is None else base_seed * 1_000_003 + self.num_calls
                calls.append(actor.run.remote(name, [draws[i][1]], config, policy_version=version, seed=call_seed))
                owners.append((name, i))
        results = await asyncio.gather(*calls)
        groups: list[Group | None] = [None] * len(draws)
        for (name, i), trajectories in zip(owners, results):
            groups[i] = Group(env=name, task=draws[i][1], trajectories=trajectories,
                              rewards=[self.reward_fn(t) for t in trajectories])
        return [g for g in groups if g is not None]

    def close(self) -> None:
        ray = import_ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []


class RayBackend:
    """A `RolloutBackend` that spreads episodes over Ray actors; weights are synced through `inner`."""

    def __init__(self, inner: RolloutBackend, *, mode: str = "envs", num_workers: int = 2) -> None:
        self.inner = inner
        self.policy = inner.policy
        self.mode = mode
        self.num_workers = num_workers
        self.collectors: list[RayCollector] = []

    def make_collector(self, sampler: Any, make_env: Callable[[str], Env], policy: Any, reward_fn: Any,
                       **kwargs: Any) -> RayCollector:
        collector = RayCollector(sampler, make_env, policy, reward_fn, mode=self.mode, num_workers=self.num_workers,
                                 **kwargs)
        self.collectors.append(collector)
        return collector

    def sync_weights(self, weights: Any, version: int) -> None:
        self.inner.sync_weights(weights, version)

    def close(self) -> None:
        for c in self.collectors:
            c.close()
        self.collectors = []
        self.inner.close()


def ray_backend(config: TrainConfig, model: Any, tokenizer: Any) -> RayBackend:
    """The backend of a config's `rollout.ray` section: env workers around the engine, or rollout workers around
    the vLLM server policy."""
    r = config.rollout.ray
    ensure_ray(r.address, r.num_cpus)
    if r.policy == "vllm":
        if config.rollout.vllm.mode != "server":
            raise ConfigError("rollout.ray.policy: vllm needs rollout.vllm.mode: server (rollout workers send "
                             "requests to the server)")
        from agentgym.rl.vllm_backend import vllm_backend

        return RayBackend(vllm_backend(config, tokenizer), mode="episodes", num_workers=r.num_rollout_workers)
    return RayBackend(engine_backend(config, model, tokenizer), mode="envs", num_workers=r.num_env_workers)
