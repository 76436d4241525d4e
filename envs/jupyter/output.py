"""What one cell produced (`CellOutput`), collected from iopub messages, and its rendering as an observation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_IMAGE_PREFIX = "image/"
TRUNCATION_MARKER = "\n[... {num_chars:,} characters truncated ...]\n"
STDIN_HINT = (
    "input() is not available here: the code cannot read from stdin. Put the values directly in the code instead."
)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class _Bounded:
    """A text stream that keeps at most `2 * limit` characters (head and tail) however much arrives."""

    __slots__ = ("head", "limit", "num_dropped", "tail")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = ""
        self.tail = ""
        self.num_dropped = 0

    def feed(self, text: str) -> None:
        if len(self.head) < self.limit:
            take = self.limit - len(self.head)
            self.head, text = self.head + text[:take], text[take:]
        if text:
            joined = self.tail + text
            self.num_dropped += max(0, len(joined) - self.limit)
            self.tail = joined[-self.limit :]

    def text(self) -> str:
        if not self.num_dropped:
            return self.head + self.tail
        return self.head + TRUNCATION_MARKER.format(num_chars=self.num_dropped) + self.tail


@dataclass(slots=True)
class CellOutput:
    """Everything a cell sent back, in arrival order per kind.

    Attributes:
        stdout / stderr: the stream text, bounded to `max_stream_chars` of head and of tail (`.text()`).
        results: execute_result and display_data as text (their `text/plain` form).
        notes: one line per rich output that is not shown (e.g. ``"[image/png output not shown (1,234 bytes)]"``).
        error: (ename, evalue, traceback lines) when the cell raised.
    """

    max_stream_chars: int = 64_000
    stdout: _Bounded = field(init=False)
    stderr: _Bounded = field(init=False)
    results: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: tuple[str, str, list[str]] | None = None

    def __post_init__(self) -> None:
        self.stdout = _Bounded(self.max_stream_chars)
        self.stderr = _Bounded(self.max_stream_chars)

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        """Fold one iopub message (already filtered to this cell) into the output."""
        if msg_type == "stream":
            stream = self.stderr if content.get("name") == "stderr" else self.stdout
            stream.feed(str(content.get("text", "")))
        elif msg_type in ("execute_result", "display_data"):
            self._add_data(content.get("data", {}))
        elif msg_type == "error":
            self.error = (content.get("ename", "Error"), content.get("evalue", ""), list(content.get("traceback", [])))
        elif msg_type == "clear_output":
            self.__post_init__()
            self.results = []

    def _add_data(self, data: dict[str, Any]) -> None:
        for mime, value in data.items():
            if mime.startswith(_IMAGE_PREFIX):
                self.notes.append(f"[{mime} output not shown ({len(str(value)):,} bytes)]")
        if "text/plain" in data:
            self.results.append(str(data["text/plain"]))
        elif not any(mime.startswith(_IMAGE_PREFIX) for mime in data):
            self.notes.append(f"[output of type {', '.join(sorted(data))} not shown]")


def trim_traceback(lines: list[str], *, max_frames: int) -> str:
    """An IPython traceback (one list entry per frame) cut to its header, its last `max_frames` frames and the final
    ``Error: message`` line, without colors or the dashed separator."""
    entries = [strip_ansi(e).strip("\n") for e in lines]
    entries = [re.sub(r"^-{20,}\n?", "", e) for e in entries if e.strip() and not set(e.strip()) <= {"-"}]
    head = [entries.pop(0)] if entries and "Traceback (most recent call last)" in entries[0] else []
    last = [entries.pop()] if entries else []
    if len(entries) > max_frames:
        dropped = len(entries) - max_frames
        entries = [f"[... {dropped} outer frames omitted ...]", *entries[-max_frames:]]
    return "\n".join(head + entries + last)


def truncate(text: str, max_chars: int) -> str:
    """`text` cut to about `max_chars`: the head and the tail are kept, the marker says how much went."""
    if len(text) <= max_chars:
        return text
    tail = max_chars // 4
    head = max_chars - tail
    return text[:head] + TRUNCATION_MARKER.format(num_chars=len(text) - head - tail) + text[len(text) - tail :]


def render(output: CellOutput, *, max_chars: int, max_traceback_frames: int) -> str:
    """The observation text of a cell, e.g. ``"stdout:\\n42\\n"`` or ``"error: ZeroDivisionError: ..."``."""
    parts = []
    if stdout := output.stdout.text():
        parts.append("stdout:\n" + strip_ansi(stdout).rstrip("\n"))
    if stderr := output.stderr.text():
        parts.append("stderr:\n" + strip_ansi(stderr).rstrip("\n"))
    for result in output.results:
        parts.append("result:\n" + strip_ansi(result))
    parts.extend(output.notes)
    if output.error is not None:
        ename, evalue, lines = output.error
        head = f"error: {ename}: {strip_ansi(evalue)}".rstrip(": ")
        if ename == "StdinNotImplementedError":
            parts.append(f"{head}\n{STDIN_HINT}")
        else:
            parts.append(head + "\ntraceback:\n" + trim_traceback(lines, max_frames=max_traceback_frames))
    if not parts:
        return "(no output)"
    return truncate("\n".join(parts), max_chars)
