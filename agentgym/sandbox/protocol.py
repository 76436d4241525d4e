"""The `Sandbox` protocol that every backend (local, docker) implements, and the `make_sandbox` factory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.result import ExecResult

Command = str | Sequence[str]
BACKENDS = ("local", "docker")


@runtime_checkable
class Sandbox(Protocol):
    """A working directory in which untrusted commands run, isolated, one at a time.

    Required members: `config`, `workdir` (the directory's path *inside* the sandbox), `run`/`arun`,
    `run_python`/`arun_python`, `write_file`/`read_file`, and `close` (idempotent; also via `with`).
    None of the run methods raises for what the command does: crashes, timeouts and limits come back in `ExecResult`.
    """

    config: SandboxConfig
    workdir: str

    def run(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | str | None = None) -> ExecResult: ...  # fmt: skip

    async def arun(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult: ...  # fmt: skip

    def run_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult: ...  # fmt: skip

    async def arun_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                          stdin: bytes | str | None = None) -> ExecResult: ...  # fmt: skip

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> str: ...

    def read_file(self, path: str, *, max_bytes: int | None = None) -> bytes: ...

    def close(self) -> None: ...


def make_sandbox(backend: str = "local", config: SandboxConfig | None = None, **kwargs: Any) -> Sandbox:
    """Build a sandbox by backend name.

    Args:
        backend: "local" (`LocalSandbox`: namespaces + rlimits on this machine) or "docker" (`DockerSandbox`).
        config: shared settings; `None` means `SandboxConfig()`.
        **kwargs: backend-specific arguments (for docker: `image`, `client`).

    Raises:
        ValueError: unknown backend (the message lists the known ones).
        SandboxUnavailable: the backend cannot run here; the message says what to install.
    """
    if backend == "local":
        from agentgym.sandbox.local import LocalSandbox

        if kwargs:
            raise TypeError(f"LocalSandbox takes no extra arguments, got {sorted(kwargs)}")
        return LocalSandbox(config)
    if backend == "docker":
        from agentgym.sandbox.docker import DockerSandbox

        return DockerSandbox(config, **kwargs)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
