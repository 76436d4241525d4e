"""`BuilderEnv`: the environment-building agent's own env. Its tools act on a sandboxed work folder; `check` runs the
staged audit and the shared checks; the episode ends at `finish` (or when the repair budget of a level is spent).

The agent plays it through the ordinary agent loop (`agentgym.rollout.run_episode`), so any chat policy can build:
``openai:MODEL@URL``, a vLLM server, ``engine:MODEL``. What the episode produced is `env.result` (a `BuildResult`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from agentgym.synth.general.builder.audit import sources_of
from agentgym.synth.general.builder.checking import BuildChecker, CheckOutcome
from agentgym.synth.general.builder.corpus import Corpus
from agentgym.synth.general.builder.prompts import SYSTEM
from agentgym.synth.general.builder.workspace import Workspace
from agentgym.synth.general.drafts import EnvDraft, TaskDraft

from agentgym.api import Task, Verdict
from agentgym.toolenv import ToolEnv, ToolError, tool

STAGES = ("data", "tools", "task", "consistent", "escalated", "checks", "dedup", "stored")
"""The build stages in order; a failed build names the stage it failed at."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuilderConfig:
    """Budgets of one build.

    Attributes:
        max_turns: assistant turns before the build is rejected as not converging.
        max_level: the highest escalation level (0: the first task only).
        max_repairs: failed checks allowed per level before the build is rejected.
        workspace: sandbox settings of the work folder (None: `workspace.default_config()`).
        check_sandbox: sandbox settings of the check worker (None: the pipeline's default).
    """

    max_turns: int = 40
    max_level: int = 2
    max_repairs: int = 3
    workspace: Any = None
    check_sandbox: Any = None

    def __post_init__(self) -> None:
        for name in ("max_turns", "max_level", "max_repairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "max_turns" else 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'max_turns' else 'non-negative'} "
                                 f"integer, got {value!r}")


@dataclass(slots=True)
class BuildResult:
    """What one build produced: either an environment with its checked levels, or the stage it failed at and why."""

    is_built: bool = False
    failed_stage: str | None = None
    reason: str | None = None
    env: EnvDraft | None = None
    levels: list[TaskDraft] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    db_bytes: bytes = b""
    db_sha256: str = ""
    sources: dict[str, int] = field(default_factory=dict)
    num_checks: int = 0
    num_repairs: int = 0


