"""`SandboxRuntime`: one persistent sandboxed worker per env instance that runs generated tools and verifiers.

Why persistent: starting a sandboxed interpreter costs about 0.15 s here, more than a tool call may take. The worker
(`worker_main.py`) starts once per env instance and then answers each request over a Unix socket in its working
directory in about a millisecond. Each episode gets a fresh copy of the environment's DB in that directory, so tasks
that change the DB start from the same state. A request that outlives `call_timeout_s` kills and restarts the worker.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

from agentgym.sandbox import SandboxConfig, SandboxLimits
from agentgym.sandbox.spawn import SandboxedProcess

WORKER_SOURCE = (Path(__file__).with_name("worker_main.py")).read_text(encoding="utf-8")
SOCKET_NAME = "worker.sock"


class WorkerFailed(RuntimeError):
    """The sandboxed worker died, timed out or answered garbage (an env error, never the agent's fault)."""


def default_config() -> SandboxConfig:
    """No network, read-only host, 512 MiB and 10 CPU-minutes for a worker that lives for many episodes."""
    return SandboxConfig(limits=SandboxLimits(memory_bytes=512 * 1024 * 1024, cpu_time_s=600.0, max_processes=16),
                         python_executable=sys.executable)


class SandboxRuntime:
    """Runs an environment folder's tools and a task's verifier in a sandboxed worker.

    Args:
        config: sandbox settings (default `default_config()`).
        call_timeout_s: the longest one request may take before the worker is restarted.
    """

    def __init__(self, config: SandboxConfig | None = None, *, call_timeout_s: float = 5.0) -> None:
        if not call_timeout_s > 0:
            raise ValueError(f"call_timeout_s must be positive, got {call_timeout_s!r}")
        self.config = config or default_config()
        self.call_timeout_s = call_timeout_s
        self._proc: SandboxedProcess | None = None
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._num_episodes = 0
        self._last_load: dict[str, Any] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    @property
    def is_alive(self) -> bool:
        """The worker is running and connected (a pool's health check)."""
        return self._proc is not None and self._sock is not None and self._proc.is_running

    def start(self) -> None:
        """Start the worker now instead of at the first request (warm pools)."""
        if self._sock is None:
            self._start()

    def _start(self) -> None:
        if self._proc is None:
            self._proc = SandboxedProcess(self.config)
            self._proc.write_file("worker_main.py", WORKER_SOURCE)
        proc = self._proc
        path = f"{proc.workdir}/{SOCKET_NAME}"
        Path(path).unlink(missing_ok=True)
        proc.start([self.config.python_executable, "-I", "worker_main.py", SOCKET_NAME])
        deadline = time.monotonic() + 10.0
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if not proc.is_running or time.monotonic() > deadline:
                    raise WorkerFailed(f"the sandboxed worker did not start: {proc.read_log()[-2000:]}") from None
                time.sleep(0.005)
        sock.settimeout(self.call_timeout_s)
        self._sock, self._reader = sock, sock.makefile("rb")

    def _stop(self) -> None:
        if self._sock is not None:
            self._reader.close()
            self._sock.close()
            self._sock = self._reader = None
        if self._proc is not None:
            self._proc.stop()

    def close(self) -> None:
        """Kill the worker and delete its directory. Idempotent."""
        self._stop()
        if self._proc is not None:
            self._proc.close()
            self._proc = None

    # -- requests -----------------------------------------------------------------------------------------------------
    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the worker's answer; restarts a dead or hung worker and raises WorkerFailed."""
        if self._sock is None:
            self._start()
            if self._last_load is not None and message.get("op") != "load":
                self._request(self._last_load)
        try:
            return self._request(message)
        except (OSError, ValueError, WorkerFailed) as e:
            log = self._proc.read_log()[-1000:] if self._proc is not None else ""
            self._stop()
            what = "timed out" if isinstance(e, TimeoutError) else f"failed ({type(e).__name__}: {e})"
            raise WorkerFailed(f"request {message.get('op')!r} {what} after <= {self.call_timeout_s:g} s; "
                               f"the worker was restarted. {log}".strip()) from None

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._sock is not None
        self._sock.sendall((json.dumps(message) + "\n").encode())
        line = self._reader.readline()
        if not line:
            raise WorkerFailed("the worker closed the connection")
        return json.loads(line)

    def load(self, env_dir: Path, tool_names: list[str], db_bytes: bytes, tools_source: str) -> str:
        """Start an episode on a fresh copy of the environment's DB; returns the DB's content hash."""
        if self._proc is None:
            self._start()
        assert self._proc is not None
        self._num_episodes += 1
        db_name = f"episode-{self._num_episodes}.sqlite"
        self._proc.write_file(db_name, db_bytes)
        self._proc.write_file("tools.py", tools_source)
        self._last_load = {"op": "load", "tools": "tools.py", "db": db_name, "names": tool_names}
        answer = self.request(self._last_load)
        if not answer.get("ok"):
            raise WorkerFailed(f"loading environment {env_dir} failed: {answer.get('error')}")
        return str(answer["db_sha256"])

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run one tool; ``{"ok": True, "result": ...}`` or ``{"ok": False, "error": ..., "kind": ...}``."""
        return self.request({"op": "call", "name": name, "arguments": arguments})

    def verify(self, source: str, answer: Any) -> tuple[bool, list[str]]:
        """Run the task's verifier on `answer` and the episode's current DB."""
        out = self.request({"op": "verify", "source": source, "answer": answer})
        if not out.get("ok"):
            raise WorkerFailed(f"verifier could not run: {out.get('error')}")
        return bool(out["passed"]), [str(r) for r in out.get("reasons", [])]
