"""SandboxedProcess: a long-running process under the sandbox's isolation, its lifetime, restarts and cleanup."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time

import pytest

from agentgym.sandbox import SandboxBusy, SandboxClosed, SandboxConfig, SandboxLimits
from agentgym.sandbox.config import GIB
from agentgym.sandbox.identity import pids_owned_by
from agentgym.sandbox.spawn import SandboxedProcess

LIMITS = SandboxLimits(memory_bytes=1 * GIB, max_processes=32, cpu_time_s=60)
PROBE = """
import os, resource, socket, time
lines = [f"uid={os.getuid()}", f"cwd={os.getcwd()}", f"ifaces={[n for _, n in socket.if_nameindex()]}",
         f"as={resource.getrlimit(resource.RLIMIT_AS)[0]}", f"nproc={resource.getrlimit(resource.RLIMIT_NPROC)[0]}"]
try:
    open('/etc/agentgym-spawn-probe', 'w')
    lines.append('etc=writable')
except OSError:
    lines.append('etc=read-only')
open('probe.txt', 'w').write('\\n'.join(lines))
time.sleep(600)
"""


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def proc():
    with SandboxedProcess(SandboxConfig(isolation="bwrap", limits=LIMITS)) as p:
        yield p


def test_long_running_process_is_isolated_and_limited(proc, processes_left):
    sub = proc.make_dir("sub")
    proc.write_file("sub/probe.py", PROBE)
    proc.start([sys.executable, "probe.py"], cwd=sub)
    probe = os.path.join(sub, "probe.txt")
    assert wait_for(lambda: os.path.exists(probe) and os.path.getsize(probe) > 0)
    time.sleep(0.05)
    facts = dict(line.split("=", 1) for line in open(probe).read().splitlines())
    assert facts["cwd"] == sub
    assert facts["ifaces"] == "['lo']"
    assert facts["etc"] == "read-only"
    assert int(facts["as"]) == 1 * GIB
    if os.geteuid() == 0:  # a dedicated uid, with RLIMIT_NPROC counting only the sandbox
        assert int(facts["uid"]) == proc.uid != 0
        assert int(facts["nproc"]) == 32
    assert proc.is_running and proc.returncode is None
    proc.stop()
    assert not proc.is_running
    assert processes_left(proc.uid) == [] or os.geteuid() != 0


def test_exit_status_log_and_restart_in_the_same_directory(proc):
    proc.start("echo out; echo err >&2; echo kept > file.txt; exit 3")
    assert proc.wait(10) == 3
    assert proc.returncode == 3 and not proc.is_running
    assert "out" in proc.read_log() and "err" in proc.read_log()
    proc.start(["cat", "file.txt"])  # a second start after the first ended: same files, fresh log
    assert proc.wait(10) == 0
    assert proc.read_log() == "kept\n"


def test_second_start_while_running_is_refused_and_cwd_must_be_inside(proc):
    proc.start(["sleep", "30"])
    with pytest.raises(SandboxBusy, match="still running"):
        proc.start(["true"])
    proc.stop()
    with pytest.raises(ValueError, match="cwd must lie inside"):
        proc.start(["true"], cwd="/etc")


def test_close_kills_setsid_grandchildren_and_removes_everything(processes_left):
    proc = SandboxedProcess(SandboxConfig(isolation="bwrap", limits=LIMITS))
    proc.start("setsid sleep 300 & setsid sleep 300 & sleep 300")
    if os.geteuid() == 0:
        assert wait_for(lambda: len(pids_owned_by(proc.uid)) >= 3)
    workdir = proc.workdir
    proc.close()
    proc.close()  # idempotent
    assert not os.path.exists(workdir)
    if os.geteuid() == 0:
        assert processes_left(proc.uid) == []
    with pytest.raises(SandboxClosed):
        proc.start(["true"])


def test_a_dropped_process_is_killed_by_the_finalizer(processes_left):
    proc = SandboxedProcess(SandboxConfig(isolation="bwrap", limits=LIMITS))
    pid, uid, workdir = proc.start(["sleep", "300"]), proc.uid, proc.workdir
    del proc
    gc.collect()
    assert not os.path.exists(workdir)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    if os.geteuid() == 0:
        assert processes_left(uid) == []


def test_started_from_a_short_lived_event_loop_thread_it_keeps_running(proc):
    """bwrap's --die-with-parent follows the forking *thread*: a start from an executor thread must survive it."""

    async def start_in_worker() -> None:
        await asyncio.to_thread(proc.start, ["sleep", "30"])

    asyncio.run(start_in_worker())  # the loop's default executor (and its thread) is shut down here
    time.sleep(0.3)
    assert proc.is_running
