"""Where the default index lives and how it is built on first use: once, atomically, even with concurrent users."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

from agentgym.envs.search.builder import PYTHON_DOCS, IndexConfig, build_index
from agentgym.envs.search.index import IndexFormatError, read_manifest
from agentgym.diskcache import cache_root



def default_index_path() -> Path:
    """The python-docs index of this interpreter, e.g. ``~/.cache/agentgym/search/python-docs-3.11.7``.

    Keyed by the full Python version, since each release's docstrings differ slightly.
    """
    version = ".".join(str(x) for x in sys.version_info[:3])
    return cache_root() / "search" / f"{PYTHON_DOCS}-{version}"


def ensure_index(path: Path | None = None, *, source: str | Path = PYTHON_DOCS, config: IndexConfig | None = None
                 ) -> Path:
    """The path of a usable index at `path` (default `default_index_path()`), built from `source` if needed.

    Concurrent callers (threads or processes) wait on a lock file while one of them builds; the build itself writes
    to a temporary folder and renames it into place. An index left by an older version is rebuilt.

    Raises:
        ValueError: `path` is a non-empty folder that is not an index (it is never replaced).
    """
    path = Path(path) if path is not None else default_index_path()
    if _is_usable(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _is_usable(path):  # another process may have built it while we waited
                if path.is_dir() and any(path.iterdir()) and not (path / "manifest.json").exists():
                    raise ValueError(f"{path} exists and is not a search index; refusing to replace it (point "
                                     f"index_dir at an index folder or at a path that does not exist yet)")
                build_index(source, path, config=config or IndexConfig(show_progress=sys.stderr.isatty()),
                            overwrite=path.exists())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def _is_usable(path: Path) -> bool:
    try:
        read_manifest(path)
    except IndexFormatError:
        return False
    return True
