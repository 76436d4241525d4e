"""`ExecResult`: what one sandboxed command did, and a one-line summary of it written for an LLM agent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


def format_bytes(num_bytes: int) -> str:
    """`1073741824` -> `"1 GiB"`, `1536` -> `"1.5 KiB"`: limits read better in binary units."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class ExecResult:
    """Outcome of one command. Nothing the sandboxed code does raises; it all lands here.

    Example: a snippet that allocates past the memory limit gives
    `ExecResult(exit_code=1, killed_by="memory", reason="memory limit 1 GiB", ...)`, and `summary()` reads
    `"MemoryError: memory limit 1 GiB exceeded (exit code 1, 0.04 s)"`.
    """

    exit_code: int | None
    """Exit status of the command; `None` when it never started or was killed before reporting one."""
    stdout: str
    """Captured standard output (decoded as UTF-8 with replacement), truncated with a marker past the budget."""
    stderr: str
    """Captured standard error, same rules as `stdout`."""
    timed_out: bool = False
    """The wall-clock timeout fired and the whole process tree was killed."""
    duration_s: float = 0.0
    """Wall-clock seconds from start to exit."""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    killed_by: str | None = None
    """Why it ended abnormally: the limit it hit ("timeout", "memory", "cpu time", "file size", "processes",
    "open files"), "signal N", or None. Output past `max_output_bytes` is cut, not fatal: see `*_truncated`."""
    reason: str | None = None
    """The limit behind `killed_by`, in words (e.g. "memory limit 1 GiB"); None when there is none."""
    error: str | None = None
    """The sandbox itself failed (e.g. bubblewrap refused to start); the command did not run."""

    @property
    def ok(self) -> bool:
        """The command ran to completion and exited 0."""
        return self.exit_code == 0 and self.killed_by is None and self.error is None

    def summary(self, *, timing: bool = True) -> str:
        """One line saying what happened, e.g. "killed after 5.0 s wall-clock timeout".

        `timing=False` leaves the measured duration out, so the same command gives the same text every time (what
        an agent sees must not depend on machine load: reproducible episodes).
        """
        if self.error is not None:
            head = f"sandbox error: {self.error}"
        elif self.killed_by == "timeout":
            head = f"killed after {self.reason or 'the'} wall-clock timeout"
        elif self.killed_by == "memory":
            head = f"MemoryError: {self.reason or 'memory limit'} exceeded (exit code {self.exit_code}"
            head += f", {self.duration_s:.2f} s)" if timing else ")"
        elif self.killed_by == "cpu time":
            head = f"killed after exceeding the {self.reason or 'CPU-time limit'} (SIGXCPU)"
        elif self.killed_by == "file size":
            head = f"stopped by the {self.reason or 'file-size limit'} (a write grew a file past it)"
        elif self.killed_by == "processes":
            head = f"stopped by the {self.reason or 'process limit'} (it could not start another process or thread; "
            head += f"exit code {self.exit_code})"
        elif self.killed_by == "open files":
            head = f"stopped by the {self.reason or 'open-file limit'} (it could not open another file; "
            head += f"exit code {self.exit_code})"
        elif self.killed_by is not None:
            head = f"killed by {self.killed_by}" + (f" ({self.reason})" if self.reason else "")
        else:
            head = f"exited with code {self.exit_code}" + (f" in {self.duration_s:.2f} s" if timing else "")
        notes = [
            f"{name} truncated at the output limit"
            for name, cut in (("stdout", self.stdout_truncated), ("stderr", self.stderr_truncated))
            if cut
        ]
        return head + (f"; {', '.join(notes)}" if notes else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) of every field plus the summary."""
        return {**asdict(self), "summary": self.summary()}
