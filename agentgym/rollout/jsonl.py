"""Crash-safe trajectory files: lines go to `FILE.partial` as episodes finish; the finished file appears atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from agentgym.api import Trajectory
from agentgym.errors import TaskFileError


class TrajectoryWriter:
    """Appends one JSON line per finished episode to `<out>.partial`; `finish()` renames it to `out`.

    A crash leaves every finished episode in the `.partial` file, and `run_episodes(..., resume=True)` picks up from it.
    """

    def __init__(self, out: str | Path, *, resume: bool = False) -> None:
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if not resume and self.partial.exists():
            self.partial.unlink()
        if resume:
            _drop_torn_tail(self.partial)
        self._file = open(self.partial, "a", encoding="utf-8")

    def finished_keys(self) -> set[str]:
        """Episode keys already in the partial file (for resume)."""
        return {t.info.get("episode", "") for t in read_trajectories(self.partial, skip_bad_tail=True)}

    def write(self, trajectory: Trajectory) -> None:
        self._file.write(trajectory.model_dump_json() + "\n")
        self._file.flush()

    def finish(self) -> Path:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.out)
        return self.out

    def abort(self) -> None:
        """Close without renaming: the partial file stays for a later resume."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line without its newline (a crash mid-write) so that appended records start on a line of their own."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_trajectories(path: str | Path, *, skip_bad_tail: bool = False) -> Iterator[Trajectory]:
    """Read a trajectory JSONL file. With `skip_bad_tail`, a torn last line (a crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Trajectory.model_validate_json(line)
        except ValueError as e:
            if skip_bad_tail and i == len(lines):
                return
            raise TaskFileError(f"{path}:{i}: not a valid trajectory record: {str(e).splitlines()[0]}") from None
