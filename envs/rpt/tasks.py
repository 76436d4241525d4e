"""The RPT task file shipped with the env (made by `python -m agentgym.synth.rpt`) and seeded sampling from it.

The env may not import the synth layer, so it reads pre-generated tasks: each carries its prefix, true continuation
and reference token ends, which is all the verifier needs.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

from agentgym.api import Task

DATASET_NAME = "rpt"
SHIPPED_TASKS = Path(__file__).parent / "data" / "tasks.jsonl"
REQUIRED_DATA = ("continuation", "token_ends", "answer")


def read_tasks(path: str | Path) -> list[Task]:
    """Every task of a JSONL task file, checked to carry what the RPT verifier needs.

    Raises:
        ValueError: the file is missing, a line is not a task, or a task lacks ``data.continuation``,
            ``data.token_ends`` or ``data.answer``; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"rpt task file {str(path)!r} does not exist; build one with python -m agentgym.synth.rpt")
    tasks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            task = Task.model_validate(json.loads(line))
        except ValueError as e:  # json.JSONDecodeError and pydantic's ValidationError are both ValueErrors
            raise ValueError(f"{path}:{number}: not a valid task ({e})") from None
        missing = [k for k in REQUIRED_DATA if k not in task.data]
        if missing:
            raise ValueError(f"{path}:{number}: task {task.id!r} lacks data fields {missing}")
        tasks.append(task)
    if not tasks:
        raise ValueError(f"rpt task file {str(path)!r} holds no tasks")
    return tasks


@functools.lru_cache(maxsize=4)
def _cached(path: str) -> tuple[Task, ...]:
    return tuple(read_tasks(path))


def sample_tasks(n: int, *, seed: int = 0, path: str | Path = SHIPPED_TASKS) -> list[Task]:
    """`n` distinct tasks of the file at `path`, drawn by a RNG seeded with `seed` (same seed, same tasks).

    Raises:
        ValueError: `n` is negative or larger than the number of tasks in the file.
    """
    pool = _cached(str(path))
    if not isinstance(n, int) or not 0 <= n <= len(pool):
        raise ValueError(f"n must be an integer in [0, {len(pool)}] (the tasks in {path}), got {n!r}")
    rng = random.Random(f"{DATASET_NAME}-sample-{seed}")
    return [t.model_copy(deep=True) for t in rng.sample(pool, n)]
