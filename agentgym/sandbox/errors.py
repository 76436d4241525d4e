"""Exceptions the sandbox raises on purpose; all share the base `SandboxError`."""

from __future__ import annotations

from agentgym.errors import AgentGymError, DependencyNotInstalled


class SandboxError(AgentGymError, RuntimeError):
    """Base class: misuse of a sandbox or a sandbox that cannot do what was asked.

    What the sandboxed code does wrong (crash, timeout, memory) is never raised: it comes back in `ExecResult`.
    """


class SandboxUnavailable(SandboxError):
    """The requested isolation cannot be provided on this machine; the message says what to install."""


class SandboxDependencyMissing(SandboxUnavailable, DependencyNotInstalled):
    """An optional Python package (the docker SDK) is missing; the message ends with the exact pip command."""


class SandboxClosed(SandboxError):
    """The sandbox was used after `close()`."""


class SandboxBusy(SandboxError):
    """A second command was started while one is running: a sandbox runs one command at a time."""


class SandboxPathError(SandboxError, ValueError):
    """A file path given to `write_file`/`read_file` points outside the sandbox's working directory."""
