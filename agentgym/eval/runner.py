"""The held-out evaluation runner: `play_envs` plays every env's tasks through `run_episodes`.

`run_eval` plays every task n times per env, stores the trajectories, then writes the report; `evaluate` plays
every task once and scores each trajectory (the trainer's and the recipes' before/after evaluation).
A run directory holds `run.json` (what was run and how long each env took), `trajectories/<env>.jsonl`, and what
`build_report` derives from them: `results.json`, `report.md` and the PNG plots.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from agentgym.api import Env, Task, Trajectory
from agentgym.errors import TaskFileError
from agentgym.eval.metrics import EnvMetrics
from agentgym.eval.policies import resolve_policy
from agentgym.eval.report import RUN_FILE, TRAJECTORY_DIR, build_report
from agentgym.registry import make
from agentgym.rollout import Policy, RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop
from agentgym.rollout.loop import DEFAULT_MAX_TURNS

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
        max_turns: assistant turns per episode before the agent loop truncates it; None: each env's own turn budget
            (`default_max_turns(env)`: its `max_turns` attribute, e.g. arith's 4, else 32).
        seed: base seed for env seeds, sampled tasks, the reference policy and the bootstrap.
        progress: show a progress bar per env.
    """

    envs: tuple[str, ...]
    num_samples: int = 8
    num_tasks: int = 16
    concurrency: int = 16
    max_turns: int | None = None
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.envs, str) or not self.envs or not all(isinstance(e, str) and e for e in self.envs):
            raise ValueError(f"envs must be a non-empty tuple of env names, got {self.envs!r}")
        if len(set(self.envs)) != len(self.envs):
            raise ValueError(f"envs must not repeat a name, got {self.envs!r}")
        for name in ("num_samples", "num_tasks", "concurrency", "max_turns"):
            value = getattr(self, name)
            if name == "max_turns" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def default_max_turns(env: Any) -> int:
    """The agent-loop turn budget an eval gives `env` when none is asked for: the env's own `max_turns` (the budget
    at which it truncates an episode itself, so more loop turns could never be played), else `DEFAULT_MAX_TURNS`."""
    value = getattr(env, "max_turns", None)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return DEFAULT_MAX_TURNS


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
    resume: bool = False,
) -> list[EnvMetrics]:
    """Evaluate `policy` on every env of `config` and write the run directory; returns the per-env metrics.

    `policy` is a spec string (``engine:MODEL``, ``openai:MODEL@URL``, ``scripted:FILE``, ``reference[:P]``), a
    policy object shared by all envs, or a factory called once per env. Every env is built once up front, so a bad
    name or policy fails before any episode runs. With `resume`, episodes already stored in `out_dir` (an interrupted
    run's ``trajectories/E.jsonl.partial``, or a finished env's ``E.jsonl``) are kept and not played again; run it
    with the same settings.
    """
    out_dir = Path(out_dir)
    probes: dict[str, Any] = {}
    try:
        for env in config.envs:
            probes[env] = make(env)
        plan = {env: tasks_for_env(env, probe, tasks, config) for env, probe in probes.items()}
        policies = {env: _policy_for(policy, env, probes[env], plan[env], config.seed) for env in config.envs}
        turns = {env: config.max_turns or default_max_turns(probe) for env, probe in probes.items()}
        rollouts = {env: RolloutConfig(num_samples=config.num_samples, concurrency=config.concurrency,
                                       max_turns=turns[env], seed=config.seed, progress=config.progress)
                    for env in config.envs}
        _, wall_time_s = play_envs(make, policies, plan, rollouts, out_dir=out_dir / TRAJECTORY_DIR, resume=resume)
    finally:
        for probe in probes.values():
            asyncio.run(probe.close())
    meta = {
        "policy": policy if isinstance(policy, str) else _describe(policy),
        "config": {**asdict(config), "envs": list(config.envs)},
        "max_turns": turns,
        "tasks_file": tasks_file,
        "num_tasks": {env: len(ts) for env, ts in plan.items()},
        "wall_time_s": wall_time_s,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / RUN_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return build_report(out_dir)


def play_envs(
    make_env: Callable[[str], Env],
    policies: Mapping[str, Policy],
    tasks: Mapping[str, Sequence[Task]],
    rollout: RolloutConfig | Mapping[str, RolloutConfig],
    *,
    out_dir: Path | None = None,
    concurrent: bool = False,
    resume: bool = False,
) -> tuple[dict[str, list[Trajectory]], dict[str, float]]:
    """Play each env's tasks with that env's policy; returns (trajectories by env, seconds by env).

    `rollout` is one config for every env or one per env name. Envs run one after the other (one live progress bar
    at a time), or all at once with `concurrent=True`. With `out_dir`, env E's episodes go to ``out_dir/E.jsonl``
    (crash-safe while running: ``E.jsonl.partial`` until E is done); with `resume`, the episodes already there are
    read back instead of played. The episodes' event loop runs on a helper thread so that a policy's decode stays on
    the main thread.
    """
    wall_time_s: dict[str, float] = {}

    async def play_one(name: str) -> list[Trajectory]:
        start = time.perf_counter()
        out = None if out_dir is None else out_dir / f"{name}.jsonl"
        if resume and out is not None:
            reopen_finished(out)
        config = rollout if isinstance(rollout, RolloutConfig) else rollout[name]
        played = await run_episodes(lambda: make_env(name), policies[name], list(tasks[name]), config, out=out,
                                    resume=resume)
        wall_time_s[name] = time.perf_counter() - start
        return played

    async def play() -> list[list[Trajectory]]:
        if concurrent:
            return list(await asyncio.gather(*(play_one(name) for name in tasks)))
        return [await play_one(name) for name in tasks]

    return dict(zip(tasks, run_episodes_loop(play))), wall_time_s


def reopen_finished(out: Path) -> None:
    """A finished env's ``E.jsonl`` becomes ``E.jsonl.partial`` again (when there is no partial file), so a resumed
    run reads its episodes back and plays only what is missing."""
    partial = out.with_name(out.name + ".partial")
    if out.is_file() and not partial.exists():
        os.replace(out, partial)


def evaluate(policy: Policy, make_env: Callable[[str], Env], tasks: Mapping[str, Sequence[Task]], *,
             score: Callable[[Trajectory], float], max_turns: int = 1, concurrency: int = 64,
             progress: bool = False) -> tuple[dict[str, list[float]], list[Trajectory]]:
    """Play every held-out task once per env and score each trajectory; returns (scores by env, trajectories).

    Envs run concurrently, or one after the other when `progress` shows a bar per env.
    """
    rollout = RolloutConfig(num_samples=1, max_turns=max_turns, concurrency=concurrency, progress=progress)
    played, _ = play_envs(make_env, {name: policy for name in tasks}, tasks, rollout, concurrent=not progress)
    scores = {name: [score(t) for t in ts] for name, ts in played.items()}
    return scores, [t for ts in played.values() for t in ts]


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
