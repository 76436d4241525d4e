"""Runs one wrapped argv under asyncio: streams its output into bounded captures and kills it at the deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from agentgym.sandbox.output import OutputCapture

_CHUNK = 64 * 1024
_DRAIN_GRACE_S = 2.0
"""After the command exits (and leftovers are killed), how long the pipes may take to reach EOF."""


@dataclass(frozen=True, slots=True)
class RawOutcome:
    """What the process did, before the backend interprets exit codes and limits."""

    returncode: int | None
    stdout: OutputCapture
    stderr: OutputCapture
    timed_out: bool
    duration_s: float
    spawn_error: str | None = None


async def _pump(stream: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await stream.read(_CHUNK):
        capture.feed(chunk)


async def _feed_stdin(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the command did not read all of its input: its business
    finally:
        writer.close()


def kill_process_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (we start every command in its own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_bytes: int,
    preexec_fn: Callable[[], None] | None,
    stdin: bytes | None,
    on_exit: Callable[[], Awaitable[None]],
) -> RawOutcome:
    """Spawn `argv`, capture its output, and SIGKILL its process group at `timeout_s`.

    `on_exit` runs once the main process has ended (normally, by timeout, or on cancellation) and must kill whatever
    it left behind; only then are the pipes drained, so a daemonized grandchild cannot hold `run` open.
    """
    stdout, stderr = OutputCapture(max_output_bytes), OutputCapture(max_output_bytes)
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=dict(env), preexec_fn=preexec_fn, start_new_session=True, close_fds=True,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as e:
        return RawOutcome(None, stdout, stderr, False, time.monotonic() - start, spawn_error=f"{argv[0]}: {e}")
    assert proc.stdout is not None and proc.stderr is not None  # internal invariant: both are PIPE
    pumps = [asyncio.ensure_future(_pump(proc.stdout, stdout)), asyncio.ensure_future(_pump(proc.stderr, stderr))]
    feeder = (
        asyncio.ensure_future(_feed_stdin(proc.stdin, stdin)) if proc.stdin is not None and stdin is not None else None
    )
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            kill_process_group(proc.pid)
            await proc.wait()
        duration = time.monotonic() - start
        await on_exit()
        _, pending = await asyncio.wait(pumps, timeout=_DRAIN_GRACE_S)
    except BaseException:  # cancelled: leave nothing running behind us
        kill_process_group(proc.pid)
        await asyncio.shield(on_exit())
        for task in pumps:
            task.cancel()
        raise
    finally:
        if feeder is not None:
            feeder.cancel()
    for task in pending:
        task.cancel()
    return RawOutcome(proc.returncode, stdout, stderr, timed_out, duration)
