"""Compare two eval runs env by env: the paired bootstrap over the tasks both ran, for mean reward and pass@1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentgym.errors import TaskFileError
from agentgym.eval.metrics import per_task_scores
from agentgym.eval.report import load_run
from agentgym.eval.stats import DEFAULT_NUM_RESAMPLES, PairedDifference, paired_bootstrap


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvComparison:
    """Run B against run A on one env.

    Attributes:
        env: the env name.
        reward_a, reward_b: mean reward over the paired tasks in each run.
        pass_a, pass_b: mean pass@1 (per-task pass rate) over the paired tasks.
        reward: the paired bootstrap of B − A for the mean reward; `pass_at_1` the same for pass@1.
        num_unpaired: tasks that only one of the runs has (left out of the comparison).
    """

    env: str
    reward_a: float
    reward_b: float
    pass_a: float
    pass_b: float
    reward: PairedDifference
    pass_at_1: PairedDifference
    num_unpaired: int


def compare_runs(run_a: str | Path, run_b: str | Path, *, num_resamples: int = DEFAULT_NUM_RESAMPLES,
                 seed: int = 0) -> list[EnvComparison]:
    """One comparison per env both runs evaluated, pairing episodes by task id.

    Raises:
        TaskFileError: a run directory is unreadable, or the runs share no env or no task of an env.
    """
    _, runs_a = load_run(run_a)
    _, runs_b = load_run(run_b)
    common = [env for env in runs_a if env in runs_b]
    if not common:
        raise TaskFileError(
            f"runs {str(run_a)!r} ({', '.join(runs_a)}) and {str(run_b)!r} ({', '.join(runs_b)}) share no env"
        )
    out = []
    for env in common:
        scores_a, scores_b = per_task_scores(runs_a[env]), per_task_scores(runs_b[env])
        tasks = [task_id for task_id in scores_a if task_id in scores_b]
        if not tasks:
            raise TaskFileError(f"env {env!r}: runs {str(run_a)!r} and {str(run_b)!r} share no task id")
        reward_a = [scores_a[t][0] for t in tasks]
        reward_b = [scores_b[t][0] for t in tasks]
        pass_a = [scores_a[t][1] for t in tasks]
        pass_b = [scores_b[t][1] for t in tasks]
        out.append(EnvComparison(
            env=env,
            reward_a=sum(reward_a) / len(tasks),
            reward_b=sum(reward_b) / len(tasks),
            pass_a=sum(pass_a) / len(tasks),
            pass_b=sum(pass_b) / len(tasks),
            reward=paired_bootstrap(reward_a, reward_b, num_resamples=num_resamples, seed=seed),
            pass_at_1=paired_bootstrap(pass_a, pass_b, num_resamples=num_resamples, seed=seed),
            num_unpaired=len(set(scores_a) ^ set(scores_b)),
        ))
    return out
