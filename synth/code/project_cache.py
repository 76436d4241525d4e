"""The user cache (``$AGENTGYM_CACHE``, default ``~/.cache/agentgym``) and paths stored relative to it."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from agentgym.diskcache import CACHE_ENV, cache_root



def code_cache() -> Path:
    """Where this pipeline keeps sdists, unpacked projects and prepared virtualenvs."""
    return cache_root() / "code"


def portable(path: Path) -> str:
    """`path` written as ``$AGENTGYM_CACHE/...`` when it lies in the cache, so task files move between machines."""
    root = cache_root().resolve()
    resolved = Path(path).resolve()
    if resolved.is_relative_to(root):
        return "$" + CACHE_ENV + "/" + resolved.relative_to(root).as_posix()
    return str(resolved)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`.lock, so that concurrent runs build each cache entry once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
