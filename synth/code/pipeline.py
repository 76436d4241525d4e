"""The code-task pipeline: project → validated test env → AST bugs → sandboxed test runs → kept tasks (JSONL).

Stages, each counted in the `Funnel`:
  1. prepare: source tree (sdist or local copy) and a venv with pytest + test deps, both cached;
  2. validate the environment (SWE-smith): run the suite twice; keep the project iff >= 80 % of its tests pass; tests
     whose outcome differs between the two runs are flaky and never used;
  3. candidates: every AST mutation of the project's source files, in a seeded order;
  4. compiled: the mutated file still compiles;
  5. failing: the suite, run on the mutant, finishes in time and >= 1 stable passing test fails;
  6. validated: a second run of the failing tests (or of the whole suite, `recheck_scope="suite"`) fails
     exactly the same tests (not flaky), and the failures are not most of the suite. The gold patch (the revert)
     restores the baseline, where every FAIL_TO_PASS and PASS_TO_PASS test passed twice;
  7. kept: not a duplicate of an earlier bug (hash of the patch's changed lines).

Each worker tests its candidates in one sandbox holding a copy of the tree (`SuiteBox`: write the mutant, run, write
the original back) unless `can_reuse_workdir` is off; the two baseline runs share one copy too, so a suite whose run
changes the outcome of the next run shows up there as unstable tests, which are never used.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.api import Task
from agentgym.errors import AgentGymError
from agentgym.synth.code.project_cache import portable
from agentgym.synth.code.diff import make_diff, patch_sha256
from agentgym.synth.code.issue import IssueWriter, write_issue
from agentgym.synth.code.mutations import OPERATORS, Mutation, find_mutations
from agentgym.synth.code.projects import ProjectSpec
from agentgym.synth.code.source import fetch_project
from agentgym.synth.code.suite import Project, SuiteBox, SuiteRun, run_suite
from agentgym.synth.code.tree import iter_files, tree_sha256
from agentgym.synth.code.venv import prepare_venv
from agentgym.synth.code.ledger import TaskLedger
from agentgym.pyast import parse

GENERATOR = "agentgym.synth.code"
NON_SOURCE_PARTS = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks",
                              "benchmark", "fuzz", "scripts", "tools", "build", "dist"})  # fmt: skip
RECHECK_SCOPES = ("failing", "suite")
MAX_RECHECK_IDS = 64
"""A failing candidate with more failing tests than this is rechecked by test file, not by node id."""
MIN_TASK_TIMEOUT_S = 30.0
"""Floor of a kept task's `test_timeout_s`: grading runs in a fresh (cold) copy, and a fast synthesis timeout
(`min_timeout_s`) should not make the env's grading brittle on a slower machine."""


class SynthError(AgentGymError, RuntimeError):
    """The pipeline cannot work on this project (e.g. too few of its tests pass in the prepared venv)."""


