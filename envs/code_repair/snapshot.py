"""Repository snapshots: content hashing, unpacking archives once into the cache, and copying a snapshot into a sandbox.

A snapshot is only ever read on the host. The copy that the agent and the tests touch lives in the sandbox's working
directory and is thrown away after the episode, so the next episode starts from the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from agentgym.diskcache import cache_root
from agentgym.filetree import SKIP_DIRS, iter_files, tree_sha256

__all__ = ["SKIP_DIRS", "iter_files", "materialize", "tree_sha256"]

def materialize(repo: str) -> Path:
    """The snapshot as a directory: `repo` itself, or an archive unpacked once under the cache (atomically).

    Raises:
        FileNotFoundError: `repo` does not exist.
        ValueError: an archive member would land outside the destination.
    """
    path = Path(repo)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"repository snapshot {repo!r} does not exist")
    with open(path, "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:24]
    dest = cache_root() / "code_repair" / "snapshots" / key
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")  # refuses absolute paths, "..", devices and links out of the tree
        entries = list(tmp.iterdir())
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        try:
            os.replace(top, dest)
        except OSError:  # another process won the race
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def copy_tree(src: Path, dest: str, *, uid: int | None = None, gid: int | None = None) -> int:
    """Copy the snapshot's files into `dest` (an existing, empty sandbox workdir); returns the number of files.

    Symlinks are copied as links, never followed. With `uid`, everything is chowned to the sandbox's uid so that the
    agent can edit the copy.
    """
    count = 0
    made: set[str] = set()
    chown = uid is not None and os.geteuid() == 0
    for rel in iter_files(src):
        target = os.path.join(dest, rel)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        source = os.path.join(src, rel)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
        if chown:
            os.lchown(target, uid, gid if gid is not None else uid)
        count += 1
    if chown:
        for directory in made:
            current = directory
            while current != dest and current.startswith(dest):
                os.chown(current, uid, gid if gid is not None else uid)
                current = os.path.dirname(current)
    return count


def read_text(root: Path, rel: str) -> str | None:
    """A snapshot file as text (None when absent); refuses paths that leave the snapshot."""
    full = (root / rel).resolve()
    if not full.is_relative_to(root.resolve()):
        raise ValueError(f"{rel!r} is outside the snapshot")
    if not full.is_file():
        return None
    return full.read_text(encoding="utf-8", errors="surrogateescape")
