"""Isolation choice and fallbacks: unshare when bubblewrap is missing, refusal without any, `none` only on request."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits, SandboxUnavailable, isolation
from agentgym.sandbox.config import GIB
from agentgym.sandbox.identity import UidLease
from agentgym.sandbox.isolation import build_launch, unreachable_ancestor

LIMITS = SandboxLimits(timeout_s=5, memory_bytes=1 * GIB, max_processes=32)


@pytest.fixture
def no_bwrap(monkeypatch):
    """Simulate a machine without bubblewrap."""
    monkeypatch.setattr(isolation, "bwrap_problem", lambda: "`bwrap` is not on PATH; install bubblewrap")


def test_auto_prefers_bubblewrap_when_it_works():
    assert isolation.bwrap_problem() is None  # .ci/run installs bubblewrap; this machine has it
    with LocalSandbox(SandboxConfig(limits=LIMITS)) as box:
        assert box.backend == "bwrap"


def test_auto_falls_back_to_unshare_with_a_warning(no_bwrap, caplog):
    with caplog.at_level(logging.WARNING, logger="agentgym.sandbox"):
        box = LocalSandbox(SandboxConfig(limits=LIMITS))
    with box:
        assert box.backend == "unshare"
        assert "falling back to `unshare`" in caplog.text and "install bubblewrap" in caplog.text
        assert box.run("echo hi").stdout == "hi\n"


def test_explicit_bwrap_without_bwrap_raises(no_bwrap):
    with pytest.raises(SandboxUnavailable, match="isolation='bwrap' was requested but `bwrap` is not on PATH"):
        LocalSandbox(SandboxConfig(isolation="bwrap"))


def test_nothing_available_refuses_to_run(no_bwrap, monkeypatch):
    real_which = isolation._which
    monkeypatch.setattr(isolation, "_which", lambda name: None if name == "unshare" else real_which(name))
    with pytest.raises(SandboxUnavailable, match=r"Refusing to run untrusted code without isolation.*isolation='none'"):
        LocalSandbox(SandboxConfig())


def test_unshare_fallback_isolates_network_env_files_and_time(monkeypatch, processes_left):
    monkeypatch.setenv("AGENTGYM_TEST_SECRET", "s3cr3t")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        with LocalSandbox(SandboxConfig(isolation="unshare", limits=LIMITS)) as box:
            script = (
                "echo secret=$AGENTGYM_TEST_SECRET; "
                "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
                f"(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo CONNECTED; "
                "touch /etc/agentgym-pwned 2>/dev/null || echo etc-refused; "
                "echo data > out.txt"
            )
            result = box.run(["bash", "-c", script])
            assert result.stdout.split() == ["secret=", "lo", "etc-refused"], result.stderr
            assert box.read_file("out.txt") == b"data\n"
            timed = box.run("sleep 30 & setsid sleep 30 & sleep 30", timeout_s=0.5)
            assert timed.timed_out and timed.summary() == "killed after 0.5 s wall-clock timeout"
            assert processes_left(box.uid) == []
            killed = box.run("kill -9 $$")  # the command is not pid 1, so it can die of a signal
            assert killed.killed_by == "signal 9" and killed.summary() == "killed by signal 9 (SIGKILL)"
            assert box.run("echo still-works").stdout == "still-works\n"
    finally:
        listener.close()
    assert not os.path.exists("/etc/agentgym-pwned")


def test_none_runs_only_when_asked_and_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="agentgym.sandbox"):
        box = LocalSandbox(SandboxConfig(isolation="none", limits=LIMITS))
    with box:
        assert box.backend == "none"
        assert "WITHOUT namespaces" in caplog.text
        assert box.run("echo $HOME").stdout == f"{box.workdir}\n"


def test_unreachable_ancestor(tmp_path):
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    os.chmod(locked, 0o700)
    assert unreachable_ancestor(str(locked / "inner" / "x")) in (
        str(locked),
        str(tmp_path.parent.parent),
        str(tmp_path.parent),
    )
    assert unreachable_ancestor("/usr/bin/env") is None


def test_bwrap_argv_has_the_security_flags():
    config = SandboxConfig(limits=LIMITS, ro_binds=("/opt/venv",), rw_binds=(("/srv/x", "/data"),))
    dedicated = UidLease(1_600_000_123, fd=os.open("/dev/null", os.O_RDONLY))
    try:
        argv = build_launch("bwrap", ["true"], config=config, workdir="/tmp/agentgym-sandbox/w", lease=dedicated).argv
    finally:
        dedicated.release()
    joined = " ".join(argv)
    for flag in ("--ro-bind / /", "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session",
                 "--ro-bind /opt/venv /opt/venv", "--bind /srv/x /data", "--tmpfs /tmp",
                 "--bind /tmp/agentgym-sandbox/w /tmp/agentgym-sandbox/w", "--reuid=1600000123", "--no-new-privs"):  # fmt: skip
        assert flag in joined, flag
    assert argv[-1] == "true"
    networked = build_launch(
        "bwrap", ["true"], config=SandboxConfig(network=True), workdir="/w", lease=UidLease(0, None)
    ).argv
    assert "--share-net" in networked and "--unshare-net" not in networked
