"""`CandidateSandbox`: one persistent sandboxed worker per candidate environment, running all of its checks.

A candidate needs dozens of runs (solutions, verifiers, non-answers); one worker (`agentgym.sandbox.tool_worker`,
shared with the `general` env) answers each in about a millisecond, so the whole check suite of an environment costs
one sandbox start. Generated SQL, tools, solutions and verifiers run only there.
"""

from __future__ import annotations

import sys
from typing import Any

from agentgym.sandbox import SandboxConfig, SandboxLimits
from agentgym.sandbox.tool_worker import ToolWorker, WorkerFailed

__all__ = ["BASE_DB", "CandidateSandbox", "WorkerFailed", "default_config"]

BASE_DB = "base.sqlite"


def default_config() -> SandboxConfig:
    """No network, read-only host, 512 MiB and 2 CPU-minutes for one candidate's checks."""
    return SandboxConfig(limits=SandboxLimits(memory_bytes=512 * 1024 * 1024, cpu_time_s=120.0, max_processes=16),
                         python_executable=sys.executable)


class CandidateSandbox(ToolWorker):
    """Builds a candidate environment in a sandbox and runs its tools, solutions and verifiers there.

    Use as a context manager; every method is blocking (call it from a thread in async code). A failed request
    raises `WorkerFailed` (the candidate is rejected).
    """

    def __init__(self, config: SandboxConfig | None = None, *, timeout_s: float = 10.0) -> None:
        super().__init__(config or default_config(), timeout_s=timeout_s)
        self._num_runs = 0

    def build(self, sql: list[str], tools_source: str, tool_names: list[str]) -> str:
        """Create the DB from `sql` and load the tools; returns the DB content hash."""
        digest = self.build_db(sql, BASE_DB)
        answer = self.load_tools(tools_source, tool_names)
        if not answer.get("ok"):
            raise WorkerFailed(f"request 'load' failed: {answer.get('error')}")
        return digest

    def db_bytes(self) -> bytes:
        """The built DB file, to be written into the environment folder."""
        return self.read_file(BASE_DB)

    def solve(self, source: str, *, use_tools: bool = True) -> tuple[dict[str, Any], str]:  # type: ignore[override]
        """Run a solution on a fresh copy of the DB; returns (the worker's report, the name of the final DB file)."""
        self._num_runs += 1
        out = f"run-{self._num_runs}.sqlite"
        return super().solve(source, db=BASE_DB, out=out, use_tools=use_tools), out

    def verify(self, source: str, answers: list[Any], *, db: str = BASE_DB) -> list[tuple[bool, list[str]]]:
        """Run the verifier on each answer, each against a fresh copy of `db`."""
        return self.verify_answers(source, answers, db=db)
