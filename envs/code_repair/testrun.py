"""Run pytest inside the sandbox and read its JUnit XML back: the one way this env learns what passes."""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentgym.junit import PASSED, TestOutcome, parse_junit
from agentgym.envs.code_repair.taskdata import RepoTaskData
from agentgym.sandbox import ExecResult, Sandbox

MAX_MESSAGE_CHARS = 300
MAX_LISTED_FAILURES = 20


@dataclass(slots=True)
class TestRun:
    """What one pytest run found: outcomes by node id, plus the process result (for timeouts and crashes)."""

    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    result: ExecResult | None = None
    problem: str | None = None
    """Why there are no outcomes (timeout, collection crash, no XML), or None."""

    def passed(self, node_id: str) -> bool:
        outcome = self.outcomes.get(node_id)
        return outcome is not None and outcome.outcome == PASSED

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out

    def summary(self) -> str:
        """Counts, then the failing tests with their short messages, written for the agent (no durations, so the same
        run reads the same every time)."""
        if self.problem and not self.outcomes:
            tail = (self.result.stdout[-1500:] + self.result.stderr[-1500:]).strip() if self.result else ""
            return f"test run failed: {self.problem}" + (f"\n{tail}" if tail else "")
        counts = self.counts()
        head = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests ran"
        bad = [o for o in self.outcomes.values() if o.outcome in ("failed", "error")]
        lines = [head]
        for o in bad[:MAX_LISTED_FAILURES]:
            message = " ".join(o.message.split())[:MAX_MESSAGE_CHARS]
            lines.append(f"{o.outcome.upper()} {o.node_id}" + (f": {message}" if message else ""))
        if len(bad) > MAX_LISTED_FAILURES:
            lines.append(f"... and {len(bad) - MAX_LISTED_FAILURES} more failing tests")
        return "\n".join(lines)


def test_command(python: str, targets: Sequence[str], junit_path: str, extra: Sequence[str]) -> list[str]:
    """The pytest argv: quiet, no cache writes, node ids relative to the repository root, xunit1 (has `file`)."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir=.", f"--junitxml={junit_path}",
            "-o", "junit_family=xunit1", "-o", "console_output_style=classic", *extra, "--", *targets]  # fmt: skip


def test_environment(data: RepoTaskData, workdir: str) -> dict[str, str]:
    env = dict(data.test_env)
    if data.pythonpath:
        env["PYTHONPATH"] = ":".join(posixpath.join(workdir, p) for p in data.pythonpath)
    if data.venv:
        env["PATH"] = posixpath.join(data.venv, "bin") + ":/usr/local/bin:/usr/bin:/bin"
        env["VIRTUAL_ENV"] = data.venv
    return env


async def run_tests(box: Sandbox, data: RepoTaskData, targets: Sequence[str], *, python: str,
                    is_file: Callable[[str], bool] | None = None, timeout_s: float | None = None) -> TestRun:  # fmt: skip
    """Run pytest on `targets` (node ids or paths; empty: the project's default) and parse the outcomes."""
    junit = f".agentgym-junit-{secrets.token_hex(6)}.xml"
    argv = test_command(python, targets, junit, data.test_args)
    result = await box.arun(argv, timeout_s=timeout_s or data.test_timeout_s, env=test_environment(data, box.workdir))
    run = TestRun(result=result)
    try:
        xml = box.read_file(junit)
    except (OSError, ValueError):
        xml = b""
    await box.arun(["rm", "-f", junit], timeout_s=10)
    if result.timed_out:
        run.problem = f"timed out after {timeout_s or data.test_timeout_s:g} s"
    elif result.error:
        run.problem = result.error
    if xml:
        try:
            run.outcomes = parse_junit(xml, is_file)
        except ValueError as e:
            run.problem = run.problem or str(e)
    elif run.problem is None:
        run.problem = f"pytest wrote no report ({result.summary(timing=False)})"
    return run
