"""Rendering a cell's output: sections, ANSI stripping, image notes, trimmed tracebacks, truncation markers."""

from __future__ import annotations

from agentgym.envs.jupyter.output import STDIN_HINT, CellOutput, render, trim_traceback, truncate


def rendered(output: CellOutput, max_chars: int = 2000) -> str:
    return render(output, max_chars=max_chars, max_traceback_frames=2)


def test_sections_in_order_and_empty_output():
    out = CellOutput()
    assert rendered(out) == "(no output)"
    out.add("stream", {"name": "stdout", "text": "hi\n"})
    out.add("stream", {"name": "stderr", "text": "warn\n"})
    out.add("execute_result", {"data": {"text/plain": "42"}})
    assert rendered(out) == "stdout:\nhi\nstderr:\nwarn\nresult:\n42"


def test_images_are_noted_not_inlined_and_ansi_is_stripped():
    out = CellOutput()
    out.add("display_data", {"data": {"image/png": "A" * 5000, "text/plain": "<Figure size 640x480>"}})
    out.add("stream", {"name": "stdout", "text": "\x1b[31mred\x1b[0m\n"})
    text = rendered(out)
    assert "A" * 100 not in text
    assert "[image/png output not shown (5,000 bytes)]" in text
    assert "result:\n<Figure size 640x480>" in text and "stdout:\nred" in text


def test_error_keeps_the_innermost_frames_and_stdin_errors_get_a_hint():
    frames = ["\x1b[31m" + "-" * 40 + "\x1b[0m", "ValueError   Traceback (most recent call last)"]
    frames += [f"File frame{i}.py, line {i}\n----> {i} call()" for i in range(6)] + ["ValueError: bad"]
    trimmed = trim_traceback(frames, max_frames=2)
    assert "frame5.py" in trimmed and "frame4.py" in trimmed and "frame0.py" not in trimmed
    assert "outer frames omitted" in trimmed and "\x1b" not in trimmed and trimmed.endswith("ValueError: bad")
    out = CellOutput()
    out.add("error", {"ename": "StdinNotImplementedError", "evalue": "raw_input was called", "traceback": []})
    assert rendered(out) == "error: StdinNotImplementedError: raw_input was called\n" + STDIN_HINT


def test_long_output_is_cut_in_the_middle_with_a_marker_and_memory_stays_bounded():
    out = CellOutput(max_stream_chars=1000)
    for i in range(10_000):
        out.add("stream", {"name": "stdout", "text": f"line {i}\n"})
    kept = out.stdout.text()
    assert len(kept) < 2200 and kept.startswith("line 0\n") and kept.endswith("line 9999\n")
    text = rendered(out, max_chars=500)
    assert len(text) < 600 and "characters truncated" in text
    assert truncate("abc", 10) == "abc"
    assert truncate("x" * 100, 40).count("x") == 40
