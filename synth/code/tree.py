"""Copy a source tree into a sandbox workdir (the file list and hash live in `agentgym.filetree`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agentgym.filetree import SKIP_DIRS, iter_files, tree_sha256

__all__ = ["SKIP_DIRS", "copy_into", "iter_files", "tree_sha256"]


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
