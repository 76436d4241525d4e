"""`ToolWorker`: the host side of one persistent sandboxed worker (`tool_worker_main.py`) that runs generated code.

Why persistent: starting a sandboxed interpreter costs about 0.15 s here, more than a tool call may take. The worker
starts once (per `general` env instance, or per candidate environment in the synthesis pipeline) and then answers
each request over a Unix socket in its working directory in about a millisecond. Generated SQL, tools, solutions
and verifiers run only there. A request that outlives `timeout_s` kills the worker; the next request restarts it
(replaying the last "load" first), so a hung tool costs one request, never the caller.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.spawn import SandboxedProcess
from agentgym.sandbox.workdir import read_file

WORKER_FILE = "tool_worker_main.py"
WORKER_SOURCE = Path(__file__).with_name(WORKER_FILE).read_text(encoding="utf-8")
SOCKET_NAME = "worker.sock"
MAX_START_S = 10.0


class WorkerFailed(RuntimeError):
    """The sandboxed worker died, timed out or answered garbage (an env error, never the agent's fault)."""


class ToolWorker:
    """One sandboxed worker process and its socket; every method blocks (call it from a thread in async code).

    Args:
        config: sandbox settings for the worker (its limits, its Python).
        timeout_s: the longest one request may take before the worker is killed.
    """

    def __init__(self, config: SandboxConfig, *, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.config = config
        self.timeout_s = timeout_s
        self._proc: SandboxedProcess | None = None
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._last_load: dict[str, Any] | None = None

    def __enter__(self) -> ToolWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    @property
    def is_alive(self) -> bool:
        """The worker is running and connected (a pool's health check)."""
        return self._proc is not None and self._sock is not None and self._proc.is_running

    def start(self) -> None:
        """Start the worker now instead of at the first request (warm pools)."""
        if self._sock is None:
            self._start()

    def _workdir_process(self) -> SandboxedProcess:
        if self._proc is None:
            self._proc = SandboxedProcess(self.config)
            self._proc.write_file(WORKER_FILE, WORKER_SOURCE)
        return self._proc

    def _start(self) -> None:
        proc = self._workdir_process()
        path = f"{proc.workdir}/{SOCKET_NAME}"
        Path(path).unlink(missing_ok=True)
        proc.start([self.config.python_executable, "-I", WORKER_FILE, SOCKET_NAME])
        deadline = time.monotonic() + MAX_START_S
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
        sock.settimeout(self.timeout_s)
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

    # -- files --------------------------------------------------------------------------------------------------------
    def write_file(self, name: str, data: bytes | str) -> None:
        """Put a file into the worker's directory (tools.py, a DB copy)."""
        self._workdir_process().write_file(name, data)

    def read_file(self, name: str) -> bytes:
        """A file from the worker's directory (a DB it built)."""
        return read_file(self._workdir_process().workdir, name)

    # -- requests -----------------------------------------------------------------------------------------------------
    def request(self, message: dict[str, Any], *, check: bool = False) -> dict[str, Any]:
        """Send one request and return the worker's answer (with `check`, an answer that is not ok raises).

        Restarts a dead worker first; a failed or hung request stops the worker and raises WorkerFailed.
        """
        if self._sock is None:
            self._start()
            if self._last_load is not None and message.get("op") != "load":
                self._request(self._last_load)
        try:
            answer = self._request(message)
        except (OSError, ValueError, WorkerFailed) as e:
            log = self._proc.read_log()[-1000:] if self._proc is not None else ""
            self._stop()
            what = "timed out" if isinstance(e, TimeoutError) else f"failed ({type(e).__name__}: {e})"
            raise WorkerFailed(f"request {message.get('op')!r} {what} after <= {self.timeout_s:g} s; "
                               f"the worker was restarted. {log}".strip()) from None
        if check and not answer.get("ok"):
            raise WorkerFailed(f"request {message.get('op')!r} failed: {answer.get('error')}")
        return answer

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._sock is not None
        self._sock.sendall((json.dumps(message) + "\n").encode())
        line = self._reader.readline()
        if not line:
            raise WorkerFailed("the worker closed the connection")
        return json.loads(line)

    # -- operations (see tool_worker_main.py for each request) --------------------------------------------------------
    def build_db(self, sql: list[str], db: str) -> str:
        """Create DB file `db` from SQL statements; returns its content hash."""
        return str(self.request({"op": "build", "sql": sql, "db": db}, check=True)["db_sha256"])

    def load_tools(self, tools_source: str, names: list[str], *, db: str | None = None) -> dict[str, Any]:
        """Load tools.py (and with `db`, open that file as the episode's DB); returns the worker's answer."""
        self.write_file("tools.py", tools_source)
        self._last_load = {"op": "load", "tools": "tools.py", "names": names, "db": db}
        return self.request(self._last_load)

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run one tool on the episode's DB; ``{"ok": True, "result": ...}`` or ``{"ok": False, "error", "kind"}``."""
        return self.request({"op": "call", "name": name, "arguments": arguments})

    def solve(self, source: str, *, db: str, out: str, use_tools: bool = True) -> dict[str, Any]:
        """Run ``solution(tools)`` on a copy of `db` named `out`; returns the worker's report."""
        return self.request({"op": "solve", "source": source, "db": db, "out": out, "use_tools": use_tools},
                            check=True)

    def verify_answers(self, source: str, answers: list[Any], *, db: str | None = None
                       ) -> list[tuple[bool, list[str]]]:
        """Run the verifier on each answer: on a fresh copy of `db` each, or on the episode's DB without it."""
        message = {"op": "verify", "source": source, "answers": answers, "db": db}
        results = self.request(message, check=True)["results"]
        return [(bool(passed), [str(r) for r in reasons]) for passed, reasons in results]
