"""Run a project's test suite in a fresh sandbox (copy of the tree + optional changed files) and read the outcomes.

The pytest command line is the one the code_repair env uses for grading, so the node ids found here are the ones it
will look up.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits
from agentgym.synth.code.junit import parse_outcomes
from agentgym.synth.code.tree import copy_into

JUNIT = ".agentgym-junit.xml"
DEFAULT_TEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Project:
    """A project ready to test: its source tree and prepared venv (both in the cache) and how to run pytest."""

    name: str
    label: str
    tree: Path
    venv: Path
    pythonpath: tuple[str, ...] = ()
    test_args: tuple[str, ...] = ()
    test_env: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEST_ENV))
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SuiteRun:
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    duration_s: float = 0.0
    timed_out: bool = False
    problem: str | None = None

    def passing(self) -> set[str]:
        return {t for t, (o, _) in self.outcomes.items() if o == "passed"}


def pytest_argv(python: str, junit: str, test_args: tuple[str, ...]) -> list[str]:
    """Identical to the env's `test_command` with no targets (the project's configured test paths)."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir=.", f"--junitxml={junit}",
            "-o", "junit_family=xunit1", "-o", "console_output_style=classic", *test_args, "--"]  # fmt: skip


def _run_sync(project: Project, changed: dict[str, str], timeout_s: float) -> SuiteRun:
    python = str(project.venv / "bin" / "python")
    config = SandboxConfig(limits=SandboxLimits(timeout_s=timeout_s, max_processes=128), python_executable=python,
                           ro_binds=(str(project.venv),))  # fmt: skip
    with LocalSandbox(config) as box:
        copy_into(project.tree, box.workdir, uid=box.uid)
        for rel, text in changed.items():
            box.write_file(rel, text)
        env = dict(project.test_env)
        if project.pythonpath:
            env["PYTHONPATH"] = ":".join(posixpath.join(box.workdir, p) for p in project.pythonpath)
        start = time.monotonic()
        result = box.run(pytest_argv(python, JUNIT, project.test_args), env=env)
        run = SuiteRun(duration_s=time.monotonic() - start, timed_out=result.timed_out)
        try:
            xml = box.read_file(JUNIT)
        except (OSError, ValueError):
            xml = b""
        if xml:
            try:
                run.outcomes = parse_outcomes(xml, lambda rel: (project.tree / rel).is_file())
            except ValueError as e:
                run.problem = str(e)
        if result.timed_out:
            run.problem = f"timed out after {timeout_s:g} s"
        elif not xml:
            run.problem = f"no JUnit report: {result.summary()}\n{(result.stdout + result.stderr)[-1500:]}"
        return run


async def run_suite(project: Project, changed: dict[str, str] | None = None, *, timeout_s: float = 300.0) -> SuiteRun:
    """Run the whole suite on the project tree with `changed` files (path -> new text) written over it."""
    return await asyncio.to_thread(_run_sync, project, dict(changed or {}), timeout_s)
