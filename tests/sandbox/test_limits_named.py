"""Every limit the sandbox enforces is named when a hostile program runs into it (issue #23).

Memory, CPU time, wall time, file size and output size have their own tests (`test_adversarial.py`,
`test_local.py`); these cover the process and open-file limits, which used to read as a plain "exited with code 1".
"""

from __future__ import annotations

import pytest

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits
from agentgym.sandbox.config import GIB

LIMITS = SandboxLimits(timeout_s=10, memory_bytes=1 * GIB, max_processes=16, max_open_files=64)
PROCESSES = "stopped by the process limit of 16 (it could not start another process or thread; exit code {})"
OPEN_FILES = "stopped by the open-file limit of 64 (it could not open another file; exit code 1)"


@pytest.fixture(scope="module")
def limited_box():
    with LocalSandbox(SandboxConfig(isolation="bwrap", limits=LIMITS)) as box:
        yield box


@pytest.mark.parametrize(
    "code",
    [
        "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n",
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
        "import subprocess\nchildren = [subprocess.Popen(['sleep', '30']) for _ in range(64)]\n",
    ],
    ids=["fork", "threads", "subprocess"],
)
def test_a_python_fork_bomb_names_the_process_limit(limited_box, processes_left, code):
    result = limited_box.run_python(code)
    assert (result.killed_by, result.reason) == ("processes", "process limit of 16"), result.stderr[-500:]
    assert result.summary() == PROCESSES.format(1)
    assert processes_left(limited_box.uid) == []


def test_a_shell_fork_bomb_names_the_process_limit(limited_box, processes_left):
    result = limited_box.run("for i in $(seq 64); do sleep 30 & done; wait", timeout_s=8)
    assert "Cannot fork" in result.stderr or "Resource temporarily unavailable" in result.stderr
    assert result.killed_by == "processes" and not result.timed_out
    assert result.summary(timing=False) == PROCESSES.format(result.exit_code)
    assert processes_left(limited_box.uid) == []


@pytest.mark.parametrize(
    "code",
    ["import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]",
     "import socket\nsockets = [socket.socket() for _ in range(100)]"],
    ids=["files", "sockets"],
)
def test_exhausting_file_descriptors_names_the_open_file_limit(limited_box, code):
    result = limited_box.run_python(code)
    assert "Too many open files" in result.stderr
    assert (result.killed_by, result.reason) == ("open files", "open-file limit of 64")
    assert result.summary() == OPEN_FILES


def test_an_ordinary_failure_is_not_blamed_on_a_limit(limited_box):
    result = limited_box.run_python("import os\nos.fork() and None\nraise SystemExit('plain failure')")
    assert (result.exit_code, result.killed_by) == (1, None)
    assert result.summary(timing=False) == "exited with code 1"


def test_without_the_limit_set_the_same_words_are_not_blamed_on_it():
    limits = SandboxLimits(timeout_s=10, max_processes=None, max_open_files=None)
    with LocalSandbox(SandboxConfig(isolation="bwrap", limits=limits)) as box:
        result = box.run("echo 'Cannot fork; Too many open files' >&2; exit 3")
    assert (result.exit_code, result.killed_by) == (3, None)
