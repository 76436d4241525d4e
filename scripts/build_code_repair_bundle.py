"""Regenerate the `code_repair` env's shipped task set, `envs/code_repair/data/`.

Runs the real code-task pipeline (`agentgym.synth.code`: pinned PyPI sdist, bug injection, every task validated
against the project's own test suite) on `PROJECTS`, then writes what `CodeRepairEnv()` serves when it is given no
tasks:

- ``<name>-<version>.tar.gz``: the project's source snapshot, a reproducible archive (sorted members, mtime 0, owner
  0, gzip mtime 0) of exactly the files the pipeline hashed, so its ``repo_sha256`` still holds;
- ``tasks.jsonl.gz``: the tasks, with ``repo`` relative to this folder and no ``venv`` (the projects' suites need
  nothing beyond pytest and the standard library, so the env's own Python runs them).

Every task is then played through `CodeRepairEnv(root=<data folder>)` with the env's own Python: the reference
solution must score 1 and an untouched repository 0, else the build fails. The env cannot import `synth`
(tests/test_layering.py), which is why the set ships as package data.

Needs network on first run (``pip download`` of the sdists, pytest for the synthesis venv); later runs reuse the
cache (``$AGENTGYM_CACHE/code``; about 1.5 min on 2 cores with the cache warm). One worker per project keeps the
kept tasks the same from run to run: two builds give the same task ids, patches and FAIL_TO_PASS lists and
byte-identical archives. Only some PASS_TO_PASS ids differ: isodate's `tests/test_date.py` builds parametrize ids from
set order over values that hash by address (None, on Python 3.11), so a few ids drift between runs; the env's grader
ignores a PASS_TO_PASS id that is merely absent, and no shipped FAIL_TO_PASS id is one of those.

Usage: python scripts/build_code_repair_bundle.py [OUT] [--n N]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from agentgym.api import Action, Task, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.snapshot import materialize
from agentgym.envs.code_repair.taskdata import expand_path
from agentgym.filetree import iter_files, tree_sha256
from agentgym.synth.code.pipeline import SynthConfig, synthesize
from agentgym.synth.code.projects import resolve_project

PROJECTS = ("isodate==0.7.2", "cachetools==8.0.1")
"""Pinned projects (from `synth.code.projects.DEFAULT_PROJECTS`) whose suites run with pytest and the stdlib only."""
NUM_TASKS_PER_PROJECT = 8
SEED = 0
TASK_FILE = "tasks.jsonl.gz"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "envs" / "code_repair" / "data"


def write_archive(snapshot: Path, out: Path, top: str) -> None:
    """A byte-reproducible ``.tar.gz`` of the snapshot's files (those `tree_sha256` hashes) under `top/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for rel in sorted(iter_files(snapshot)):
            path = snapshot / rel
            if path.is_symlink():
                raise ValueError(f"{path}: symlinks are not shipped")
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0, 0, "", ""
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    write_gzip(out, buffer.getvalue())


def write_gzip(out: Path, raw: bytes) -> None:
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    out.write_bytes(packed.getvalue())


def synthesize_project(label: str, work: Path, n: int) -> list[Task]:
    spec = resolve_project(label)
    if spec.test_deps:
        raise SystemExit(f"{label} needs test dependencies {spec.test_deps}; the shipped set runs on pytest alone")
    out = work / f"{spec.name}.jsonl"
    started = time.monotonic()
    funnel = synthesize(SynthConfig(project=spec, out=out, n=n, seed=SEED, num_workers=1))
    print(funnel.summary(), file=sys.stderr)
    print(f"{label}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    tasks = [Task.model_validate_json(line) for line in out.read_text(encoding="utf-8").splitlines() if line]
    if len(tasks) < n:
        raise SystemExit(f"{label}: only {len(tasks)} of {n} tasks kept")
    return tasks


def ship(tasks: list[Task], out: Path) -> list[Task]:
    """Archive each task's snapshot into `out` and return the tasks pointing at it (relative `repo`, no venv)."""
    shipped = []
    for task in tasks:
        snapshot = Path(expand_path(task.data["repo"]))
        name = snapshot.name  # the pipeline's cache folder is "<name>-<version>"
        archive = out / f"{name}.tar.gz"
        if not archive.exists():
            write_archive(snapshot, archive, name)
            if tree_sha256(materialize(str(archive))) != task.data["repo_sha256"]:
                raise SystemExit(f"{archive}: its files do not hash to the tasks' repo_sha256")
        data = {k: v for k, v in task.data.items() if k != "venv"}
        shipped.append(task.model_copy(update={"data": {**data, "repo": archive.name}}))
    return shipped


async def verify(tasks: list[Task], root: Path) -> None:
    """Reference solution scores 1 and an untouched repository 0, with the env's own Python (no venv)."""
    env = CodeRepairEnv(root=root)
    try:
        for task in tasks:
            await env.reset(task, seed=0)
            fixed = (await env.step(env.reference_action(task))).reward
            await env.reset(task, seed=0)
            untouched = (await env.step(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={})]))).reward
            print(f"{task.id}: reference {fixed}, untouched {untouched}", file=sys.stderr)
            if (fixed, untouched) != (1.0, 0.0):
                raise SystemExit(f"{task.id}: reference scored {fixed}, untouched repository {untouched}")
    finally:
        await env.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n", type=int, default=NUM_TASKS_PER_PROJECT, help="tasks per project")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in [*args.out.glob("*.tar.gz"), args.out / TASK_FILE]:
        old.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="code-bundle-") as work:
        tasks = [t for label in PROJECTS for t in ship(synthesize_project(label, Path(work), args.n), args.out)]
    asyncio.run(verify(tasks, args.out))
    lines = "".join(json.dumps(t.model_dump(mode="json"), sort_keys=True) + "\n" for t in tasks)
    write_gzip(args.out / TASK_FILE, lines.encode("utf-8"))
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"{len(tasks)} tasks, {size / 1024:.0f} KiB in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
