"""Bounded capture of a stream: keeps the head and the tail within a byte budget and counts what it dropped."""

from __future__ import annotations

TRUNCATION_MARKER = "\n[... truncated {num_bytes:,} bytes ...]\n"


class OutputCapture:
    """Accumulates chunks of output in O(max_bytes) memory, however much is fed.

    The first 3/4 of the budget keeps the head and the last 1/4 the tail: an agent needs both the start of a log and
    the traceback at its end. `text()` joins them with `TRUNCATION_MARKER` naming the number of bytes dropped.
    """

    __slots__ = ("_head", "_tail", "head_limit", "max_bytes", "num_bytes_seen", "tail_limit")

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 4:
            raise ValueError(f"max_bytes must be >= 4, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self.tail_limit = max_bytes // 4
        self.head_limit = max_bytes - self.tail_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.num_bytes_seen = 0

    def feed(self, chunk: bytes) -> None:
        """Take one chunk; memory stays below about 2 x max_bytes."""
        self.num_bytes_seen += len(chunk)
        room = self.head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or self.tail_limit == 0:
            return
        self._tail += chunk[-self.tail_limit :]
        if len(self._tail) > 2 * self.tail_limit:  # trim rarely so that feeding stays amortized O(len(chunk))
            del self._tail[: len(self._tail) - self.tail_limit]

    @property
    def is_truncated(self) -> bool:
        return self.num_bytes_seen > self.max_bytes

    @property
    def num_bytes_dropped(self) -> int:
        return max(0, self.num_bytes_seen - self.max_bytes)

    def text(self) -> str:
        """The captured output as text (UTF-8, undecodable bytes replaced), with the marker where bytes were cut."""
        if not self.is_truncated:  # everything fed is still here: the tail was never trimmed
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", errors="replace")
        tail = bytes(self._tail[-self.tail_limit :]) if self.tail_limit else b""
        marker = TRUNCATION_MARKER.format(num_bytes=self.num_bytes_dropped)
        return self._head.decode("utf-8", errors="replace") + marker + tail.decode("utf-8", errors="replace")
