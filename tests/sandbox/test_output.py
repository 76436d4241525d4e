"""OutputCapture keeps head and tail within the budget and marks what it dropped."""

from __future__ import annotations

import pytest

from agentgym.sandbox.output import TRUNCATION_MARKER, OutputCapture


def test_small_output_is_kept_whole_across_chunks():
    capture = OutputCapture(100)
    for piece in (b"hello ", b"world", b"\xc3", b"\xa9"):  # a UTF-8 character split over two chunks
        capture.feed(piece)
    assert capture.text() == "hello world\u00e9"
    assert not capture.is_truncated and capture.num_bytes_dropped == 0


def test_exactly_the_budget_is_not_truncated():
    capture = OutputCapture(64)
    capture.feed(b"a" * 40)
    capture.feed(b"b" * 24)
    assert capture.text() == "a" * 40 + "b" * 24 and not capture.is_truncated


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 10**6])
def test_large_output_keeps_head_and_tail_with_a_marker(chunk_size):
    data = b"".join(b"%07d\n" % i for i in range(200_000))  # 1.6 MB of numbered lines
    capture = OutputCapture(1000)
    for i in range(0, len(data), chunk_size):
        capture.feed(data[i : i + chunk_size])
    text = capture.text()
    dropped = len(data) - 1000
    marker = TRUNCATION_MARKER.format(num_bytes=dropped)
    assert capture.is_truncated and capture.num_bytes_dropped == dropped
    head, tail = text.split(marker)
    assert head.encode() == data[:750] and tail.encode() == data[-250:]
    assert f"[... truncated {dropped:,} bytes ...]" in text


def test_memory_stays_bounded_while_feeding():
    capture = OutputCapture(1000)
    for _ in range(1000):
        capture.feed(b"x" * 10_000)
        assert len(capture._head) + len(capture._tail) <= 2 * 1000
