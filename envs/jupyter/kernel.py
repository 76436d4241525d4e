"""`SandboxedKernel`: a real IPython kernel in a sandbox, talked to over ipc sockets by a jupyter-client on the host.

The kernel process runs under `agentgym.sandbox.spawn.SandboxedProcess` (no network, read-only host, its own uid,
RLIMIT_AS/NPROC/CPU). TCP loopback does not cross the private network namespace, so the connection file uses
`transport="ipc"`: Unix sockets in `<workdir>/runtime`, a directory owned by the sandbox uid and bind-mounted into
the sandbox. The agent's files live in `<workdir>/work`, the kernel's cwd, which `reset` empties between episodes.

All methods block; each kernel has one I/O thread, and the `a*` methods run on it, so the zmq sockets are only ever
used from one thread and many kernels work concurrently under one event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentgym.errors import AgentGymError, require
from agentgym.envs.jupyter.config import KernelConfig
from agentgym.envs.jupyter.output import CellOutput
from agentgym.sandbox.spawn import SandboxedProcess

_POLL_S = 0.05
_CANARY = "print(6 * 7)"
_KERNEL_ARGS = ("--HistoryManager.enabled=False", "--InteractiveShell.colors=nocolor", "--IPKernelApp.quiet=True")


class KernelStartError(AgentGymError, RuntimeError):
    """The kernel could not be started or made healthy: an env failure, never the agent's doing."""


Status = Literal["ok", "error", "timeout", "died"]


@dataclass(slots=True)
class ExecOutcome:
    """How one cell ended.

    Attributes:
        output: what the cell printed, returned and raised.
        status: "ok"; "error" (the cell raised); "timeout" (interrupted at the cell timeout); "died" (the kernel
            process exited during the cell).
        is_restarted: the kernel was restarted after the cell (it died, or ignored the interrupt), so its variables
            are gone.
        exit_code: the kernel process's exit status when it died.
    """

    output: CellOutput
    status: Status
    is_restarted: bool = False
    exit_code: int | None = None


