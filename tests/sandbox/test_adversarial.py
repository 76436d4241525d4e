"""Hostile code: every attack is contained, reported clearly in ExecResult, and leaves the test process healthy.

Each test runs against both backends: `LocalSandbox` (bubblewrap) and `DockerSandbox` on a real engine (marked
`docker`; skipped with the reason when no engine answers). Each ends by checking that the sandbox's uid has no
process left on this machine (container processes show in the host's /proc too) and that a follow-up command still
works; closing a Docker sandbox must leave no container behind. Network tests only ever talk to a listener on this
machine's 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import time
import tracemalloc

import pytest
from docker_support import containers_left, docker_base_image, docker_client  # noqa: F401 - fixtures

from agentgym.sandbox import DockerSandbox, LocalSandbox, SandboxConfig, SandboxLimits
from agentgym.sandbox.config import GIB, MIB
from agentgym.sandbox.docker import EXEC_UID


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def make_box(request):
    """`make_box(limits)`: a sandbox of the parametrized backend, closed (and, for Docker, checked gone) afterwards."""
    made = []

    def make(limits: SandboxLimits | None = None):
        limits = limits if limits is not None else request.getfixturevalue("small_limits")
        if request.param == "local":
            made.append(LocalSandbox(SandboxConfig(isolation="bwrap", limits=limits)))
        else:
            client, image = request.getfixturevalue("docker_client"), request.getfixturevalue("docker_base_image")
            made.append(DockerSandbox(SandboxConfig(limits=limits), image=image, client=client))
        return made[-1]

    yield make
    for box in made:
        box.close()
        if isinstance(box, DockerSandbox):
            assert containers_left(box._client, box._container.id) == []


@pytest.fixture
def box(make_box):
    return make_box()


def uid_of(box) -> int:
    """The host uid the sandboxed commands run as (Docker: the exec uid, no user namespace remapping)."""
    return EXEC_UID if isinstance(box, DockerSandbox) else box.uid


def assert_healthy(box, processes_left, host_before: int | None = None) -> None:
    assert processes_left(uid_of(box)) == []
    assert box.run("echo alive").stdout == "alive\n"
    if host_before is not None:  # other suites may run beside us: allow noise, not a runaway bomb
        assert sum(n.isdigit() for n in os.listdir("/proc")) < host_before + 100


@pytest.mark.slow
def test_fork_bomb_is_contained(make_box, processes_left):
    host_before = sum(n.isdigit() for n in os.listdir("/proc"))
    box = make_box(SandboxLimits(timeout_s=2, max_processes=32, memory_bytes=1 * GIB))
    result = box.run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    assert result.timed_out and result.summary() == "killed after 2.0 s wall-clock timeout"
    shell = box.run("bomb() { bomb | bomb & }; bomb; sleep 1; echo survived", timeout_s=2)
    assert "Cannot fork" in shell.stderr or "Resource temporarily unavailable" in shell.stderr
    assert_healthy(box, processes_left, host_before)


def test_allocating_50_gb_is_a_memory_error(box, processes_left):
    result = box.run_python("x = bytearray(50 * 10**9)")
    assert result.killed_by == "memory" and result.exit_code == 1
    assert result.summary().startswith("MemoryError: memory limit 1 GiB exceeded (exit code 1")
    assert "MemoryError" in result.stderr
    assert_healthy(box, processes_left)


def test_a_growing_memory_hog_is_a_memory_error(box, processes_left):
    result = box.run_python("chunks = []\nwhile True:\n    chunks.append(b'1' * (64 << 20))")
    exit_code = 137 if isinstance(box, DockerSandbox) else 1  # the cgroup OOM-kills; RLIMIT_AS raises MemoryError
    assert result.killed_by == "memory" and result.exit_code == exit_code, result
    assert result.summary().startswith(f"MemoryError: memory limit 1 GiB exceeded (exit code {exit_code}")
    assert_healthy(box, processes_left)


@pytest.mark.docker
def test_processes_that_together_exceed_the_container_memory_are_oom_killed(docker_client, docker_base_image,
                                                                             processes_left):  # fmt: skip
    """Docker only: the cgroup bounds the sum of all processes (LocalSandbox's RLIMIT_AS bounds each one)."""
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    kept = b'1' * (150 << 20)\n"
        "    time.sleep(30)\n"
        "time.sleep(1)\n"
        "mine = b'1' * (400 << 20)\n"
        "print('not reached')\n"
    )
    limits = SandboxLimits(timeout_s=20, memory_bytes=512 * MIB)
    with DockerSandbox(SandboxConfig(limits=limits), image=docker_base_image, client=docker_client) as box:
        result = box.run_python(code)
        assert result.killed_by == "memory" and result.exit_code == 137 and not result.timed_out, result
        assert result.summary().startswith("MemoryError: memory limit 512 MiB exceeded (exit code 137")
        assert "not reached" not in result.stdout
        assert_healthy(box, processes_left)


def test_infinite_loop_hits_the_cpu_limit(make_box, processes_left):
    box = make_box(SandboxLimits(timeout_s=10, cpu_time_s=1))
    result = box.run_python("while True:\n    pass")
    assert result.killed_by == "cpu time" and not result.timed_out  # the CPU limit fired before the wall clock
    assert result.summary() == "killed after exceeding the CPU-time limit of 1 s (SIGXCPU)"
    assert_healthy(box, processes_left)


