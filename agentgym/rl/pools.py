"""The tasks of a run: each env's training pool from its task source, minus its held-out set, checked disjoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentgym.api import Env, Task
from agentgym.heldout import check_disjoint, split_heldout
from agentgym.rl.config import ConfigError, EnvMix, TrainConfig
from agentgym.rl.sampler import EnvPool
from agentgym.tasksource import describe_source, merge_env_kwargs, read_task_file, source_tasks


@dataclass(frozen=True, kw_only=True, slots=True)
class HeldoutSet:
    """One env's held-out tasks and how they were chosen (logged in OUT/heldout.json)."""

    env: str
    tasks: list[Task]
    how: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RunTasks:
    """Training pools (one per env of the mix), each env's tool names, held-out sets and task sources."""

    pools: list[EnvPool]
    tools: dict[str, frozenset[str]]
    heldout: dict[str, HeldoutSet]
    sources: dict[str, str]


def env_kwargs(spec: EnvMix) -> dict[str, Any]:
    """`agentgym.make` kwargs of one mix entry: its `kwargs` plus what its task files need (e.g. general's `root`)."""
    files = [read_task_file(path, env=spec.name) for path in (spec.tasks, spec.heldout_tasks) if path is not None]
    return merge_env_kwargs(spec.name, spec.kwargs, files)


def build_run_tasks(config: TrainConfig, make_env: Callable[[str], Env]) -> RunTasks:
    """Read or generate each env's pool, split off or load its held-out set and refuse any overlap.

    Raises:
        ConfigError: a task source that cannot serve, a split that leaves nothing to train on, or a held-out set that
            shares a task (by id or content) with the training pool.
    """
    pools, tools, heldout, sources = [], {}, {}, {}
    for spec in config.envs:
        env = make_env(spec.name)
        try:
            try:
                tasks = source_tasks(env, name=spec.name, tasks=spec.tasks, num_tasks=spec.num_tasks,
                                     seed=spec.task_seed)
                held = _heldout(spec, tasks, seed=config.heldout.seed)
            except ValueError as e:  # TaskSourceError, HeldoutOverlapError, a split too large
                raise ConfigError(f"envs[{spec.name}]: {e}") from None
            if held is not None:
                tasks = held[0]
                heldout[spec.name] = HeldoutSet(env=spec.name, tasks=held[1], how=held[2])
            if not tasks:
                raise ConfigError(f"envs[{spec.name}]: no training tasks left after the held-out split")
            pools.append(EnvPool(name=spec.name, weight=spec.weight, tasks=tasks))
            sources[spec.name] = describe_source(spec.tasks, num_tasks=spec.num_tasks, seed=spec.task_seed)
            tools[spec.name] = frozenset(t.name for t in env.tools())
        finally:
            asyncio.run(env.close())
    return RunTasks(pools=pools, tools=tools, heldout=heldout, sources=sources)


def _heldout(spec: EnvMix, tasks: list[Task], *, seed: int) -> tuple[list[Task], list[Task], str] | None:
    """(training tasks, held-out tasks, how) or None when the env has no held-out set."""
    if spec.heldout_tasks is not None:
        held = list(read_task_file(spec.heldout_tasks, env=spec.name).tasks)
        check_disjoint(tasks, held, env=spec.name)
        return tasks, held, f"file {spec.heldout_tasks} ({len(held)} tasks), checked disjoint by id and content"
    if spec.num_heldout:
        split = split_heldout(tasks, spec.num_heldout, seed=seed)
        check_disjoint(split.train, split.heldout, env=spec.name)  # by construction; kept as the one guard
        return split.train, split.heldout, split.describe()
    return None