class SandboxedKernel:
    """One IPython kernel in its own sandbox. `close()` (idempotent) kills it and deletes its directory.

    Raises:
        KernelStartError: the kernel did not start (the message holds the tail of its log).
        agentgym.errors.DependencyNotInstalled: jupyter-client is missing (``pip install 'agentgym-rl[jupyter]'``).
    """

    def __init__(self, config: KernelConfig | None = None) -> None:
        self.config = config if config is not None else KernelConfig()
        self._jc = require("jupyter_client", "jupyter", "the jupyter env")
        self._process = SandboxedProcess(self.config.sandbox_config())
        self._client: Any = None
        self._io = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentgym-kernel-io")
        self.num_starts = 0
        self.num_episodes = 0
        self.is_closed = False
        try:
            self.runtime_dir = self._process.make_dir("runtime")
            self.work_dir = self._process.make_dir("work")
            self._start()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ----------------------------------------------------------------------------------------------
    @property
    def is_alive(self) -> bool:
        return not self.is_closed and self._process.is_running

    @property
    def uid(self) -> int:
        return self._process.uid

    def _start(self) -> None:
        connect = require("jupyter_client.connect", "jupyter", "the jupyter env")
        self.num_starts += 1
        prefix = os.path.join(self.runtime_dir, f"k{self.num_starts}")
        path = os.path.join(self.runtime_dir, f"kernel-{self.num_starts}.json")
        connect.write_connection_file(path, transport="ipc", ip=prefix, key=os.urandom(16).hex().encode())
        if os.geteuid() == 0:  # written by root with mode 0600: the kernel's own uid must read it
            os.chown(path, self._process.uid, self._process.uid)
        env = {"HOME": self.work_dir, "IPYTHONDIR": os.path.join(self.runtime_dir, "ipython"),
               "JUPYTER_RUNTIME_DIR": self.runtime_dir}  # fmt: skip
        argv = [self.config.python_executable, "-m", "ipykernel_launcher", "-f", path, *_KERNEL_ARGS]
        try:
            self._process.start(argv, env=env, cwd=self.work_dir)
        except OSError as e:
            raise KernelStartError(f"could not start the kernel process: {e}") from e
        client = self._jc.BlockingKernelClient()
        client.load_connection_file(path)
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        self._client = client
        deadline = time.monotonic() + self.config.startup_timeout_s
        client.kernel_info()
        while time.monotonic() < deadline:
            if not self._process.is_running:
                break
            try:
                reply = client.shell_channel.get_msg(timeout=_POLL_S)
            except queue.Empty:
                continue
            if reply["msg_type"] == "kernel_info_reply":
                # IOPub is a SUB socket that may not be connected yet (ZMQ's slow joiner): a cell whose output and
                # idle status were published before it joined would hang. Ready means IOPub saw a message too.
                try:
                    client.iopub_channel.get_msg(timeout=0.2)
                except queue.Empty:
                    client.kernel_info()
                    continue
                self._drain(client.iopub_channel)
                return
        code = self._process.returncode
        log = self._process.read_log(4000).strip()
        self._stop()
        timeout = self.config.startup_timeout_s
        why = f"exited with status {code}" if code is not None else f"did not answer in {timeout} s"
        raise KernelStartError(f"the Jupyter kernel {why}; its log ends with:\n{log or '(empty)'}")

    def _stop(self) -> None:
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        self._process.stop()

    def restart(self) -> None:
        """Kill the kernel and start a fresh one in the same directory (files kept, variables gone)."""
        self._stop()
        self._start()

    def close(self) -> None:
        """Kill the kernel and everything it started, delete its directory, free its uid. Idempotent."""
        if self.is_closed:
            return
        self.is_closed = True
        try:
            if self._client is not None:
                self._client.stop_channels()
                self._client = None
        finally:
            self._process.close()
            self._io.shutdown(wait=False)

    # -- cells --------------------------------------------------------------------------------------------------
    def execute(self, code: str, *, timeout_s: float | None = None, store_history: bool = True) -> ExecOutcome:
        """Run one cell and collect its output. Past the timeout the kernel is interrupted; a kernel that ignores the
        interrupt for `interrupt_grace_s`, or dies, is restarted (`is_restarted`). Never raises for the code's doing.

        Raises:
            KernelStartError: a needed restart failed.
        """
        if self.is_closed:
            raise KernelStartError("this kernel is closed")
        if not self._process.is_running:
            self.restart()
        client = self._client
        timeout_s = self.config.cell_timeout_s if timeout_s is None else timeout_s
        msg_id = client.execute(code, silent=False, store_history=store_history, allow_stdin=False, stop_on_error=True)
        output = CellOutput(max_stream_chars=4 * self.config.max_output_chars)
        deadline = time.monotonic() + timeout_s
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                client.control_channel.send(client.session.msg("interrupt_request", {}))
                interrupted_at = now
            elif interrupted_at is not None and now > interrupted_at + self.config.interrupt_grace_s:
                self.restart()
                return ExecOutcome(output, "timeout", is_restarted=True)
            try:
                msg = client.iopub_channel.get_msg(timeout=_POLL_S)
            except queue.Empty:
                if not self._process.is_running:
                    code = self._process.returncode
                    self.restart()
                    return ExecOutcome(output, "died", is_restarted=True, exit_code=code)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            output.add(kind, content)
        self._await_reply(msg_id)
        if interrupted_at is not None:
            return ExecOutcome(output, "timeout")
        return ExecOutcome(output, "error" if output.error is not None else "ok")

    def _await_reply(self, msg_id: str) -> None:
        """Consume the shell reply of `msg_id` (and any stale replies before it) so the queue never builds up."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                reply = self._client.shell_channel.get_msg(timeout=0.5)
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                return

    @staticmethod
    def _drain(channel: Any) -> None:
        while True:
            try:
                channel.get_msg(timeout=0)
            except queue.Empty:
                return

    # -- episodes -----------------------------------------------------------------------------------------------
    def reset(self, files: Mapping[str, str | bytes] | None = None, *, seed: int | None = None) -> None:
        """Make the kernel ready for a new episode: an empty namespace (as after `%reset -f`), an empty working
        directory holding `files` (relative paths), cwd there, and a canary cell that must print 42. A kernel that
        fails the canary, or has served `max_episodes_per_kernel` episodes, is restarted. With a `seed`, the
        kernel's `random` and `numpy.random` global generators are seeded from it (reproducible episodes).

        Raises:
            KernelStartError: the kernel could not be made healthy.
        """
        if self.is_closed:
            raise KernelStartError("this kernel is closed")
        self.num_episodes += 1
        if not self._process.is_running or self.num_episodes > self.config.max_episodes_per_kernel:
            self.num_episodes = 1
            self.restart()
        self._clear_work_dir()
        for name, data in (files or {}).items():
            self._process.write_file(os.path.join("work", name), data)
        reset_code = (
            "get_ipython().reset(new_session=False)\n"  # what `%reset -f` does, minus its full gc.collect()
            "__import__('gc').freeze()\n"  # survivors are modules: later resets' collections skip them
            f"__import__('os').chdir({self.work_dir!r})\n"
            "get_ipython().execution_count = 1\n" + _seed_code(seed) + _CANARY
        )
        for attempt in range(2):
            self._drain(self._client.control_channel)
            # A health check, not an agent's cell: bounded by the startup timeout (a fresh kernel on a loaded machine
            # can take seconds for its first cell).
            outcome = self.execute(reset_code, timeout_s=max(self.config.startup_timeout_s, self.config.cell_timeout_s),
                                   store_history=False)
            if outcome.status == "ok" and outcome.output.stdout.text() == "42\n" and not outcome.is_restarted:
                return
            if attempt == 0:
                self.restart()
        raise KernelStartError(f"the kernel failed its health check after a restart: {outcome.status}")

    def _clear_work_dir(self) -> None:
        """Empty `work/` without following links the sandboxed code may have planted (even in place of `work/`)."""
        if os.path.islink(self.work_dir) or not os.path.isdir(self.work_dir):
            if os.path.islink(self.work_dir) or os.path.isfile(self.work_dir):
                os.unlink(self.work_dir)
            self._process.make_dir("work")
            return
        for entry in os.scandir(self.work_dir):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)

    # -- async views (run on this kernel's I/O thread) ----------------------------------------------------------
    async def aexecute(self, code: str, *, timeout_s: float | None = None) -> ExecOutcome:
        return await asyncio.get_running_loop().run_in_executor(
            self._io, lambda: self.execute(code, timeout_s=timeout_s)
        )

    async def arestart(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._io, self.restart)

    async def areset(self, files: Mapping[str, str | bytes] | None = None, *, seed: int | None = None) -> None:
        await asyncio.get_running_loop().run_in_executor(self._io, lambda: self.reset(files, seed=seed))

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else ("alive" if self.is_alive else "dead")
        return f"SandboxedKernel(uid={self.uid}, starts={self.num_starts}, {state})"


def _seed_code(seed: int | None) -> str:
    """Cell lines seeding the kernel's global generators (numpy only where installed); nothing for no seed."""
    if seed is None:
        return ""
    value = int(seed) % 2**32
    return (f"__import__('random').seed({value})\n"
            "try:\n    import numpy as __np\nexcept ImportError:\n    pass\n"
            f"else:\n    __np.random.seed({value}); del __np\n")


__all__ = ["ExecOutcome", "KernelStartError", "SandboxedKernel"]
