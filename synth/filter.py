"""The pass@k filter: keep a task iff a policy solves it at least once in k attempts, at a fraction of k·N episodes.

Every round plays the next batch of attempts of *every* live task in one `run_episodes` call, then judges each task
(`filter_rules.decide`: stop at the first success, drop early by SPRT, optionally drop tasks that are too easy). The
state is written atomically after each round, so a killed run resumes where it stopped. Each task comes back with its
raw outcomes, its stopping rule and its estimates (`PassKStats`) appended to ``task.meta["passk"]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.synth.filter_rules import FilterConfig, TaskState, decide, useful_attempts
from agentgym.synth.filter_state import (
    FilterState,
    load_state,
    remove_round_files,
    round_path,
    save_state,
    task_set_hash,
)
from agentgym.passk import pass_at_k, wilson_interval
from agentgym.synth.routing_env import RoutingEnv
from agentgym.synth.schemas import PassKStats
from rich.console import Console

from agentgym.api import Env, Task, Trajectory
from agentgym.rollout import Policy, RolloutConfig, read_trajectories, run_episodes


@dataclass(kw_only=True, slots=True)
class FilterResult:
    """What a filter run decided.

    Attributes:
        kept / dropped: the tasks; ``meta["passk"]`` (a list, as in `TaskMeta`) gains this run's `PassKStats`, which
            holds the decision, the episode count, the policy and the filter settings.
        states: every task's record, in input order.
        num_rounds: rounds played (in this process and the runs it resumed).
        k: the attempt budget (naive filtering costs k episodes per task).
    """

    kept: list[Task]
    dropped: list[Task]
    states: list[TaskState]
    num_rounds: int
    k: int

    @property
    def num_episodes(self) -> int:
        return sum(s.num_episodes for s in self.states)

    @property
    def num_naive_episodes(self) -> int:
        return self.k * len(self.states)


def passk_stats(state: TaskState, k: int) -> PassKStats:
    """The recorded estimates for one settled task: the Wilson 95% interval of the per-attempt success rate, and the
    Codex pass@k only for a fixed-n run (under early stopping no unbiased estimate exists, so it is None)."""
    n, c = len(state.outcomes), state.num_successes
    low, high = wilson_interval(n, c)
    estimate = pass_at_k(n, c, k) if state.stopped_by == "fixed_n" and n >= k else None
    return PassKStats(k=k, num_attempts=n, num_successes=c, stopped_by=state.stopped_by or "live",
                      outcomes=[int(o) for o in state.outcomes], pass_at_k_estimate=estimate,
                      wilson_low=low, wilson_high=high)


def is_success(trajectory: Trajectory) -> bool:
    """An attempt succeeds when the env's verdict passed (a truncated or verdict-less episode is a failure)."""
    return trajectory.verdict is not None and trajectory.verdict.passed


async def run_filter(
    tasks: Sequence[Task],
    policy: Policy,
    config: FilterConfig | None = None,
    *,
    make_env: Callable[[], Env] | None = None,
    state_path: str | Path | None = None,
    progress: bool = True,
    policy_name: str = "",
) -> FilterResult:
    """Filter `tasks` with `policy` (see the module docstring). `make_env` defaults to a `RoutingEnv` over the
    registry, so tasks of several envs share each round's batch. With `state_path` the run is resumable."""
    config = config or FilterConfig()
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError("task ids must be unique: the filter records outcomes per task id")
    by_id = {t.id: t for t in tasks}
    path = Path(state_path) if state_path is not None else None
    tasks_hash = task_set_hash(tasks)
    state = load_state(path, config=config, tasks_hash=tasks_hash) if path is not None else None
    if state is None:
        state = FilterState(next_round=0, tasks=[TaskState(task_id=i) for i in ids])
    console = Console(stderr=True, quiet=not progress)
    make_env = make_env or RoutingEnv
    while live := [s for s in state.tasks if s.stopped_by is None]:
        r = state.next_round
        size = min(config.round_size(r), max(useful_attempts(s, config) for s in live))
        console.print(f"[bold]pass@{config.k} filter[/] round {r}: {len(live)} live task(s) × {size} attempt(s)")
        trajectories = await _play_round(make_env, policy, [by_id[s.task_id] for s in live], size, r, config,
                                         path, progress)
        for i, s in enumerate(live):
            _fold(s, trajectories[i * size:(i + 1) * size], config)
            decide(s, config)
        state.next_round = r + 1
        if path is not None:
            save_state(path, state, config=config, tasks_hash=tasks_hash)
            remove_round_files(path)
        num_settled = sum(s.stopped_by is not None for s in state.tasks)
        console.print(f"  settled {num_settled}/{len(state.tasks)}, kept so far "
                      f"{sum(bool(s.is_kept) for s in state.tasks)}")
    return _result(tasks, state, config, policy_name)


