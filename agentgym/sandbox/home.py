"""`SandboxHome`: the set-up every local sandbox shares: its isolation backend, leased uid and working directory.

`LocalSandbox` (commands run to completion) and `SandboxedProcess` (one long-running process) both subclass it; so
the lease, the directory, the environment a command starts with and its launch argv and rlimits are made here once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

from agentgym.sandbox.config import SandboxConfig, SandboxLimits
from agentgym.sandbox.errors import SandboxClosed, SandboxUnavailable
from agentgym.sandbox.identity import count_processes_of, lease_uid
from agentgym.sandbox.isolation import Launch, build_launch, resolve_backend, unreachable_ancestor
from agentgym.sandbox.rlimits import rlimit_values
from agentgym.sandbox.workdir import create_workdir, default_workdir_root, write_file

Command = str | Sequence[str]

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONNOUSERSITE": "1",
    "PYTHONHASHSEED": "0",  # reproducible episodes: set/dict-of-str order and hash() the same in every sandbox
    "TMPDIR": "/tmp",
    "TERM": "dumb",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
}
"""The whole environment a command starts with (plus HOME = its workdir), before `config.env` and per-run `env`."""


def to_argv(command: Command) -> list[str]:
    """A string runs through `/bin/sh -c`; a sequence is an argv run as is."""
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    if isinstance(command, bytes) or not all(isinstance(arg, str) for arg in command) or not command:
        raise TypeError(f"command must be a shell string or a non-empty sequence of str, got {command!r}")
    return list(command)


class SandboxHome:
    """A resolved isolation backend, a leased uid and a fresh working directory owned by it.

    A subclass sets `self._finalizer` (a `weakref.finalize` that kills what runs, deletes the directory and frees
    the uid); `close()` runs it once.

    Raises:
        SandboxUnavailable: the requested isolation cannot be provided (the message says what to install).
    """

    _finalizer: Any

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.backend = resolve_backend(self.config.isolation)
        root = self.config.workdir_root or default_workdir_root()
        self._lease = lease_uid(os.path.join(root, ".uid-locks"), self.config.uid_range)
        try:
            self.workdir = create_workdir(root, uid=self._lease.uid, gid=self._lease.gid)
            if self._lease.is_dedicated and (blocked := unreachable_ancestor(self.workdir)) and self.backend != "bwrap":
                raise SandboxUnavailable(
                    f"the sandbox uid cannot traverse {blocked}; choose a workdir_root it can reach"
                )
        except BaseException:
            self._lease.release()
            raise
        self._is_closed = False

    @property
    def uid(self) -> int:
        """The uid the sandboxed code runs as (a dedicated one when we are root)."""
        return self._lease.uid

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> str:
        """Write a file into the working directory (relative path; parents created); returns its host path."""
        self._check_open()
        return write_file(self.workdir, path, data, mode=mode, uid=self._lease.uid, gid=self._lease.gid)

    def _environment(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """`BASE_ENV` + HOME + `config.env` + `extra`."""
        env = {**BASE_ENV, "HOME": self.workdir, **self.config.env, **(extra or {})}
        bad = [k for k, v in env.items() if not isinstance(k, str) or not isinstance(v, str) or "=" in k or not k]
        if bad:
            raise ValueError(f"env names must be non-empty strings without '=' and values strings; bad: {bad!r}")
        return env

    def _launch(self, argv: list[str], limits: SandboxLimits) -> tuple[Launch, dict[int, tuple[int, int]]]:
        """The wrapped argv of `argv` and the rlimits to set in the child."""
        launch = build_launch(self.backend, argv, config=self.config, workdir=self.workdir, lease=self._lease)
        num_tasks = 0 if self._lease.is_dedicated else count_processes_of(self._lease.uid, count_threads=True)
        rlimits = rlimit_values(limits, backend=self.backend, is_dedicated_uid=self._lease.is_dedicated,
                                num_existing_tasks=num_tasks)  # fmt: skip
        return launch, rlimits

    def _check_open(self) -> None:
        if self._is_closed:
            raise SandboxClosed("this sandbox is closed; create a new one")

    def close(self) -> None:
        """Kill anything still running as the sandbox, delete the working directory, free the uid. Idempotent."""
        if self._is_closed:
            return
        self._is_closed = True
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
