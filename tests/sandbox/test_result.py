"""ExecResult.summary(): one line that tells an agent exactly what happened."""

from __future__ import annotations

import pytest

from agentgym.sandbox import ExecResult
from agentgym.sandbox.result import format_bytes


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"exit_code": 0, "duration_s": 0.123}, "exited with code 0 in 0.12 s"),
        ({"exit_code": None, "timed_out": True, "killed_by": "timeout", "reason": "5.0 s"},
         "killed after 5.0 s wall-clock timeout"),
        ({"exit_code": 1, "killed_by": "memory", "reason": "memory limit 1 GiB", "duration_s": 0.04},
         "MemoryError: memory limit 1 GiB exceeded (exit code 1, 0.04 s)"),
        ({"exit_code": 152, "killed_by": "cpu time", "reason": "CPU-time limit of 2 s"},
         "killed after exceeding the CPU-time limit of 2 s (SIGXCPU)"),
        ({"exit_code": 137, "killed_by": "signal 9", "reason": "SIGKILL"}, "killed by signal 9 (SIGKILL)"),
        ({"exit_code": 1, "error": "bwrap: Can't mount proc"}, "sandbox error: bwrap: Can't mount proc"),
        ({"exit_code": 0, "duration_s": 1.0, "stdout_truncated": True}, "exited with code 0 in 1.00 s; stdout truncated at the output limit"),
    ],
)  # fmt: skip
def test_summary(kwargs, expected):
    result = ExecResult(**{"stdout": "", "stderr": "", **kwargs})
    assert result.summary() == expected
    assert result.to_dict()["summary"] == expected


def test_ok_only_for_a_clean_zero_exit():
    assert ExecResult(exit_code=0, stdout="", stderr="").ok
    assert not ExecResult(exit_code=0, stdout="", stderr="", killed_by="memory").ok
    assert not ExecResult(exit_code=3, stdout="", stderr="").ok


@pytest.mark.parametrize(
    ("num_bytes", "text"), [(1 << 30, "1 GiB"), (1536, "1.5 KiB"), (12, "12 B"), (64 << 20, "64 MiB")]
)
def test_format_bytes(num_bytes, text):
    assert format_bytes(num_bytes) == text
