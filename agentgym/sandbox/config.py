"""Keyword-only configs of a sandbox: resource limits (`SandboxLimits`) and isolation settings (`SandboxConfig`)."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Isolation = Literal["auto", "bwrap", "unshare", "none"]
ISOLATIONS: tuple[str, ...] = ("auto", "bwrap", "unshare", "none")

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def _check_positive(name: str, value: float | None, *, allow_none: bool) -> None:
    if value is None:
        if not allow_none:
            raise ValueError(f"{name} must be set, got None")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(kw_only=True, slots=True, frozen=True)
class SandboxLimits:
    """Resource limits of one command. `None` switches a limit off (never do that for untrusted code)."""

    timeout_s: float = 30.0
    """Wall-clock limit; past it the whole process tree (and its namespaces) is killed with SIGKILL."""
    cpu_time_s: float | None = None
    """CPU seconds per process (RLIMIT_CPU, SIGXCPU then SIGKILL). `None` means the wall-clock timeout, rounded up."""
    memory_bytes: int | None = 2 * GIB
    """Address-space limit per process (RLIMIT_AS): allocations beyond it fail (Python raises MemoryError)."""
    max_processes: int | None = 64
    """Processes and threads the sandboxed code may have at once (RLIMIT_NPROC on the sandbox's own uid)."""
    max_open_files: int | None = 256
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    max_file_size_bytes: int | None = 64 * MIB
    """Largest file a process may write (RLIMIT_FSIZE); also bounds each file in the workdir."""
    max_output_bytes: int = 256 * KIB
    """Bytes kept of stdout and of stderr each; the rest is dropped (head and tail kept) and a marker says how much."""
    tmp_size_bytes: int = 256 * MIB
    """Size of the private /tmp and /dev/shm tmpfs under bubblewrap (tmpfs pages are not covered by RLIMIT_AS)."""

    def __post_init__(self) -> None:
        _check_positive("timeout_s", self.timeout_s, allow_none=False)
        _check_positive("cpu_time_s", self.cpu_time_s, allow_none=True)
        for name in ("memory_bytes", "max_processes", "max_open_files", "max_file_size_bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be an int or None, got {value!r}")
            _check_positive(name, value, allow_none=True)
        for name in ("max_output_bytes", "tmp_size_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 64:
                raise ValueError(f"{name} must be an int >= 64, got {value!r}")
        if self.memory_bytes is not None and self.memory_bytes < 16 * MIB:
            raise ValueError(
                f"memory_bytes must be at least 16 MiB (no interpreter starts below that), got {self.memory_bytes!r}"
            )
        if self.max_open_files is not None and self.max_open_files < 16:
            raise ValueError(f"max_open_files must be at least 16, got {self.max_open_files!r}")

    @property
    def effective_cpu_time_s(self) -> int:
        """The RLIMIT_CPU soft limit actually set: `cpu_time_s`, or the wall-clock timeout rounded up."""
        return max(1, math.ceil(self.cpu_time_s if self.cpu_time_s is not None else self.timeout_s))


def _normalize_binds(name: str, binds: Sequence[str | tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    if isinstance(binds, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of paths or (source, dest) pairs, got the string {binds!r}")
    out: list[tuple[str, str]] = []
    for item in binds:
        src, dest = (item, item) if isinstance(item, str) else tuple(item)
        for path in (src, dest):
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ValueError(f"{name} entries must be absolute paths, got {item!r}")
        out.append((os.path.normpath(src), os.path.normpath(dest)))
    return tuple(out)


@dataclass(kw_only=True, slots=True, frozen=True)
class SandboxConfig:
    """How a sandbox isolates what it runs. Defaults are safe for untrusted code: no network, read-only host."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    """Resource limits applied to every command (a `run` call may override the timeout)."""
    network: bool = False
    """Give the sandbox the host's network. Off: a private network namespace with only `lo`."""
    isolation: Isolation = "auto"
    """`auto`: bubblewrap if `bwrap` is on PATH, else `unshare` (with a warning). `none` runs without namespaces
    (a loud warning) and is never chosen automatically."""
    ro_binds: tuple[str | tuple[str, str], ...] = ()
    """Host paths visible read-only inside (a path, or a (source, dest) pair), e.g. a prepared virtualenv.
    Under bubblewrap a dest must already exist on the host or lie under /tmp: the host root is read-only, so
    bwrap cannot create a new mount point elsewhere (the run then reports `error="bwrap: Can't mkdir ..."`)."""
    rw_binds: tuple[str | tuple[str, str], ...] = ()
    """Host paths visible read-write inside. Use sparingly: the sandbox may change or delete what is there."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the minimal environment (PATH, HOME, LANG, ...); nothing else of the host's leaks in."""
    python_executable: str = sys.executable
    """Interpreter used by `run_python`; its installation is made visible inside even when it lives under /root."""
    workdir_root: str | None = None
    """Where per-sandbox working directories are created; default `<tempdir>/agentgym-sandbox`."""
    uid_range: tuple[int, int] = (1_600_000_000, 1_600_004_096)
    """When running as root, each sandbox runs as its own uid from [start, stop) so that RLIMIT_NPROC counts
    only that sandbox's processes and the host's files stay out of reach."""

    def __post_init__(self) -> None:
        if not isinstance(self.limits, SandboxLimits):
            raise ValueError(f"limits must be a SandboxLimits, got {type(self.limits).__name__}")
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {self.isolation!r}")
        object.__setattr__(self, "ro_binds", _normalize_binds("ro_binds", self.ro_binds))
        object.__setattr__(self, "rw_binds", _normalize_binds("rw_binds", self.rw_binds))
        if not isinstance(self.env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
            for k, v in self.env.items()
        ):
            raise ValueError(f"env must map non-empty names without '=' to strings, got {self.env!r}")
        object.__setattr__(self, "env", dict(self.env))
        if not isinstance(self.python_executable, str) or not os.path.isabs(self.python_executable):
            raise ValueError(f"python_executable must be an absolute path, got {self.python_executable!r}")
        if self.workdir_root is not None and not os.path.isabs(self.workdir_root):
            raise ValueError(f"workdir_root must be an absolute path, got {self.workdir_root!r}")
        start, stop = self.uid_range
        if not (isinstance(start, int) and isinstance(stop, int) and 1000 <= start < stop < 2**32 - 1):
            raise ValueError(
                f"uid_range must be (start, stop) with 1000 <= start < stop < 2**32-1, got {self.uid_range!r}"
            )
