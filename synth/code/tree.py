"""Content hash of a source tree; must match `agentgym.envs.code_repair.snapshot.tree_sha256` byte for byte.

Shared through the recorded hash, not an import: synth may not import envs (tests/test_layering.py), and a test
checks that both functions agree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".tox", ".nox", ".venv"})


def iter_files(root: str | Path) -> list[str]:
    """Relative paths of a tree's files, sorted; VCS folders, caches, *.egg-info and *.pyc left out."""
    root = str(root)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in filenames:
            if not name.endswith((".pyc", ".pyo")):
                out.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return sorted(out)


def tree_sha256(root: str | Path) -> str:
    """sha256 over every file's path, kind (file, executable, link) and bytes."""
    digest = hashlib.sha256()
    for rel in iter_files(root):
        full = os.path.join(str(root), rel)
        if os.path.islink(full):
            kind, content = "l", os.readlink(full).encode()
        else:
            kind = "x" if os.stat(full).st_mode & 0o111 else "f"
            with open(full, "rb") as f:
                content = f.read()
        digest.update(f"{rel}\0{kind}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def copy_into(src: Path, dest: str, *, uid: int) -> None:
    """Copy a tree's files into an existing sandbox workdir, owned by the sandbox uid when we are root."""
    chown = os.geteuid() == 0
    made: set[str] = set()
    for rel in iter_files(src):
        target = os.path.join(dest, rel)
        parent = os.path.dirname(target)
        while parent not in made and parent != dest:
            os.makedirs(parent, exist_ok=True)
            if chown:
                os.chown(parent, uid, uid)
            made.add(parent)
            parent = os.path.dirname(parent)
        source = os.path.join(src, rel)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
        if chown:
            os.lchown(target, uid, uid)
