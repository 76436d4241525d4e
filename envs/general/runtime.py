"""`SandboxRuntime`: the `general` env's persistent sandboxed worker, which runs generated tools and verifiers.

The worker program and its client are `agentgym.sandbox.tool_worker` (shared with the synthesis pipeline). The
worker starts once per env instance; each episode gets a fresh copy of the environment's DB in its directory, so
tasks that change the DB start from the same state. A request that outlives `call_timeout_s` kills and restarts it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from agentgym.sandbox import SandboxConfig, SandboxLimits
from agentgym.sandbox.tool_worker import ToolWorker, WorkerFailed

__all__ = ["SandboxRuntime", "WorkerFailed", "default_config"]


def default_config() -> SandboxConfig:
    """No network, read-only host, 512 MiB and 10 CPU-minutes for a worker that lives for many episodes."""
    return SandboxConfig(limits=SandboxLimits(memory_bytes=512 * 1024 * 1024, cpu_time_s=600.0, max_processes=16),
                         python_executable=sys.executable)


class SandboxRuntime(ToolWorker):
    """Runs an environment folder's tools and a task's verifier in a sandboxed worker.

    Args:
        config: sandbox settings (default `default_config()`).
        call_timeout_s: the longest one request may take before the worker is restarted.
    """

    def __init__(self, config: SandboxConfig | None = None, *, call_timeout_s: float = 5.0) -> None:
        if not call_timeout_s > 0:
            raise ValueError(f"call_timeout_s must be positive, got {call_timeout_s!r}")
        super().__init__(config or default_config(), timeout_s=call_timeout_s)
        self._num_episodes = 0

    @property
    def call_timeout_s(self) -> float:
        return self.timeout_s

    def load(self, env_dir: Path, tool_names: list[str], db_bytes: bytes, tools_source: str) -> str:
        """Start an episode on a fresh copy of the environment's DB; returns the DB's content hash."""
        self._num_episodes += 1
        db_name = f"episode-{self._num_episodes}.sqlite"
        self.write_file(db_name, db_bytes)
        answer = self.load_tools(tools_source, tool_names, db=db_name)
        if not answer.get("ok"):
            raise WorkerFailed(f"loading environment {env_dir} failed: {answer.get('error')}")
        return str(answer["db_sha256"])

    def verify(self, source: str, answer: Any) -> tuple[bool, list[str]]:
        """Run the task's verifier on `answer` and the episode's current DB."""
        [(passed, reasons)] = self.verify_answers(source, [answer])
        return passed, reasons
