"""`CandidateSandbox`: one persistent sandboxed worker per candidate environment, running all of its checks.

Starting a sandboxed interpreter costs about 0.15 s here; a candidate needs dozens of runs (solutions, verifiers,
non-answers). One worker per candidate answers each request over a Unix socket in about a millisecond, so the whole
check suite of an environment costs one sandbox start. Generated SQL, tools, solutions and verifiers run only there.
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
from agentgym.sandbox.workdir import read_file

WORKER_SOURCE = Path(__file__).with_name("worker_main.py").read_text(encoding="utf-8")
BASE_DB = "base.sqlite"


class SandboxFailed(RuntimeError):
    """The worker died, hung past the timeout, or could not start."""


def default_config() -> SandboxConfig:
    """No network, read-only host, 512 MiB and 2 CPU-minutes for one candidate's checks."""
    return SandboxConfig(limits=SandboxLimits(memory_bytes=512 * 1024 * 1024, cpu_time_s=120.0, max_processes=16),
                         python_executable=sys.executable)


class CandidateSandbox:
    """Builds a candidate environment in a sandbox and runs its tools, solutions and verifiers there.

    Use as a context manager; every method is blocking (call it from a thread in async code).
    """

    def __init__(self, config: SandboxConfig | None = None, *, timeout_s: float = 10.0) -> None:
        self.config = config or default_config()
        self.timeout_s = timeout_s
        self._proc = SandboxedProcess(self.config)
        self._proc.write_file("worker_main.py", WORKER_SOURCE)
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._num_runs = 0

    def __enter__(self) -> CandidateSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._reader.close()
            self._sock.close()
            self._sock = None
        self._proc.close()

    def _connect(self) -> None:
        path = f"{self._proc.workdir}/worker.sock"
        Path(path).unlink(missing_ok=True)
        self._proc.start([self.config.python_executable, "-I", "worker_main.py", "worker.sock"])
        deadline = time.monotonic() + 10.0
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if not self._proc.is_running or time.monotonic() > deadline:
                    raise SandboxFailed(f"sandboxed worker did not start: {self._proc.read_log()[-2000:]}") from None
                time.sleep(0.005)
        sock.settimeout(self.timeout_s)
        self._sock, self._reader = sock, sock.makefile("rb")

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """One request; a hung or dead worker is killed and `SandboxFailed` raised (the candidate is rejected)."""
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        try:
            self._sock.sendall((json.dumps(message) + "\n").encode())
            line = self._reader.readline()
            if not line:
                raise SandboxFailed(f"worker exited: {self._proc.read_log()[-1000:]}")
            answer = json.loads(line)
        except (OSError, ValueError) as e:
            self._sock.close()
            self._sock = None
            self._proc.stop()
            what = f"{type(e).__name__}: {e}"
            raise SandboxFailed(f"request {message.get('op')!r} failed or timed out ({what})") from None
        if not answer.get("ok"):
            raise SandboxFailed(f"request {message.get('op')!r} failed: {answer.get('error')}")
        return answer

    # -- operations ---------------------------------------------------------------------------------------------------
    def build(self, sql: list[str], tools_source: str, tool_names: list[str]) -> str:
        """Create the DB from `sql` and load the tools; returns the DB content hash."""
        self._proc.write_file("tools.py", tools_source)
        digest = self.request({"op": "build", "sql": sql, "db": BASE_DB})["db_sha256"]
        self.request({"op": "load", "tools": "tools.py", "names": tool_names})
        return str(digest)

    def db_bytes(self) -> bytes:
        """The built DB file, to be written into the environment folder."""
        return read_file(self._proc.workdir, BASE_DB)

    def solve(self, source: str, *, use_tools: bool = True) -> tuple[dict[str, Any], str]:
        """Run a solution on a fresh copy of the DB; returns (the worker's report, the name of the final DB file)."""
        self._num_runs += 1
        out = f"run-{self._num_runs}.sqlite"
        report = self.request({"op": "solve", "source": source, "db": BASE_DB, "out": out, "use_tools": use_tools})
        return report, out

    def verify(self, source: str, answers: list[Any], *, db: str = BASE_DB) -> list[tuple[bool, list[str]]]:
        """Run the verifier on each answer, each against a fresh copy of `db`."""
        results = self.request({"op": "verify", "source": source, "answers": answers, "db": db})["results"]
        return [(bool(passed), list(reasons)) for passed, reasons in results]
