"""`SandboxedProcess`: a long-running command (a kernel, a server) under the same isolation as `LocalSandbox.run`.

`LocalSandbox` runs a command to completion. Some envs need a process that stays up across many requests, such as a
Jupyter kernel that executes cell after cell. This module starts one such process with the same building blocks:
the namespaces and mounts of `isolation.py`, the per-sandbox uid of `identity.py` and the rlimits of `rlimits.py`.

Why a dedicated launcher thread: bwrap's `--die-with-parent` uses `PR_SET_PDEATHSIG`, which fires when the *thread*
that forked the child exits, not the process. A process started from an `asyncio.to_thread` worker would die when
that event loop's executor shuts down. Every start therefore runs on one long-lived thread, which lives until the
interpreter exits, and the sandboxed process dies with it.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import tempfile
import weakref
from collections.abc import Mapping

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.errors import SandboxBusy
from agentgym.sandbox.home import Command, SandboxHome, to_argv
from agentgym.sandbox.identity import UidLease, kill_all_processes_of
from agentgym.sandbox.process import kill_process_group
from agentgym.sandbox.rlimits import make_preexec
from agentgym.sandbox.workdir import remove_workdir, write_file

_LAUNCHER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentgym-spawn")
"""The one thread that forks every long-running sandboxed process (see the module docstring for why)."""

MAX_LOG_BYTES = 64 * 1024
"""How much of the process's combined stdout/stderr `read_log` returns (the tail)."""


class SandboxedProcess(SandboxHome):
    """A working directory, a leased uid and at most one long-running isolated process in it at a time.

    The process gets the same isolation as `LocalSandbox.run` (no network but `lo`, read-only host file system,
    private /tmp, its own uid when we are root, the rlimits of `config.limits`), except that `limits.timeout_s` does
    not apply: it runs until `stop()` or `close()`. Set `limits.cpu_time_s` explicitly for a long-lived process, since
    RLIMIT_CPU counts its whole life. Its stdout and stderr go to an anonymous host file; `read_log()` returns the tail.
    A stopped process may be started again in the same directory (a kernel restart keeps the agent's files).

    Example:
        >>> proc = SandboxedProcess(SandboxConfig(limits=SandboxLimits(cpu_time_s=3600)))
        >>> proc.start(["python3", "-m", "http.server", "--bind", "127.0.0.1"])
        >>> proc.is_running
        True
        >>> proc.close()  # kills it and everything it started, deletes the directory, frees the uid

    Raises:
        SandboxUnavailable: the requested isolation cannot be provided (the message says what to install).
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        super().__init__(config)
        self._log = tempfile.TemporaryFile(prefix="agentgym-spawn-log-")
        self._state = _State()
        # Dropped without close(): still killed and cleaned up when garbage-collected or at interpreter exit.
        self._finalizer = weakref.finalize(self, _release, self._state, self._lease, self.workdir, self._log)

    # -- properties -------------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """Host pid of the outermost wrapper process (bwrap, unshare or the command itself), or None."""
        return self._state.popen.pid if self._state.popen is not None else None

    @property
    def is_running(self) -> bool:
        """True while the started process has not exited."""
        return self._state.popen is not None and self._state.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status of the last process (None while it runs or before any start). Signal N reads as 128+N
        under bwrap/unshare and as -N under isolation 'none'."""
        return self._state.popen.poll() if self._state.popen is not None else None

    # -- files ------------------------------------------------------------------------------------------------------
    def make_dir(self, path: str) -> str:
        """Create a directory (and parents) inside the working directory, owned by the sandbox uid; its host path."""
        self._check_open()
        marker = write_file(self.workdir, os.path.join(path, ".keep"), b"", mode=0o600, uid=self._lease.uid,
                            gid=self._lease.gid)  # fmt: skip
        os.unlink(marker)
        return os.path.dirname(marker)

    # -- the process ------------------------------------------------------------------------------------------------
    def start(self, command: Command, *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> int:
        """Start `command` (argv list, or a shell string) isolated, and return the host pid of its wrapper.

        `cwd` is a directory inside the working directory (default: the working directory itself). The environment is
        `BASE_ENV` + HOME + `config.env` + `env`, as for `LocalSandbox.run`.

        Raises:
            SandboxBusy: a process started earlier is still running; `stop()` it first.
            OSError: the wrapper could not be executed.
        """
        self._check_open()
        argv = to_argv(command)
        if self.is_running:
            raise SandboxBusy("this sandbox's process is still running; stop() it before starting another")
        cwd = self.workdir if cwd is None else cwd
        real_root = os.path.realpath(self.workdir)
        if os.path.commonpath([os.path.realpath(cwd), real_root]) != real_root:
            raise ValueError(f"cwd must lie inside the working directory {self.workdir}, got {cwd!r}")
        full_env = self._environment(env)
        launch, rlimits = self._launch(argv, self.config.limits)
        if launch.backend == "bwrap":  # bwrap's --chdir is the workdir; a sub-directory is entered by its own flag
            at = launch.argv.index("--chdir")
            launch.argv[at + 1] = cwd
        self._log.seek(0)
        self._log.truncate()
        popen = _LAUNCHER.submit(
            subprocess.Popen, launch.argv, cwd=cwd, env=full_env, preexec_fn=make_preexec(rlimits),
            start_new_session=True, close_fds=True, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        ).result()  # fmt: skip
        self._state.popen = popen
        return popen.pid

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Wait up to `timeout_s` for the process to exit; its return code, or None if it still runs."""
        if self._state.popen is None:
            return None
        try:
            return self._state.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int | None:
        """Kill the process and everything it started (SIGKILL), wait for it; its return code. Idempotent."""
        return _stop(self._state, self._lease)

    def read_log(self, max_bytes: int = MAX_LOG_BYTES) -> str:
        """The last `max_bytes` of what the process wrote to stdout and stderr since its last start."""
        size = self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, size - max_bytes))
        return self._log.read().decode(errors="replace")

    def __repr__(self) -> str:
        state = "closed" if self._is_closed else ("running" if self.is_running else "idle")
        return f"SandboxedProcess(backend={self.backend!r}, workdir={self.workdir!r}, uid={self.uid}, {state})"


class _State:
    """The mutable part the finalizer needs (it must not hold the SandboxedProcess itself)."""

    __slots__ = ("popen",)

    def __init__(self) -> None:
        self.popen: subprocess.Popen[bytes] | None = None


def _stop(state: _State, lease: UidLease) -> int | None:
    popen = state.popen
    if popen is None:
        return None
    if popen.poll() is None:
        kill_process_group(popen.pid)
    kill_all_processes_of(lease)  # anything that left the process group (setsid) but still runs as the uid
    try:
        return popen.wait(5.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL of our own child does not fail
        os.kill(popen.pid, signal.SIGKILL)
        return popen.wait()


def _release(state: _State, lease: UidLease, workdir: str, log: object) -> None:
    _stop(state, lease)
    remove_workdir(workdir)
    lease.release()
    log.close()  # type: ignore[attr-defined]


__all__ = ["MAX_LOG_BYTES", "SandboxedProcess"]
