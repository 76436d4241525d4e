"""Episode progress: a rich bar on a terminal, plain lines (done/total, rate, ETA, mean reward) anywhere else."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def episode_progress(enabled: bool, *, stream: TextIO | None = None, every: int = 0,
                     every_s: float = 10.0) -> Any:
    """A progress display with rich's `add_task`/`update` interface and a context manager.

    On a terminal (or when `enabled` is False: then nothing shows) it is rich's bar. When `stream` (default stderr)
    is not a terminal, e.g. a log file or CI, it is `LineProgress`: a bar there would print nothing useful.
    """
    stream = stream if stream is not None else sys.stderr
    if enabled and not stream.isatty():
        return LineProgress(stream, every=every, every_s=every_s)
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("mean reward {task.fields[reward]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    disable=not enabled, transient=False)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """Writes ``episodes 12/32 (37%) 0.41 ep/s, elapsed 0:00:29, ETA 0:00:49, mean reward 0.250`` lines.

    A line is written when the task is added, then whenever `every` more episodes finished (0: about every tenth of
    the total), and always at the end; inside an event loop a heartbeat repeats the line every `every_s` seconds
    while nothing finishes. The rate counts only episodes played in this run
    (those read back by a resume are done, not fast).
    """

    def __init__(self, stream: TextIO, *, every: int = 0, every_s: float = 10.0,
                 clock: Any = time.monotonic) -> None:
        self.stream, self.every, self.every_s, self.clock = stream, every, every_s, clock
        self.tasks: dict[int, dict[str, Any]] = {}
        self._beat: asyncio.Task | None = None

    def __enter__(self) -> LineProgress:
        try:  # inside an event loop: a heartbeat line every `every_s` even while no episode finishes
            self._beat = asyncio.get_running_loop().create_task(self._heartbeat())
        except RuntimeError:
            self._beat = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            self.tick()

    def tick(self) -> None:
        """Write a line for every task whose last line is `every_s` old, finished episodes or not (lockstep episodes
        of a slow policy can take minutes before the first one ends)."""
        now = self.clock()
        for task in self.tasks.values():
            if task["last_n"] is not None and now - task["last_t"] >= self.every_s and task["completed"] < task["total"]:
                task["last_t"] = now
                self.stream.write(self.line(task, now) + "\n")
                self.stream.flush()

    def add_task(self, description: str, *, total: int, completed: int = 0, **fields: Any) -> int:
        task_id = len(self.tasks)
        self.tasks[task_id] = {"description": description, "total": total, "completed": completed,
                               "start_completed": completed, "start": self.clock(), "last_n": None, "last_t": 0.0,
                               **fields}
        self.update(task_id)  # the opening line: 0/N (or what a resume read back)
        return task_id

    def update(self, task_id: int, *, advance: int = 0, **fields: Any) -> None:
        task = self.tasks[task_id]
        task["completed"] += advance
        task.update(fields)
        now, done, total = self.clock(), task["completed"], task["total"]
        step = self.every or max(1, total // 10)
        is_due = (task["last_n"] is None or done >= total
                  or (done - task["last_n"] >= step or now - task["last_t"] >= self.every_s)
                  and now - task["last_t"] >= 1.0)  # episodes that end together make one line, not one each
        if is_due and done != task["last_n"]:
            task["last_n"], task["last_t"] = done, now
            self.stream.write(self.line(task, now) + "\n")
            self.stream.flush()

    def line(self, task: dict[str, Any], now: float) -> str:
        done, total = task["completed"], task["total"]
        elapsed = now - task["start"]
        played = done - task["start_completed"]
        rate = played / elapsed if elapsed > 0 else 0.0
        eta = _duration((total - done) / rate) if rate > 0 else "?"
        text = (f"{task['description']} {done}/{total} ({100 * done / max(1, total):.0f}%) {rate:.2f} ep/s, "
                f"elapsed {_duration(elapsed)}, ETA {eta}")
        if "reward" in task:
            text += f", mean reward {task['reward']:.3f}"
        return text
