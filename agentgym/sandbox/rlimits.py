"""The resource limits set in the child between fork and exec (inherited by bwrap and everything it starts)."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable

from agentgym.sandbox.config import SandboxLimits

# Processes the wrapper itself runs as the sandbox uid, by backend and by whether the uid is dedicated:
# unprivileged bwrap = outer bwrap + its pid-1 init; unshare = the sh init (plus unshare itself when not root).
_WRAPPER_PROCESSES = {("bwrap", True): 0, ("bwrap", False): 2, ("unshare", True): 1, ("unshare", False): 2,
                      ("none", True): 0, ("none", False): 0}  # fmt: skip


def rlimit_values(limits: SandboxLimits, *, backend: str, is_dedicated_uid: bool, num_existing_tasks: int = 0
                  ) -> dict[int, tuple[int, int]]:  # fmt: skip
    """The (soft, hard) value of every rlimit to set.

    RLIMIT_NPROC counts all tasks of the real uid. With a dedicated uid that is exactly the sandbox; otherwise the
    caller's existing tasks (`num_existing_tasks`) are added so the limit still means "this many more".
    """
    values: dict[int, tuple[int, int]] = {resource.RLIMIT_CORE: (0, 0)}
    cpu = limits.effective_cpu_time_s
    values[resource.RLIMIT_CPU] = (cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL one second later
    if limits.memory_bytes is not None:
        values[resource.RLIMIT_AS] = (limits.memory_bytes, limits.memory_bytes)
    if limits.max_open_files is not None:
        values[resource.RLIMIT_NOFILE] = (limits.max_open_files, limits.max_open_files)
    if limits.max_file_size_bytes is not None:
        values[resource.RLIMIT_FSIZE] = (limits.max_file_size_bytes, limits.max_file_size_bytes)
    if limits.max_processes is not None:
        nproc = limits.max_processes + _WRAPPER_PROCESSES[(backend, is_dedicated_uid)]
        nproc += 0 if is_dedicated_uid else num_existing_tasks
        values[resource.RLIMIT_NPROC] = (nproc, nproc)
    return values


def make_preexec(values: dict[int, tuple[int, int]]) -> Callable[[], None]:
    """A `preexec_fn` that applies `values`; it only calls getrlimit/setrlimit, safe between fork and exec.

    A non-root caller cannot raise a hard limit, so its limits are clamped to the hard limits it already has.
    """
    items = list(values.items())
    may_raise = os.geteuid() == 0

    def apply_limits() -> None:
        for which, (soft, hard) in items:
            current_hard = resource.getrlimit(which)[1]
            if not may_raise and current_hard != resource.RLIM_INFINITY:
                hard = min(hard, current_hard)
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))

    return apply_limits
