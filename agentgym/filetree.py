"""Content hashing of a source tree: the identity of a repository snapshot.

Shared by the code_repair env (it checks a task's recorded `repo_sha256` at reset) and the code-task synthesis (it
records it), so the two always agree byte for byte.
"""

from __future__ import annotations

import hashlib
import os
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
