"""One episode's working copy: a fresh sandbox holding the snapshot with the task's bug applied.

All file reads and writes go through the sandbox's own `read_file`/`write_file`, which refuse paths (and planted
symlinks) that leave the working directory; commands run only inside the sandbox.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

from agentgym.envs.code_repair.patch import apply_patch, patched_paths
from agentgym.envs.code_repair.snapshot import copy_tree, iter_files, read_text
from agentgym.envs.code_repair.taskdata import RepoTaskData
from agentgym.sandbox import LocalSandbox, Sandbox, SandboxPathError

PROTECTED_NAMES = ("conftest.py", "sitecustomize.py", "usercustomize.py")
"""Files that change how tests run wherever they appear; reset to the snapshot's (or removed) before grading."""
PROTECTED_ROOT_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")


def populate(box: Sandbox, snapshot: Path) -> int:
    """Copy the snapshot into the sandbox's working directory (host copy for LocalSandbox, file writes otherwise)."""
    if isinstance(box, LocalSandbox):
        return copy_tree(snapshot, box.workdir, uid=box.uid, gid=box.uid)
    count = 0
    for rel in iter_files(snapshot):
        full = snapshot / rel
        if full.is_symlink():
            box.run(["ln", "-s", str(full.readlink()), rel], timeout_s=10)
        else:
            box.write_file(rel, full.read_bytes(), mode=0o755 if full.stat().st_mode & 0o111 else 0o644)
        count += 1
    return count


def read_box_text(box: Sandbox, rel: str) -> str | None:
    try:
        return box.read_file(rel).decode("utf-8", errors="surrogateescape")
    except (OSError, SandboxPathError):
        return None


async def write_files(box: Sandbox, files: dict[str, str | None]) -> None:
    """Write (or, for None, delete) files in the sandbox; an existing symlink at a path is removed first."""
    for rel, content in files.items():
        await box.arun(["rm", "-f", "--", rel], timeout_s=10)
        if content is not None:
            box.write_file(rel, content.encode("utf-8", errors="surrogateescape"))


async def apply_patch_in_box(box: Sandbox, patch: str, base: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Apply `patch` to the working copy (file contents from `base` when given, else read from the sandbox)."""
    if not patch.strip():
        return {}
    files = {p: (base[p] if base is not None and p in base else read_box_text(box, p)) for p in patched_paths(patch)}
    changed = apply_patch(files, patch)
    await write_files(box, changed)
    return changed


def starting_files(snapshot: Path, data: RepoTaskData) -> dict[str, str | None]:
    """The bug-patched contents of every file the bug patch touches (the episode's starting state)."""
    if not data.bug_patch.strip():
        return {}
    base = {p: read_text(snapshot, p) for p in patched_paths(data.bug_patch)}
    return apply_patch(base, data.bug_patch)


async def restore_protected(box: Sandbox, snapshot: Path, data: RepoTaskData, start: dict[str, str | None],
                            test_files: list[str]) -> list[str]:  # fmt: skip
    """Put test files and test-runner configuration back to their starting state; returns the paths touched.

    The agent is asked to fix the code, not the tests: what it changed in the graded test files, in any conftest.py,
    or in the root pytest configuration does not count.
    """
    names = " -o ".join(f"-name {shlex.quote(n)}" for n in PROTECTED_NAMES)
    found = await box.arun(f"find . -path ./.git -prune -o \\( {names} \\) -print", timeout_s=60)
    present = {line[2:] if line.startswith("./") else line for line in found.stdout.splitlines() if line.strip()}
    in_snapshot = {rel for rel in iter_files(snapshot) if rel.rsplit("/", 1)[-1] in PROTECTED_NAMES}
    paths = sorted(set(test_files) | in_snapshot | present | set(PROTECTED_ROOT_FILES))
    restore: dict[str, str | None] = {}
    for rel in paths:
        original = start[rel] if rel in start else await asyncio.to_thread(_snapshot_text, snapshot, rel)
        current = read_box_text(box, rel)
        if original != current:
            restore[rel] = original
    await write_files(box, restore)
    return sorted(restore)


def _snapshot_text(snapshot: Path, rel: str) -> str | None:
    try:
        return read_text(snapshot, rel)
    except ValueError:
        return None
