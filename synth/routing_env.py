"""`RoutingEnv`: one env object that plays tasks of several envs, so one rollout batch can mix them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from agentgym.api import Action, Env, Observation, StepResult, Task, ToolSpec
from agentgym.errors import ResetNeeded
from agentgym.registry import make


class RoutingEnv:
    """Makes one env per env name on first use (through `agentgym.registry.make`) and sends each episode to the env
    its task names. `run_episodes` makes one `RoutingEnv` per concurrent slot, like any env.

    Args:
        env_kwargs: constructor settings per env name, e.g. ``{"search": {"max_turns": 8}}``.
        make_env: how an env is built from its name and settings (default: the registry).
    """

    def __init__(self, env_kwargs: Mapping[str, Mapping[str, Any]] | None = None, *,
                 make_env: Callable[..., Env] = make) -> None:
        self.env_kwargs = dict(env_kwargs or {})
        self.make_env = make_env
        self.envs: dict[str, Env] = {}
        self.current: Env | None = None

    @property
    def name(self) -> str:
        return getattr(self.current, "name", "routing")

    def tools(self) -> list[ToolSpec]:
        if self.current is None:
            raise ResetNeeded("RoutingEnv.tools() before reset(): the tools depend on the task's env")
        return self.current.tools()

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        env = self.envs.get(task.env)
        if env is None:
            env = self.envs[task.env] = self.make_env(task.env, **self.env_kwargs.get(task.env, {}))
        self.current = env
        return await env.reset(task, seed=seed)

    async def step(self, action: Action) -> StepResult:
        if self.current is None:
            raise ResetNeeded("RoutingEnv.step() before reset()")
        return await self.current.step(action)

    async def close(self) -> None:
        envs, self.envs, self.current = list(self.envs.values()), {}, None
        for env in envs:
            with contextlib.suppress(Exception):
                await env.close()
