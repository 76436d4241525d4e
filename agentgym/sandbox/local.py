"""`LocalSandbox`: runs commands on this machine in namespaces (bubblewrap, else unshare) under rlimits."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import weakref
from collections.abc import Mapping

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.errors import SandboxBusy, SandboxUnavailable
from agentgym.sandbox.home import BASE_ENV, Command, SandboxHome, to_argv
from agentgym.sandbox.identity import UidLease, await_all_gone, kill_all_processes_of
from agentgym.sandbox.isolation import unreachable_ancestor
from agentgym.sandbox.outcome import interpret
from agentgym.sandbox.process import run_process
from agentgym.sandbox.result import ExecResult
from agentgym.sandbox.rlimits import make_preexec
from agentgym.sandbox.sync import run_sync
from agentgym.sandbox.workdir import read_file, remove_workdir

class LocalSandbox(SandboxHome):
    """A working directory plus the means to run untrusted commands in it, isolated.

    One sandbox keeps its directory across `run` calls (a code-repair episode edits, then tests, in the same tree) and
    runs one command at a time. Each command gets a fresh pid/ipc/uts/network namespace, the rlimits of
    `config.limits`, and an environment of `BASE_ENV` + `config.env` + the call's `env`; when the command exits,
    everything it started is killed. `close()` (idempotent) kills leftovers and deletes the directory.

    Example:
        >>> with LocalSandbox() as box:
        ...     box.write_file("a.py", "print(6 * 7)")
        ...     box.run(["python3", "a.py"]).stdout
        '42\\n'

    Raises:
        SandboxUnavailable: the requested isolation cannot be provided (the message says what to install).
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        super().__init__(config)
        self._is_busy = False
        # A sandbox dropped without close() still cleans up when it is garbage-collected (or at interpreter exit).
        self._finalizer = weakref.finalize(self, _release, self._lease, self.workdir)

    # -- files ------------------------------------------------------------------------------------------------------
    def read_file(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """Read a file back from the working directory; symlinks leading out of it are refused."""
        self._check_open()
        return read_file(self.workdir, path, max_bytes=max_bytes)

    # -- running ----------------------------------------------------------------------------------------------------
    def run(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Run `command` (argv list, or a shell string) in the working directory and wait for it. Never raises for
        what the command does; see `ExecResult`."""
        return run_sync(self.arun(command, timeout_s=timeout_s, env=env, stdin=stdin))

    def run_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Run a Python snippet with `config.python_executable` (`python -c code`)."""
        return run_sync(self.arun_python(code, timeout_s=timeout_s, env=env, stdin=stdin))

    async def arun_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                          stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Async `run_python`."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        exe = self.config.python_executable
        if (
            self._lease.is_dedicated
            and self.backend != "bwrap"
            and (blocked := unreachable_ancestor(os.path.realpath(exe)))
        ):
            raise SandboxUnavailable(
                f"the sandbox uid cannot traverse {blocked} to reach {exe} under isolation={self.backend!r}; "
                "install bubblewrap (which exposes it) or set python_executable to an interpreter outside it"
            )
        return await self.arun([exe, "-c", code], timeout_s=timeout_s, env=env, stdin=stdin)

    async def arun(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Async `run`: the process is awaited with asyncio, so hundreds can run concurrently in one event loop."""
        self._check_open()
        argv = to_argv(command)
        if self._is_busy:
            raise SandboxBusy("this sandbox is already running a command; use one sandbox per concurrent command")
        limits = self.config.limits
        if timeout_s is not None:
            limits = dataclasses.replace(limits, timeout_s=timeout_s)  # validates the override too
        self._is_busy = True
        try:
            launch, rlimits = self._launch(argv, limits)
            data = stdin.encode() if isinstance(stdin, str) else stdin
            raw = await run_process(
                launch.argv, cwd=self.workdir, env=self._environment(env), timeout_s=limits.timeout_s,
                max_output_bytes=limits.max_output_bytes, preexec_fn=make_preexec(rlimits), stdin=data,
                on_exit=lambda: await_all_gone(self._lease),
            )  # fmt: skip
        finally:
            self._is_busy = False
        return interpret(raw, launch, limits)

    # -- lifetime ---------------------------------------------------------------------------------------------------
    async def __aenter__(self) -> LocalSandbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        state = "closed" if self._is_closed else "open"
        return f"LocalSandbox(backend={self.backend!r}, workdir={self.workdir!r}, uid={self.uid}, {state})"


def _release(lease: UidLease, workdir: str) -> None:
    kill_all_processes_of(lease)
    remove_workdir(workdir)
    lease.release()


def run_once(command: Command, *, files: Mapping[str, bytes | str] | None = None, config: SandboxConfig | None = None,
             timeout_s: float | None = None, env: Mapping[str, str] | None = None) -> ExecResult:  # fmt: skip
    """One-shot: a fresh sandbox, `files` written in, `command` run, everything removed."""
    return run_sync(arun_once(command, files=files, config=config, timeout_s=timeout_s, env=env))


async def arun_once(command: Command, *, files: Mapping[str, bytes | str] | None = None,
                    config: SandboxConfig | None = None, timeout_s: float | None = None,
                    env: Mapping[str, str] | None = None) -> ExecResult:  # fmt: skip
    """Async `run_once`."""
    box = await asyncio.to_thread(LocalSandbox, config)
    try:
        for path, data in (files or {}).items():
            box.write_file(path, data)
        return await box.arun(command, timeout_s=timeout_s, env=env)
    finally:
        await asyncio.to_thread(box.close)


__all__ = ["BASE_ENV", "LocalSandbox", "arun_once", "run_once", "to_argv"]