class BuilderEnv(ToolEnv):
    """One build of one category; make a new env per build (it owns a work folder and a check worker)."""

    name = "builder"
    system_prompt = SYSTEM

    def __init__(self, corpus: Corpus, category: str, config: BuilderConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or BuilderConfig()
        super().__init__(max_turns=self.config.max_turns)
        self.corpus, self.category = corpus, category
        self.workspace = Workspace(self.config.workspace)
        self.checker = BuildChecker(category, set(corpus.ids), sandbox=self.config.check_sandbox, seed=seed)
        self.levels: list[TaskDraft] = []
        self.answers: list[Any] = []
        self.level_tools: list[str] = []
        self.stage = "data"
        self.last_problems: list[str] = []
        self.failures_at_level = 0
        self.result = BuildResult()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.checker.close)
        await asyncio.to_thread(self.workspace.close)

    # --- the agent's tools --------------------------------------------------------------------------------------
    @tool("Run a bash command in the work folder (sandboxed: no network, 20 s).", command={"type": "string"})
    async def bash(self, command: str) -> str:
        return await asyncio.to_thread(self.workspace.bash, command)

    @tool("Run Python code in the work folder (sandboxed: no network, 20 s); prints come back.", code={"type": "string"})
    async def python(self, code: str) -> str:
        return await asyncio.to_thread(self.workspace.python, code)

    @tool("Search the corpus; returns document ids, titles and snippets.", query={"type": "string"},
          k={"type": "integer", "minimum": 1, "maximum": 20})  # fmt: skip
    async def search(self, query: str, k: int = 5) -> str:
        try:
            hits = self.corpus.search(query, k)
        except ValueError as e:
            raise ToolError(str(e)) from None
        return json.dumps([{"id": h.doc_id, "title": h.title, "snippet": h.snippet} for h in hits], ensure_ascii=False)

    @tool("Read a corpus document by id (from search), 4000 characters from offset.", doc_id={"type": "string"},
          offset={"type": "integer", "minimum": 0})  # fmt: skip
    async def open(self, doc_id: str, offset: int = 0) -> str:
        try:
            return self.corpus.open(doc_id, offset=offset)
        except KeyError as e:
            raise ToolError(str(e.args[0])) from None

    @tool("Run SQL statements (one per line, each ending in ';') on db.sqlite; SELECTs return up to 50 rows.",
          statements={"type": "string"})  # fmt: skip
    async def sql(self, statements: str) -> str:
        return await asyncio.to_thread(self.workspace.sql, statements)

    @tool("Write a text file in the work folder (tools.py, tools.json, task.json, solution.py, verifier.py, ...).",
          path={"type": "string"}, content={"type": "string"})  # fmt: skip
    async def write_file(self, path: str, content: str) -> str:
        try:
            return await asyncio.to_thread(self.workspace.write_file, path, content)
        except (OSError, ValueError) as e:
            raise ToolError(f"cannot write {path!r}: {e}") from None

    @tool("Check the current data, tools and task: every stage's problems, or the level recorded when all pass.")
    async def check(self) -> str | Verdict:
        snap = await asyncio.to_thread(self.workspace.snapshot)
        outcome = await asyncio.to_thread(self.checker.check, snap, self.levels, self.answers, self.level_tools)
        self.result.num_checks += 1
        self.stage = outcome.stage if not outcome.passed else "escalated"
        if outcome.passed:
            return self._record(outcome)
        self.last_problems = outcome.problems
        if outcome.stage in ("consistent", "checks"):
            self.failures_at_level += 1
            self.result.num_repairs += 1
            if self.failures_at_level > self.config.max_repairs:
                return self._reject(outcome.stage, f"level {len(self.levels)} still fails after "
                                    f"{self.config.max_repairs} repairs: " + "; ".join(outcome.problems)[:1000])
        lines = [f"stage {outcome.stage}: {len(outcome.problems)} problem(s)", *(f"- {p}" for p in outcome.problems)]
        return "\n".join(lines)

    @tool("Finish the build: the recorded levels are re-checked on the final environment and stored.")
    async def finish(self) -> Verdict:
        if not self.levels:
            stage = self.stage if self.stage in STAGES else "task"
            why = "; ".join(self.last_problems)[:1000] or "no level passed its checks"
            return self._reject(stage, f"finished before any level passed its checks ({why})")
        snap = await asyncio.to_thread(self.workspace.snapshot)
        outcome, reports, db_bytes = await asyncio.to_thread(self.checker.final, snap, self.levels)
        if outcome.env is None:
            return self._reject(outcome.stage, "the final environment does not load: " + "; ".join(outcome.problems))
        r = self.result
        r.env, r.reports, r.levels, r.db_bytes = outcome.env, reports, list(self.levels), db_bytes
        r.db_sha256, r.sources = outcome.report["db_sha256"], sources_of(snap)
        if not any(rep["passed"] for rep in reports):
            failed = "; ".join(f"level {i}: {', '.join(c['name'] for c in rep['checks'] if not c['passed'])}"
                               for i, rep in enumerate(reports))
            return self._reject("checks", f"no level passes the checks on the final environment ({failed})")
        r.is_built = True
        kept = sum(rep["passed"] for rep in reports)
        return Verdict(reward=1.0, passed=True, reasons=[f"built: {kept} of {len(reports)} level(s) pass"])

    # --- internals ----------------------------------------------------------------------------------------------
    def _record(self, outcome: CheckOutcome) -> str:
        assert outcome.task is not None and outcome.env is not None and outcome.report is not None
        if self.levels and outcome.task.prompt.strip() == self.levels[-1].prompt.strip():
            return "passed; this task is already recorded as level {0}. Raise the difficulty or call finish."\
                .format(len(self.levels) - 1)
        self.levels.append(outcome.task)
        self.answers.append(outcome.report["answer"])
        self.level_tools = outcome.env.tool_names()
        self.failures_at_level = 0
        level = len(self.levels) - 1
        if level >= self.config.max_level:
            return f"passed: recorded level {level}, the top level. Call finish."
        return (f"passed: recorded level {level} (answer {json.dumps(outcome.report['answer'])[:200]}). Raise the "
                f"difficulty: rewrite task.json, solution.py and verifier.py (add tools or rows only if needed) and "
                f"check again, or call finish.")

    def _reject(self, stage: str, reason: str) -> Verdict:
        self.result.failed_stage, self.result.reason = stage, reason
        return Verdict(reward=0.0, passed=False, reasons=[f"{stage}: {reason}"])

    def episode_task(self, key: str, prompt: str) -> Task:
        """The task this env plays for build `key` (its prompt is the category's user prompt)."""
        return Task(id=key, env=self.name, prompt=prompt, data={"category": self.category})
