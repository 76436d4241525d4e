"""Run a project's test suite in a sandbox holding a copy of its tree (with some files changed) and read the outcomes.

The pytest command line is the one the code_repair env uses for grading, so the node ids found here are the ones it
will look up.

A `SuiteBox` copies the tree into one sandbox once and then serves many runs: each run writes its changed files, runs
pytest, and writes the originals back, which saves a sandbox and a tree copy per run. Sandboxes do not write bytecode
(`PYTHONDONTWRITEBYTECODE`); for a project whose `test_env` turns that back on, every changed file gets an mtime never
used before for that path (the original gets its own back), so Python never takes the `.pyc` of one variant for
another: a pyc is trusted on (mtime, size) alone, and a mutant often has the original's size.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits
from agentgym.junit import parse_junit
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


def pytest_argv(python: str, junit: str, test_args: tuple[str, ...], targets: Sequence[str] = ()) -> list[str]:
    """Identical to the env's `test_command` (no targets: the project's configured test paths)."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir=.", f"--junitxml={junit}",
            "-o", "junit_family=xunit1", "-o", "console_output_style=classic", *test_args, "--", *targets]  # fmt: skip


class SuiteBox:
    """One sandbox holding a copy of the project tree, reused for many suite runs (see the module docstring).

    Not thread-safe: one run at a time (the pipeline gives each worker its own box).
    """

    def __init__(self, project: Project, *, timeout_s: float = 300.0) -> None:
        self.project = project
        self.python = str(project.venv / "bin" / "python")
        config = SandboxConfig(limits=SandboxLimits(timeout_s=timeout_s, max_processes=128),
                               python_executable=self.python, ro_binds=(str(project.venv),))  # fmt: skip
        self.box = LocalSandbox(config)
        self._num_writes = 0
        try:
            copy_into(project.tree, self.box.workdir, uid=self.box.uid)
        except BaseException:
            self.box.close()
            raise

    def _write(self, rel: str, data: str | bytes, mtime_ns: int) -> None:
        host_path = self.box.write_file(rel, data)
        os.utime(host_path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def run(self, changed: dict[str, str] | None = None, *, timeout_s: float = 300.0,
            targets: Sequence[str] = ()) -> SuiteRun:  # fmt: skip
        """Run pytest on `targets` (default: the configured test paths) with `changed` (path -> text) written over
        the tree; the tree is back to the original afterwards."""
        changed = dict(changed or {})
        originals = {rel: (self.project.tree / rel) for rel in changed}
        for rel, text in changed.items():
            self._num_writes += 1
            base = originals[rel].stat().st_mtime_ns if originals[rel].is_file() else time.time_ns()
            self._write(rel, text, base + self._num_writes * 1_000_000_000)
        try:
            return self._run_pytest(timeout_s, targets)
        finally:
            for rel, source in originals.items():
                if source.is_file():
                    self._write(rel, source.read_bytes(), source.stat().st_mtime_ns)
                else:
                    self.box.run(["rm", "-f", "--", rel], timeout_s=10)

    def _run_pytest(self, timeout_s: float, targets: Sequence[str]) -> SuiteRun:
        project, box = self.project, self.box
        env = dict(project.test_env)
        if project.pythonpath:
            env["PYTHONPATH"] = ":".join(posixpath.join(box.workdir, p) for p in project.pythonpath)
        start = time.monotonic()
        result = box.run(pytest_argv(self.python, JUNIT, project.test_args, targets), timeout_s=timeout_s, env=env)
        run = SuiteRun(duration_s=time.monotonic() - start, timed_out=result.timed_out)
        try:
            xml = box.read_file(JUNIT)
        except (OSError, ValueError):
            xml = b""
        box.run(["rm", "-f", "--", JUNIT], timeout_s=10)
        if xml:
            try:
                run.outcomes = {nid: (t.outcome, t.message) for nid, t in
                                parse_junit(xml, lambda rel: (project.tree / rel).is_file()).items()}
            except ValueError as e:
                run.problem = str(e)
        if result.timed_out:
            run.problem = f"timed out after {timeout_s:g} s"
        elif not xml:
            run.problem = f"no JUnit report: {result.summary()}\n{(result.stdout + result.stderr)[-1500:]}"
        return run

    def close(self) -> None:
        self.box.close()

    def __enter__(self) -> SuiteBox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _run_fresh(project: Project, changed: dict[str, str], timeout_s: float, targets: Sequence[str]) -> SuiteRun:
    with SuiteBox(project, timeout_s=timeout_s) as box:
        return box.run(changed, timeout_s=timeout_s, targets=targets)


async def run_suite(project: Project, changed: dict[str, str] | None = None, *, timeout_s: float = 300.0,
                    box: SuiteBox | None = None, targets: Sequence[str] = ()) -> SuiteRun:  # fmt: skip
    """Run the suite (or `targets`) on the project tree with `changed` files written over it, in `box` when given,
    else in a fresh sandbox of its own."""
    if box is not None:
        return await asyncio.to_thread(box.run, dict(changed or {}), timeout_s=timeout_s, targets=tuple(targets))
    return await asyncio.to_thread(_run_fresh, project, dict(changed or {}), timeout_s, tuple(targets))
