"""`KernelConfig`: the limits and timeouts of one sandboxed Jupyter kernel (hashable, so pools can be keyed by it)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from agentgym.sandbox import GIB, SandboxConfig, SandboxLimits

_ISOLATIONS = ("auto", "bwrap", "unshare", "none")


def _check_number(name: str, value: object, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class KernelConfig:
    """How a kernel is sandboxed and how long its cells may run."""

    cell_timeout_s: float = 10.0
    """Wall-clock limit of one `execute`; past it the kernel is interrupted (KeyboardInterrupt)."""
    interrupt_grace_s: float = 3.0
    """How long an interrupted cell may take to stop before the kernel is declared hung and restarted."""
    startup_timeout_s: float = 30.0
    """How long a starting kernel may take to answer its first kernel_info request."""
    memory_bytes: int = 2 * GIB
    """Address-space cap of the kernel process (RLIMIT_AS): a bigger allocation raises MemoryError in the cell."""
    max_processes: int = 64
    """Processes and threads the kernel may have (RLIMIT_NPROC on its own uid); the kernel itself uses about 12."""
    cpu_time_s: float = 3600.0
    """CPU seconds over the kernel's whole life (RLIMIT_CPU); a kernel that reaches it dies and is restarted."""
    max_output_chars: int = 8_000
    """Characters of one cell's rendered output the agent sees; the middle of longer output is cut with a marker."""
    max_traceback_frames: int = 3
    """Innermost traceback frames kept in an error observation."""
    max_episodes_per_kernel: int = 200
    """A kernel is replaced after this many episodes, bounding state that `%reset -f` cannot clear."""
    isolation: str = "auto"
    """Sandbox isolation (`agentgym.sandbox.SandboxConfig.isolation`): 'auto', 'bwrap', 'unshare' or 'none'."""
    python_executable: str = sys.executable
    """Interpreter that runs `ipykernel_launcher`; it needs ipykernel (and pandas/sympy for the tasks)."""

    def __post_init__(self) -> None:
        _check_number("cell_timeout_s", self.cell_timeout_s, minimum=0.05)
        _check_number("interrupt_grace_s", self.interrupt_grace_s, minimum=0.05)
        _check_number("startup_timeout_s", self.startup_timeout_s, minimum=0.5)
        _check_number("cpu_time_s", self.cpu_time_s, minimum=1)
        for name, minimum in (("memory_bytes", 256 * 1024 * 1024), ("max_processes", 16), ("max_output_chars", 200),
                              ("max_traceback_frames", 1), ("max_episodes_per_kernel", 1)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.isolation not in _ISOLATIONS:
            raise ValueError(f"isolation must be one of {_ISOLATIONS}, got {self.isolation!r}")
        if not isinstance(self.python_executable, str) or not self.python_executable.startswith("/"):
            raise ValueError(f"python_executable must be an absolute path, got {self.python_executable!r}")

    def sandbox_config(self) -> SandboxConfig:
        """The sandbox the kernel process runs in: no network, read-only host, these limits."""
        limits = SandboxLimits(memory_bytes=self.memory_bytes, max_processes=self.max_processes,
                               cpu_time_s=self.cpu_time_s, max_open_files=1024)  # fmt: skip
        isolation: Any = self.isolation  # validated above against the same names
        return SandboxConfig(limits=limits, isolation=isolation, python_executable=self.python_executable,
                             env=KERNEL_ENV)  # fmt: skip


KERNEL_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",  # each malloc arena reserves 64 MiB of address space, which RLIMIT_AS counts
    "MPLBACKEND": "Agg",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "JUPYTER_PLATFORM_DIRS": "1",
}
"""Variables every kernel starts with: single-threaded BLAS and few malloc arenas keep it well inside RLIMIT_AS."""
