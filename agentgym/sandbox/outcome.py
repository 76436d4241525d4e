"""Turns a raw process outcome into an `ExecResult`: decodes signals, names the limit that stopped the command."""

from __future__ import annotations

import signal

from agentgym.sandbox.config import SandboxLimits
from agentgym.sandbox.isolation import Launch
from agentgym.sandbox.process import RawOutcome
from agentgym.sandbox.result import ExecResult, format_bytes

_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory", "Out of memory")
# RLIMIT_NPROC makes fork/clone fail with EAGAIN; shells and Python report it in these words. (EAGAIN from a
# non-blocking read would match too, but a command that dies of one, under a process limit, is rare.)
_FORK_FAILED = ("Resource temporarily unavailable", "Cannot fork", "cannot fork", "can't start new thread")
_OPEN_FILES_MARKERS = ("Too many open files",)  # EMFILE under RLIMIT_NOFILE
_WRAPPER_PREFIXES = ("bwrap: ", "setpriv: ", "unshare: ")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def interpret(raw: RawOutcome, launch: Launch, limits: SandboxLimits) -> ExecResult:
    """Classify how the command ended. `limits` must carry the timeout actually used for this run."""
    stdout, stderr = raw.stdout.text(), raw.stderr.text()
    common = dict(stdout=stdout, stderr=stderr, duration_s=raw.duration_s,
                  stdout_truncated=raw.stdout.is_truncated, stderr_truncated=raw.stderr.is_truncated)  # fmt: skip
    if raw.spawn_error is not None:
        return ExecResult(exit_code=None, error=f"could not start the sandbox: {raw.spawn_error}", **common)
    rc = raw.returncode
    assert rc is not None  # internal invariant: run_process waited for the process
    signum = None
    if rc < 0:
        signum = -rc
    elif launch.signal_exit_base is not None and launch.signal_exit_base < rc < launch.signal_exit_base + 65:
        signum = rc - launch.signal_exit_base
    exit_code = 128 + signum if signum is not None else rc
    if raw.timed_out:
        return ExecResult(exit_code=None, timed_out=True, killed_by="timeout", reason=f"{limits.timeout_s:.1f} s",
                          **common)  # fmt: skip
    first_line = stderr.lstrip().split("\n", 1)[0]
    if launch.backend != "none" and rc in (1, 126, 127) and first_line.startswith(_WRAPPER_PREFIXES):
        return ExecResult(exit_code=rc, error=first_line, **common)
    if signum == signal.SIGXCPU:
        reason = f"CPU-time limit of {limits.effective_cpu_time_s} s"
        return ExecResult(exit_code=exit_code, killed_by="cpu time", reason=reason, **common)
    tail = stderr[-4096:]
    if limits.max_file_size_bytes is not None and (signum == signal.SIGXFSZ or (rc != 0 and "File too large" in tail)):
        reason = f"file-size limit {format_bytes(limits.max_file_size_bytes)}"
        return ExecResult(exit_code=exit_code, killed_by="file size", reason=reason, **common)
    if limits.memory_bytes is not None and rc != 0 and any(marker in tail for marker in _MEMORY_MARKERS):
        reason = f"memory limit {format_bytes(limits.memory_bytes)}"
        return ExecResult(exit_code=exit_code, killed_by="memory", reason=reason, **common)
    if limits.max_processes is not None and rc != 0 and any(marker in tail for marker in _FORK_FAILED):
        reason = f"process limit of {limits.max_processes}"
        return ExecResult(exit_code=exit_code, killed_by="processes", reason=reason, **common)
    if limits.max_open_files is not None and rc != 0 and any(marker in tail for marker in _OPEN_FILES_MARKERS):
        reason = f"open-file limit of {limits.max_open_files}"
        return ExecResult(exit_code=exit_code, killed_by="open files", reason=reason, **common)
    if signum is not None:
        return ExecResult(exit_code=exit_code, killed_by=f"signal {signum}", reason=_signal_name(signum), **common)
    return ExecResult(exit_code=rc, **common)
