"""`run_eval`: play every task n times per env through `run_episodes`, store the trajectories, then write the report.

A run directory holds `run.json` (what was run and how long each env took), `trajectories/<env>.jsonl`, and what
`build_report` derives from them: `results.json`, `report.md` and the PNG plots.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from agentgym.api import Task
from agentgym.errors import TaskFileError
from agentgym.eval.metrics import EnvMetrics
from agentgym.eval.policies import resolve_policy
from agentgym.eval.report import RUN_FILE, TRAJECTORY_DIR, build_report
from agentgym.registry import make
from agentgym.rollout import Policy, RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop

PolicyFactory = Callable[[str, Any, Sequence[Task]], Policy]
"""Builds the policy for one env: (env name, a probe env instance, that env's tasks) → policy."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EvalConfig:
    """What an evaluation runs.

    Attributes:
        envs: registered env names, evaluated one after the other (each as one concurrent batch).
        num_samples: episodes per task (the n of pass@k; k goes from 1 to n).
        num_tasks: tasks drawn from an env's `sample_tasks` hook when no tasks are given.
        concurrency: episodes in flight at once.
        max_turns: assistant turns per episode before the agent loop truncates it.
        seed: base seed for env seeds, sampled tasks, the reference policy and the bootstrap.
        progress: show a progress bar per env.
    """

    envs: tuple[str, ...]
    num_samples: int = 8
    num_tasks: int = 16
    concurrency: int = 16
    max_turns: int = 32
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.envs, str) or not self.envs or not all(isinstance(e, str) and e for e in self.envs):
            raise ValueError(f"envs must be a non-empty tuple of env names, got {self.envs!r}")
        if len(set(self.envs)) != len(self.envs):
            raise ValueError(f"envs must not repeat a name, got {self.envs!r}")
        for name in ("num_samples", "num_tasks", "concurrency", "max_turns"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def tasks_for_env(env: str, probe: Any, tasks: Sequence[Task] | None, config: EvalConfig) -> list[Task]:
    """The tasks `env` runs: all given tasks for a single env, those with `task.env == env` for several, else the
    env's `sample_tasks(num_tasks, seed=seed)`."""
    if tasks is not None:
        chosen = list(tasks) if len(config.envs) == 1 else [t for t in tasks if t.env == env]
        if not chosen:
            found = sorted({t.env for t in tasks})
            raise TaskFileError(f"the task file has no tasks for env {env!r} (its tasks are for: {', '.join(found)})")
        return chosen
    if not callable(getattr(probe, "sample_tasks", None)):
        raise TaskFileError(f"env {env!r} has no task generator (sample_tasks); pass a task file with --tasks")
    return list(probe.sample_tasks(config.num_tasks, seed=config.seed))


def run_eval(
    config: EvalConfig,
    policy: str | Policy | PolicyFactory,
    out_dir: str | Path,
    *,
    tasks: Sequence[Task] | None = None,
    tasks_file: str | None = None,
) -> list[EnvMetrics]:
    """Evaluate `policy` on every env of `config` and write the run directory; returns the per-env metrics.

    `policy` is a spec string (``openai:MODEL@URL``, ``scripted:FILE``, ``reference[:P]``), a policy object shared by
    all envs, or a factory called once per env. Every env is built once up front, so a bad name or policy fails
    before any episode runs.
    """
    out_dir = Path(out_dir)
    probes: dict[str, Any] = {}
    wall_time_s: dict[str, float] = {}
    try:
        for env in config.envs:
            probes[env] = make(env)
        plan = {env: tasks_for_env(env, probe, tasks, config) for env, probe in probes.items()}
        policies = {env: _policy_for(policy, env, probes[env], plan[env], config.seed) for env in config.envs}
        rollout = RolloutConfig(num_samples=config.num_samples, concurrency=config.concurrency,
                                max_turns=config.max_turns, seed=config.seed, progress=config.progress)
        for env in config.envs:
            path = out_dir / TRAJECTORY_DIR / f"{env}.jsonl"
            wall_time_s[env] = _run_env(env, policies[env], plan[env], rollout, path)
    finally:
        for probe in probes.values():
            asyncio.run(probe.close())
    meta = {
        "policy": policy if isinstance(policy, str) else _describe(policy),
        "config": {**asdict(config), "envs": list(config.envs)},
        "tasks_file": tasks_file,
        "num_tasks": {env: len(ts) for env, ts in plan.items()},
        "wall_time_s": wall_time_s,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / RUN_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return build_report(out_dir)


def _run_env(env: str, policy: Policy, tasks: Sequence[Task], rollout: RolloutConfig, path: Path) -> float:
    """Play one env's batch into `path` (crash-safe while running); returns seconds."""
    start = time.perf_counter()
    run_episodes_loop(lambda: run_episodes(lambda: make(env), policy, tasks, rollout, out=path))  # decode on main
    return time.perf_counter() - start


def _policy_for(policy: str | Policy | PolicyFactory, env: str, probe: Any, tasks: Sequence[Task], seed: int) -> Policy:
    if isinstance(policy, str):
        return resolve_policy(policy, env=probe, tasks=tasks, seed=seed)
    if callable(getattr(policy, "act", None)):
        return policy  # type: ignore[return-value]
    return policy(env, probe, tasks)


def _describe(policy: Any) -> str:
    """A readable name for a policy object or factory, for `run.json`."""
    target = getattr(policy, "script", policy)  # a ScriptedPolicy is named by its script function
    if callable(target) and hasattr(target, "__qualname__"):
        return f"{target.__module__}.{target.__qualname__}"
    return f"{type(policy).__module__}.{type(policy).__qualname__}"