@dataclass(kw_only=True, slots=True)
class SynthConfig:
    """One pipeline run.

    Attributes:
        project: the source project.
        out: the JSONL task file (rewritten from the state store beside it, `<out>.state.jsonl`, which records every
            candidate's fate and makes the run resumable).
        n: tasks to keep from this project (counting those already in `out`).
        seed: orders the candidates.
        num_workers: candidates tested at once (each in its own sandbox).
        max_candidates: stop after testing this many candidates (default 20 * n).
        min_pass_rate: environment validation threshold (fraction of tests passing).
        max_fail_fraction: drop a bug that fails more than this fraction of the passing tests.
        timeout_factor: a candidate's run may take this many times the baseline run (at least `min_timeout_s`).
        min_timeout_s: the shortest per-run timeout, whatever the baseline took.
        recheck_scope: what the second run of a failing candidate runs: "failing" (its failing tests only; the
            baseline already ran every test twice) or "suite" (everything again).
        can_reuse_workdir: run each worker's candidates in one copy of the tree (reverted after each run) instead
            of a fresh sandbox and copy per run.
        operators: the mutation operators to use.
        show_progress: draw a progress bar on stderr.
        issue_writer: optional `str -> str` (sync or async; `issue.policy_writer(policy)` for an LLM policy) that
            rewrites the template issue text; a reply that quotes the patch is rejected (template used).
    """

    project: ProjectSpec
    out: Path
    n: int = 50
    seed: int = 0
    num_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    max_candidates: int | None = None
    min_pass_rate: float = 0.8
    max_fail_fraction: float = 0.5
    timeout_factor: float = 4.0
    min_timeout_s: float = 30.0
    recheck_scope: str = "failing"
    can_reuse_workdir: bool = True
    operators: tuple[str, ...] = OPERATORS
    show_progress: bool = False
    issue_writer: IssueWriter | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.project, ProjectSpec):
            raise ValueError(f"project must be a ProjectSpec, got {type(self.project).__name__}")
        self.out = Path(self.out)
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if not isinstance(self.num_workers, int) or self.num_workers < 1:
            raise ValueError(f"num_workers must be a positive integer, got {self.num_workers!r}")
        if self.max_candidates is not None and (not isinstance(self.max_candidates, int) or self.max_candidates < 1):
            raise ValueError(f"max_candidates must be a positive integer or None, got {self.max_candidates!r}")
        for name in ("min_pass_rate", "max_fail_fraction"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if not isinstance(self.timeout_factor, (int, float)) or self.timeout_factor < 1:
            raise ValueError(f"timeout_factor must be >= 1, got {self.timeout_factor!r}")
        if not isinstance(self.min_timeout_s, (int, float)) or self.min_timeout_s <= 0:
            raise ValueError(f"min_timeout_s must be a positive number, got {self.min_timeout_s!r}")
        if self.recheck_scope not in RECHECK_SCOPES:
            raise ValueError(f"recheck_scope must be one of {RECHECK_SCOPES}, got {self.recheck_scope!r}")
        unknown = set(self.operators) - set(OPERATORS)
        if unknown or not self.operators:
            raise ValueError(f"operators must be a non-empty subset of {OPERATORS}, got {self.operators!r}")


@dataclass(slots=True)
class Funnel:
    """How many candidates survived each stage (plus why the others did not)."""

    project: str = ""
    num_tests: int = 0
    pass_rate: float = 0.0
    candidates: int = 0
    compiled: int = 0
    failing: int = 0
    validated: int = 0
    kept: int = 0
    resumed: int = 0
    timeouts: int = 0
    flaky: int = 0
    too_broad: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        head = f"{self.project}: {self.num_tests} tests, {self.pass_rate:.0%} pass"
        flow = (f"candidates {self.candidates} → compiled {self.compiled} → failing tests {self.failing} → "
                f"validated {self.validated} → kept {self.kept}")  # fmt: skip
        dropped = (f"dropped: {self.timeouts} timeouts, {self.flaky} flaky, {self.too_broad} too broad, "
                   f"{self.duplicates} duplicates; {self.resumed} skipped as already done; {self.seconds:.1f} s")  # fmt: skip
        return "\n".join([head, flow, dropped])


def is_source_file(rel: str) -> bool:
    """A project file that bugs may be injected into: Python, not a test, doc, example or build script."""
    parts = rel.split("/")
    name = parts[-1]
    if not name.endswith(".py") or any(p in NON_SOURCE_PARTS for p in parts[:-1]):
        return False
    return not (name.startswith("test_") or name.endswith("_test.py") or name in
                ("conftest.py", "setup.py", "noxfile.py", "_version.py", "tests.py"))  # fmt: skip


def prepare_project(spec: ProjectSpec) -> Project:
    """Fetch the source and build the venv (both cached)."""
    tree, provenance = fetch_project(spec)
    venv = prepare_venv(spec.test_deps)
    pythonpath = spec.pythonpath if spec.pythonpath is not None else (("src",) if (tree / "src").is_dir() else ())
    return Project(name=spec.name, label=spec.label, tree=tree, venv=venv, pythonpath=tuple(pythonpath),
                   test_args=tuple(spec.test_args), provenance=provenance)  # fmt: skip


def candidate_mutations(project: Project, config: SynthConfig) -> list[Mutation]:
    """Every mutation of the project's source files, seeded shuffle, capped at `max_candidates`."""
    found: list[Mutation] = []
    for rel in iter_files(project.tree):
        if is_source_file(rel):
            text = (project.tree / rel).read_text(encoding="utf-8", errors="replace")
            found.extend(m for m in find_mutations(rel, text) if m.operator in config.operators)
    random.Random(f"{GENERATOR}-{project.label}-{config.seed}").shuffle(found)
    limit = config.max_candidates if config.max_candidates is not None else 20 * config.n
    return found[:limit]


def mutation_key(m: Mutation) -> str:
    return f"{m.path}:{m.start}:{m.end}:{m.operator}:{m.replacement}"


class _Run:
    """The state of one pipeline run over one project."""

    def __init__(self, config: SynthConfig, project: Project, store: TaskLedger, funnel: Funnel) -> None:
        self.config, self.project, self.store, self.funnel = config, project, store, funnel
        self.stable: set[str] = set()
        self.timeout_s = config.min_timeout_s
        self.repo_sha256 = ""
        self.sources: dict[str, str] = {}

    async def baseline(self, box: SuiteBox | None = None) -> None:
        """Run the suite twice (in `box` when given, else each in a fresh copy); the tests passing both times are
        the stable ones. Tests collected from source files (doctests) are left out: the env resets test files
        before grading, which would undo a fix in such a file."""
        first = await run_suite(self.project, timeout_s=600, box=box)
        second = await run_suite(self.project, timeout_s=600, box=box)
        if not first.outcomes:
            raise SynthError(f"{self.project.label}: the test suite did not run: {first.problem}")
        self.stable = {t for t in first.passing() & second.passing() if not is_source_file(t.split("::", 1)[0])}
        counted = [t for t, (o, _) in first.outcomes.items() if o != "skipped"]
        self.funnel.num_tests = len(counted)
        self.funnel.pass_rate = len(self.stable) / max(1, len(counted))
        if self.funnel.pass_rate < self.config.min_pass_rate:
            raise SynthError(f"{self.project.label}: only {self.funnel.pass_rate:.0%} of {len(counted)} tests pass "
                             f"(need {self.config.min_pass_rate:.0%}); check its test dependencies")  # fmt: skip
        self.timeout_s = max(self.config.min_timeout_s, self.config.timeout_factor * max(first.duration_s,
                                                                                        second.duration_s))  # fmt: skip
        self.repo_sha256 = tree_sha256(self.project.tree)

    def source(self, rel: str) -> str:
        if rel not in self.sources:
            self.sources[rel] = (self.project.tree / rel).read_text(encoding="utf-8", errors="replace")
        return self.sources[rel]

    async def judge(self, m: Mutation, box: SuiteBox | None = None) -> Task | None:
        """Test one candidate (in `box` when given, else in fresh copies); returns its task when kept. Records the
        decision in the state file."""
        key = mutation_key(m)
        original = self.source(m.path)
        mutated = m.apply(original)
        try:
            parse(mutated, m.path)
        except (SyntaxError, ValueError):
            self.store.add_state(key, "does_not_compile")
            return None
        self.funnel.compiled += 1
        run = await run_suite(self.project, {m.path: mutated}, timeout_s=self.timeout_s, box=box)
        if run.timed_out:
            self.funnel.timeouts += 1
            self.store.add_state(key, "timeout")
            return None
        f2p = self._newly_failing(run)
        if not f2p:
            self.store.add_state(key, "no_failing_test")
            return None
        self.funnel.failing += 1
        if len(f2p) > self.config.max_fail_fraction * len(self.stable):
            self.funnel.too_broad += 1
            self.store.add_state(key, "too_broad", num_failing=len(f2p))
            return None
        again = await self._recheck(m.path, mutated, f2p, box)
        if again.timed_out or self._newly_failing(again) != f2p:
            self.funnel.flaky += 1
            self.store.add_state(key, "flaky")
            return None
        self.funnel.validated += 1
        bug_patch = make_diff(m.path, original, mutated)
        digest = patch_sha256(bug_patch)
        if digest in self.store.patch_hashes:
            self.funnel.duplicates += 1
            self.store.add_state(key, "duplicate", patch_sha256=digest)
            return None
        if self.store.num_kept(self.project.label) >= self.config.n:
            return None  # another worker filled the quota; left undecided so that a larger run can use it
        task = await self._task(m, original, mutated, bug_patch, digest, f2p, run)
        # The issue writer may await (an LLM): another worker can have kept the same bug or filled the quota since.
        if digest in self.store.patch_hashes:
            self.funnel.duplicates += 1
            self.store.add_state(key, "duplicate", patch_sha256=digest)
            return None
        if self.store.num_kept(self.project.label) >= self.config.n:
            return None
        self.store.keep(key, task)
        self.funnel.kept += 1
        return task

    async def _recheck(self, path: str, mutated: str, f2p: list[str], box: SuiteBox | None) -> SuiteRun:
        """The second run of a failing candidate: the whole suite, or (scope "failing") the failing tests by node id,
        falling back to their files when pytest did not find every id (ids with odd characters)."""
        if self.config.recheck_scope == "suite":
            return await run_suite(self.project, {path: mutated}, timeout_s=self.timeout_s, box=box)
        if len(f2p) <= MAX_RECHECK_IDS and not any(c.isspace() for t in f2p for c in t):
            run = await run_suite(self.project, {path: mutated}, timeout_s=self.timeout_s, box=box, targets=f2p)
            if run.timed_out or all(t in run.outcomes for t in f2p):
                return run
        files = sorted({t.split("::", 1)[0] for t in f2p})
        return await run_suite(self.project, {path: mutated}, timeout_s=self.timeout_s, box=box, targets=files)

    def _newly_failing(self, run: SuiteRun) -> list[str]:
        """Stable tests reported as failed or errored. A stable test that is merely absent is not counted: some
        suites build parametrize ids from set order (isodate hashes None by address), so ids can drift."""
        return sorted(t for t in self.stable if run.outcomes.get(t, ("missing", ""))[0] in ("failed", "error"))

    async def _task(self, m: Mutation, original: str, mutated: str, bug_patch: str, digest: str, f2p: list[str],
                    run: SuiteRun) -> Task:  # fmt: skip
        failures = {t: run.outcomes.get(t, ("failed", "the test did not run (collection error)"))[1] for t in f2p}
        prompt, issue_source = await write_issue(self.project.name, failures, bug_patch, self.config.issue_writer)
        p = self.project
        return Task(
            id=f"{p.name}-{digest[:12]}",
            env="code_repair",
            prompt=prompt,
            data={
                "repo": portable(p.tree), "repo_sha256": self.repo_sha256, "bug_patch": bug_patch,
                "gold_patch": make_diff(m.path, mutated, original), "fail_to_pass": f2p,
                "pass_to_pass": sorted(self.stable - set(f2p)), "venv": portable(p.venv),
                "pythonpath": list(p.pythonpath), "test_args": list(p.test_args), "test_env": dict(p.test_env),
                "test_timeout_s": round(max(self.timeout_s, MIN_TASK_TIMEOUT_S), 1),
            },  # fmt: skip
            meta={
                "generator": GENERATOR, "project": p.label, **p.provenance, "operator": m.operator,
                "file": m.path, "line": m.line, "patch_sha256": digest, "seed": self.config.seed,
                "issue_source": issue_source, "num_tests": self.funnel.num_tests,
            },  # fmt: skip
        )


async def synthesize_async(config: SynthConfig, *, progress: Callable[[Funnel], None] | None = None) -> Funnel:
    """Run the pipeline; see `synthesize`."""
    started = time.monotonic()
    funnel = Funnel(project=config.project.label)
    project = await asyncio.to_thread(prepare_project, config.project)
    store = TaskLedger(config.out)
    run = _Run(config, project, store, funnel)
    num_boxes = config.num_workers if config.can_reuse_workdir else 0
    boxes: list[SuiteBox] = []
    try:
        for _ in range(num_boxes):
            boxes.append(await asyncio.to_thread(SuiteBox, project))
        await run.baseline(boxes[0] if boxes else None)
        pending = []
        for m in candidate_mutations(project, config):
            if store.is_decided(mutation_key(m)):
                funnel.resumed += 1
            else:
                pending.append(m)
        queue: asyncio.Queue[Mutation] = asyncio.Queue()
        for m in pending:
            queue.put_nowait(m)

        async def worker(box: SuiteBox | None) -> None:
            while store.num_kept(project.label) < config.n:
                try:
                    m = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                funnel.candidates += 1
                await run.judge(m, box)
                if progress is not None:
                    progress(funnel)

        if store.num_kept(project.label) < config.n:
            await asyncio.gather(*(worker(boxes[i] if boxes else None) for i in range(config.num_workers)))
    finally:
        for box in boxes:
            await asyncio.to_thread(box.close)
    funnel.seconds = time.monotonic() - started
    return funnel


def synthesize(config: SynthConfig, *, progress: Callable[[Funnel], None] | None = None) -> Funnel:
    """Keep up to `config.n` validated tasks of `config.project` in `config.out`; returns the funnel.

    Resumable: candidates recorded in the state file are skipped, and tasks already in `out` count toward `n`.

    Raises:
        SynthError: the project fails environment validation.
        SourceError: the sdist could not be downloaded or the venv not built.
    """
    return asyncio.run(synthesize_async(config, progress=progress))