def test_busy_children_that_ignore_sigterm_are_killed(box, processes_left):
    code = (
        "import os, signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "        while True: pass\n"
        "while True: pass\n"
    )
    result = box.run_python(code, timeout_s=1)
    assert result.timed_out and result.killed_by == "timeout"
    assert_healthy(box, processes_left)


def test_host_loopback_listener_is_unreachable_and_only_lo_exists(box, processes_left):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        code = (
            "import socket\n"
            "print(sorted(name for _, name in socket.if_nameindex()))\n"
            "s = socket.socket()\n"
            "s.settimeout(2)\n"
            "try:\n"
            f"    s.connect(('127.0.0.1', {port}))\n"
            "    print('CONNECTED')\n"
            "except OSError as e:\n"
            "    print('blocked', e.errno)\n"
        )
        result = box.run_python(code)
        lines = result.stdout.splitlines()
        assert lines[0] == "['lo']" and lines[1].startswith("blocked"), result.stdout + result.stderr
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever arrived on the host side
    finally:
        listener.close()
    assert_healthy(box, processes_left)


@pytest.mark.parametrize("target", ["/etc/agentgym-pwned", "REPO", "/usr/agentgym-pwned"])
def test_writes_outside_the_workdir_fail(box, processes_left, target):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "pwned.txt") \
        if target == "REPO" else target  # fmt: skip
    result = box.run_python(f"open({path!r}, 'w').write('x')")
    refusals = ("Read-only file system", "Permission denied")
    if isinstance(box, DockerSandbox) and target == "REPO":
        refusals += ("No such file or directory",)  # the host's folders do not exist in the container at all
    assert result.exit_code == 1 and any(refusal in result.stderr for refusal in refusals), result.stderr
    assert not os.path.exists(path)
    assert_healthy(box, processes_left)


def test_host_environment_secret_is_invisible(monkeypatch, box, processes_left):
    monkeypatch.setenv("AGENTGYM_TEST_SECRET", "s3cr3t-value")
    result = box.run_python(
        "import os\n"
        "print(os.environ.get('AGENTGYM_TEST_SECRET'))\n"
        "found = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n"
        "        found.append(b's3cr3t-value' in open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError:\n"
        "        pass\n"
        "print(any(found))\n"
    )
    assert result.stdout.split() == ["None", "False"], result.stderr
    assert "s3cr3t" not in box.run("env; cat /proc/1/environ 2>&1").stdout
    assert_healthy(box, processes_left)


def test_printing_100_mb_is_truncated_in_bounded_memory(box, processes_left):
    tracemalloc.start()
    try:
        result = box.run_python(
            "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nsys.stdout.write('END')"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.stdout_truncated
    assert f"[... truncated {100 * (1 << 20) + 3 - 64 * 1024:,} bytes ...]" in result.stdout
    assert result.stdout.endswith("xEND") and len(result.stdout) < 70 * 1024
    assert peak < 8 * 1024 * 1024  # never buffered the 100 MB
    assert_healthy(box, processes_left)


def test_double_forked_setsid_grandchild_is_killed_at_timeout(box, processes_left):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        open('grandchild.pid', 'w').write(str(os.getpid()))\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(60)\n"
    )
    result = box.run_python(code, timeout_s=1)
    assert result.timed_out and result.summary() == "killed after 1.0 s wall-clock timeout"
    assert box.read_file("grandchild.pid").strip().isdigit()
    assert processes_left(uid_of(box)) == []  # the grandchild is gone, not just detached
    assert_healthy(box, processes_left)


def test_daemon_left_behind_by_a_finished_command_is_killed(box, processes_left):
    result = box.run("setsid sh -c 'sleep 60' > /dev/null 2>&1 & echo started")
    assert result.ok and result.stdout == "started\n" and result.duration_s < 30  # did not wait for the daemon (60 s)
    assert_healthy(box, processes_left)


def test_sandbox_cannot_signal_the_test_process(box):
    result = box.run_python(
        f"import os, signal\ntry:\n    os.kill({os.getpid()}, signal.SIGKILL)\nexcept OSError as e:\n    print(e.errno)"
    )
    assert result.stdout.strip() == "3"  # ESRCH: the host's processes do not even exist in its pid namespace


def test_exhausting_file_descriptors_fails_inside_only(make_box, processes_left):
    box = make_box(SandboxLimits(timeout_s=10, max_open_files=64))
    result = box.run_python("import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(1000)]")
    assert result.exit_code == 1 and "Too many open files" in result.stderr
    assert_healthy(box, processes_left)


def test_many_files_stay_in_the_workdir_and_go_with_the_sandbox(make_box, processes_left):
    box = make_box()
    result = box.run_python(
        "import os\nos.mkdir('many')\nfor i in range(5000):\n    open(f'many/{i}.txt', 'w').write('x' * 1024)\n"
    )
    assert result.ok, result.stderr
    assert box.run("ls many | wc -l").stdout.strip() == "5000"
    assert_healthy(box, processes_left)
    host_workdir = box.workdir if isinstance(box, LocalSandbox) else None
    box.close()  # make_box checks that the container is gone; a local workdir must be gone from the host
    assert host_workdir is None or not os.path.exists(host_workdir)
