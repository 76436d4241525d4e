"""The task sets `CodeRepairEnv.sample_tasks` draws from: real bugs in pinned PyPI projects (default), or `minilib`.

``data/`` was written by the synthesis pipeline (``scripts/build_code_repair_bundle.py``: isodate 0.7.2 and cachetools
8.0.1 from their sdists, 8 tasks each, every reference solution checked against the project's own tests). It holds
``tasks.jsonl.gz`` (``repo`` relative to the folder, no venv: the suites need only pytest and the standard library)
and one ``<name>-<version>.tar.gz`` snapshot per project, so ``CodeRepairEnv()`` works offline with no synthesis step.
The first use unpacks the snapshots into ``$AGENTGYM_CACHE/code_repair/builtin/<bundle hash>/`` (written to a
temporary directory, then renamed into place), and the served tasks point there with ``$AGENTGYM_CACHE/...`` paths,
so any env instance plays them without a `root`. ``CodeRepairEnv(root=<data folder>)`` plays the file as shipped.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import random
import shutil
import tarfile
import tempfile
from pathlib import Path

from agentgym.api import Task
from agentgym.diskcache import CACHE_ENV, cache_root

DATA_DIR = Path(__file__).with_name("data")
TASK_FILE = DATA_DIR / "tasks.jsonl.gz"
TASK_SETS = ("builtin", "fixture")
"""`CodeRepairEnv(tasks=...)`: "builtin", the shipped real-project tasks; "fixture", the bundled toy `minilib`."""


def check_task_set(name: str) -> str:
    """`name` if it is one of `TASK_SETS`; raises `ValueError` naming the choices otherwise."""
    if name not in TASK_SETS:
        raise ValueError(f"tasks must be one of {TASK_SETS}, got {name!r}")
    return name


@functools.cache
def _bundle() -> tuple[tuple[Task, ...], str]:
    """(the shipped tasks as written, a hash of the task file and every snapshot archive)."""
    raw = TASK_FILE.read_bytes()
    digest = hashlib.sha256(raw)
    for archive in sorted(DATA_DIR.glob("*.tar.gz")):
        digest.update(archive.name.encode() + b"\0" + archive.read_bytes())
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    return tuple(Task.model_validate_json(line) for line in lines if line.strip()), digest.hexdigest()[:16]


def unpack(target: Path) -> Path:
    """Unpack every snapshot archive of `DATA_DIR` into `target` (one folder each, named after the archive);
    atomic: all or nothing, and a concurrent first use ends with one identical copy."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        for archive in sorted(DATA_DIR.glob("*.tar.gz")):
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")  # members live under "<name>-<version>/"
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race: its copy is identical
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def builtin_tasks() -> list[Task]:
    """The shipped tasks in file order, each ``repo`` pointing at its snapshot unpacked in the cache."""
    tasks, digest = _bundle()
    unpack(cache_root() / "code_repair" / "builtin" / digest)
    prefix = f"${CACHE_ENV}/code_repair/builtin/{digest}/"
    return [t.model_copy(update={"data": {**t.data, "repo": prefix + t.data["repo"].removesuffix(".tar.gz")}})
            for t in tasks]  # fmt: skip


def sample_task_set(name: str, n: int, *, seed: int = 0) -> list[Task]:
    """`n` tasks of the set `name`, a seeded shuffle; past the set's size it repeats with new ids (``<id>-1``...)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if check_task_set(name) == "fixture":
        from agentgym.envs.code_repair.fixture import fixture_tasks

        return fixture_tasks(n, seed=seed)
    order = builtin_tasks()
    random.Random(f"code_repair-builtin-{seed}").shuffle(order)
    tasks = []
    for i in range(n):
        task = order[i % len(order)]
        tasks.append(task if i < len(order) else task.model_copy(update={"id": f"{task.id}-{i // len(order)}"}))
    return tasks
