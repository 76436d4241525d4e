"""Held-out tasks that are really held out: one seeded split, and a guard that names any overlap.

Two tasks are the same task when they share an id or a content hash (env + prompt + canonical JSON of `data` without
volatile keys such as a folder path), so a re-generated duplicate under a new id is caught. `split_heldout` never puts
the same task on both sides; `check_disjoint` refuses sets that overlap (e.g. a held-out file given by hand).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agentgym.api import Task
from agentgym.errors import AgentGymError

VOLATILE_DATA_KEYS = frozenset({"env_dir"})
"""`task.data` keys left out of the content hash: where a file lives, not what the task is (`env_sha256` stays)."""


class HeldoutOverlapError(AgentGymError, ValueError):
    """A held-out set shares tasks with the training (or demonstration) set; the message names them."""


def content_hash(task: Task, *, volatile: Iterable[str] = VOLATILE_DATA_KEYS) -> str:
    """SHA-256 of the task's env, prompt and `data` minus `volatile` keys (canonical JSON; `meta` and `id` ignored).

    Example: the same arithmetic question saved twice under ids "arith-3" and "arith-903" has one content hash.
    """
    skip = set(volatile)
    body = {"env": task.env, "prompt": task.prompt, "data": {k: v for k, v in task.data.items() if k not in skip}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class HeldoutSplit:
    """A split of one task pool.

    Attributes:
        train: every task not held out (a pool's repeats stay, so sampling weights are unchanged).
        heldout: `num_heldout` distinct tasks (one copy of each).
        seed: the split seed.
        num_distinct: distinct tasks in the pool (tasks sharing an id or a content hash count once).
    """

    train: list[Task]
    heldout: list[Task]
    seed: int
    num_distinct: int

    def describe(self) -> str:
        """How the split was made, one line (logged by the trainer)."""
        return (f"split_heldout(seed={self.seed}): {len(self.heldout)} of {self.num_distinct} distinct tasks held "
                f"out by seeded sha256 rank of content; {len(self.train)} training draws left, disjoint by id and "
                f"content")


def _groups(tasks: Sequence[Task]) -> list[list[int]]:
    """Indices of `tasks` grouped so that tasks sharing an id or a content hash are in one group (union-find)."""
    parent = list(range(len(tasks)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, task in enumerate(tasks):
        for key in (f"id:{task.id}", f"content:{content_hash(task)}"):
            j = first.setdefault(key, i)
            parent[find(i)] = find(j)
    out: dict[int, list[int]] = {}
    for i in range(len(tasks)):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def split_heldout(tasks: Sequence[Task], num_heldout: int, *, seed: int = 0) -> HeldoutSplit:
    """Hold `num_heldout` distinct tasks out of `tasks`, deterministically.

    Each group of same tasks (shared id or content hash) is ranked by ``sha256(f"{seed}|{content hash}")``; the first
    `num_heldout` groups give one task each to the held-out set and the rest go to training. The rank depends on the
    task's content, not its position, so the split is the same for a reordered pool.

    Raises:
        ValueError: `num_heldout` < 0, or it leaves no distinct task to train on.
    """
    if num_heldout < 0:
        raise ValueError(f"num_heldout must be >= 0, got {num_heldout}")
    groups = _groups(tasks)
    if num_heldout and num_heldout >= len(groups):
        raise ValueError(f"num_heldout={num_heldout} leaves nothing to train on: the pool has {len(groups)} distinct "
                         f"task(s) ({len(tasks)} in all)")

    def rank(group: list[int]) -> str:
        return hashlib.sha256(f"{seed}|{min(content_hash(tasks[i]) for i in group)}".encode()).hexdigest()

    ordered = sorted(groups, key=rank)
    held = {i for g in ordered[:num_heldout] for i in g}
    heldout = sorted((min(g) for g in ordered[:num_heldout]))
    return HeldoutSplit(train=[t for i, t in enumerate(tasks) if i not in held],
                        heldout=[tasks[i] for i in heldout], seed=seed, num_distinct=len(groups))


def _overlap(a: Sequence[Task], b: Sequence[Task]) -> tuple[list[str], list[str]]:
    """(ids of `b` also in `a`, "x ~ y" pairs for `b` tasks whose content is in `a` under another id)."""
    ids = {t.id for t in a}
    hashes = {content_hash(t): t.id for t in a}
    by_id, by_content = [], []
    for t in b:
        if t.id in ids:
            by_id.append(t.id)
        elif (other := hashes.get(content_hash(t))) is not None:
            by_content.append(f"{t.id} ~ {other}")
    return list(dict.fromkeys(by_id)), list(dict.fromkeys(by_content))


def check_disjoint(train_tasks: Sequence[Task], heldout_tasks: Sequence[Task], *,
                   demo_tasks: Sequence[Task] | None = None, env: str | None = None) -> None:
    """Raise if a held-out task is also a training task or a demonstration task (by id or by content).

    Raises:
        HeldoutOverlapError: e.g. ``env 'arith': held-out set overlaps the training set: 2 task(s) by id (arith-1,
            arith-4), 1 by content (arith-900 ~ arith-3)``; every overlapping set is named, up to 5 examples each.
    """
    problems = []
    for name, other in (("training", train_tasks), ("demonstration", demo_tasks or [])):
        by_id, by_content = _overlap(other, heldout_tasks)
        if by_id or by_content:
            parts = [f"{len(by_id)} task(s) by id ({', '.join(by_id[:5])})" if by_id else "",
                     f"{len(by_content)} by content ({', '.join(by_content[:5])})" if by_content else ""]
            problems.append(f"held-out set overlaps the {name} set: {', '.join(p for p in parts if p)}")
    if problems:
        prefix = f"env {env!r}: " if env is not None else ""
        raise HeldoutOverlapError(prefix + "; ".join(problems))