async def _play_round(make_env: Callable[[], Env], policy: Policy, tasks: list[Task], size: int, r: int,
                      config: FilterConfig, path: Path | None, progress: bool) -> list[Trajectory]:
    rollout = RolloutConfig(num_samples=size, concurrency=config.concurrency, max_turns=config.max_turns,
                            seed=_round_seed(config.seed, r), progress=progress)
    out = round_path(path, r) if path is not None else None
    if out is not None and out.exists():  # the round finished but the state was not written: reuse it
        done = {t.info.get("episode"): t for t in read_trajectories(out)}
        if len(done) == len(tasks) * size:
            return [done[f"{t.id}#{j}"] for t in tasks for j in range(size)]
    if path is not None:
        remove_round_files(path, keep=r)
    return await run_episodes(make_env, policy, tasks, rollout, out=out, resume=out is not None)


def _fold(state: TaskState, trajectories: Sequence[Trajectory], config: FilterConfig) -> None:
    """Add a round's episodes to a task: env errors are counted apart; outcomes beyond `k` are not recorded."""
    for trajectory in trajectories:
        state.num_episodes += 1
        if trajectory.error == "env_error":
            state.num_env_errors += 1
        elif len(state.outcomes) < config.k:
            state.outcomes.append(is_success(trajectory))


def _round_seed(seed: int, round_index: int) -> int:
    digest = hashlib.sha256(f"passk-filter|{seed}|{round_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _result(tasks: Sequence[Task], state: FilterState, config: FilterConfig, policy_name: str) -> FilterResult:
    kept, dropped = [], []
    for task, s in zip(tasks, state.tasks, strict=True):
        stats = passk_stats(s, config.k).model_copy(update={
            "is_kept": bool(s.is_kept), "num_episodes": s.num_episodes, "num_env_errors": s.num_env_errors,
            "policy": policy_name, "config": config.fingerprint()})
        previous = task.meta.get("passk")
        runs = list(previous) if isinstance(previous, list) else []  # a task filtered before keeps its earlier runs
        meta: dict[str, Any] = {**task.meta, "passk": runs + [stats.model_dump(mode="json")]}
        (kept if s.is_kept else dropped).append(task.model_copy(update={"meta": meta}))
    return FilterResult(kept=kept, dropped=dropped, states=state.tasks, num_rounds=state.next_round, k=config.k)


def filter_command(
    tasks: Path,
    policy: str,
    k: int = 100,
    out: Path | None = None,
    *,
    first_round_size: int = 8,
    growth: float = 2.0,
    p0: float = 0.005,
    p1: float = 0.05,
    alpha: float = 0.05,
    beta: float = 0.05,
    early_drop: bool = True,
    drop_too_easy: bool = False,
    easy_p0: float = 0.6,
    easy_p1: float = 0.97,
    naive: bool = False,
    concurrency: int = 16,
    max_turns: int = 32,
    seed: int = 0,
    progress: bool = True,
) -> FilterResult:
    """`agentgym filter --tasks SOURCE --policy SPEC --k 100 [--out FILE]`: filter a task source and print a summary.

    `tasks` is a JSONL file or a folder with ``tasks.jsonl`` (`agentgym.tasksource.read_task_files`); each env is
    made with what its tasks need (`TaskFile.env_kwargs`, e.g. search's index). Writes the kept tasks to `out`
    (default ``<task file>.passk.jsonl``), the dropped ones beside it
    (``<out>.dropped.jsonl``), and the resumable state to ``<out>.state.jsonl``; rerunning the same command resumes.
    `policy` is any ``--policy`` form of `agentgym.rollout.specs` (``openai:MODEL@URL``, ``scripted:FILE``).
    """
    import asyncio
    import functools

    from agentgym.errors import AgentGymError
    from agentgym.rollout.specs import make_policy
    from agentgym.synth.filter_report import summary_table
    from agentgym.synth.sprt import SPRTConfig
    from agentgym.taskio import save_tasks
    from agentgym.tasksource import find_task_file, read_task_files

    try:
        config = FilterConfig(
            k=k, first_round_size=first_round_size, growth=growth,
            drop_test=SPRTConfig(p0=p0, p1=p1, alpha=alpha, beta=beta) if early_drop else None,
            too_easy_test=SPRTConfig(p0=easy_p0, p1=easy_p1, alpha=alpha, beta=beta) if drop_too_easy else None,
            sequential=not naive, concurrency=concurrency, max_turns=max_turns, seed=seed,
        )
    except ValueError as e:
        raise AgentGymError(f"invalid filter settings: {e}") from None
    sources = read_task_files(tasks)
    task_list = [t for source in sources.values() for t in source.tasks]
    duplicates = sorted({t.id for t in task_list if sum(u.id == t.id for u in task_list) > 1})
    if duplicates:
        raise AgentGymError(f"{tasks}: task ids must be unique, repeated: {', '.join(duplicates[:5])}")
    file = find_task_file(tasks)
    out = Path(out) if out is not None else file.with_name(file.stem + ".passk.jsonl")
    make_env = functools.partial(RoutingEnv, {name: source.env_kwargs for name, source in sources.items()})
    result = asyncio.run(run_filter(task_list, make_policy(policy), config, make_env=make_env,
                                    state_path=out.with_name(out.stem + ".state.jsonl"), progress=progress,
                                    policy_name=policy))
    save_tasks(out, result.kept)
    save_tasks(out.with_name(out.stem + ".dropped.jsonl"), result.dropped)
    Console().print(summary_table(result.states, config.k))
    return result
