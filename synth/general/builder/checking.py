"""`BuildChecker`: runs the builder's staged audit and then the shared consistency and quality checks in a sandbox.

The work folder's DB is rebuilt from its SQL dump inside a `CandidateSandbox` (the same persistent sandboxed worker
the procedural pipeline checks with), its tools are loaded there, and `synth/general/checks.py` runs the solution
against the verifier and every quality check. Nothing the agent wrote runs in this process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentgym.synth.general.builder.audit import audit_data, audit_tools, env_draft, read_task
from agentgym.synth.general.builder.workspace import Snapshot
from agentgym.synth.general.checks import check_task, run_reference
from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.general.solution_ast import check_tools_only
from agentgym.synth.general.sandbox import CandidateSandbox, WorkerFailed


@dataclass(slots=True)
class CheckOutcome:
    """One `check`: the first stage with problems ("data", "tools", "task", "consistent", "checks", or "passed" when
    none), the problems, and what could be read (env, task, the report of the shared checks)."""

    stage: str
    problems: list[str] = field(default_factory=list)
    env: EnvDraft | None = None
    task: TaskDraft | None = None
    report: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.stage == "passed"


class BuildChecker:
    """Checks a build's snapshots; owns one sandboxed worker for the whole build (close it)."""

    def __init__(self, category: str, corpus_ids: set[str], *, sandbox: Any = None, seed: int = 0) -> None:
        self.category, self.corpus_ids, self.seed = category, corpus_ids, seed
        self.sandbox_config = sandbox
        self._box: CandidateSandbox | None = None

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None

    def _worker(self) -> CandidateSandbox:
        if self._box is None:
            self._box = CandidateSandbox(self.sandbox_config)
        return self._box

    def load(self, snap: Snapshot, required_tools: list[str]) -> CheckOutcome:
        """The data, tools and escalation audit (the tools of recorded levels must stay); on success, the env built in
        the worker (`outcome.report` holds its DB hash)."""
        problems = audit_data(snap, self.corpus_ids)
        if problems:
            return CheckOutcome(stage="data", problems=problems)
        tools, problems = audit_tools(snap)
        lost = sorted(set(required_tools) - {t.name for t in tools})
        if not problems and lost:
            problems = [f"escalation may add tools, never remove them: {lost} are gone from tools.json"]
        if problems:
            return CheckOutcome(stage="tools", problems=problems)
        env = env_draft(self.category, snap, tools)
        try:
            db_sha = self._worker().build(env.sql, env.tools_source, env.tool_names())
        except WorkerFailed as e:
            return CheckOutcome(stage="tools", problems=[f"the DB or tools.py failed to load in the sandbox: {e}"])
        return CheckOutcome(stage="loaded", env=env, report={"db_sha256": db_sha})

    def check(self, snap: Snapshot, levels: list[TaskDraft], answers: list[Any],
              required_tools: list[str]) -> CheckOutcome:  # fmt: skip
        """Audit, then consistency, then the quality checks of the current task (level `len(levels)`)."""
        outcome = self.load(snap, required_tools)
        if outcome.env is None:
            return outcome
        env = outcome.env
        task, problems = read_task(snap, len(levels))
        if task is None:
            return CheckOutcome(stage="task", problems=problems, env=env)
        static = check_tools_only(task.solution, env.tool_names())
        if static:
            return CheckOutcome(stage="checks", env=env, task=task,
                                problems=[f"tools_only: the solution may only call tools and compute: {p}"
                                          for p in static[:5]])  # fmt: skip
        box = self._worker()
        try:
            report, _, accepted, reasons = run_reference(box, task)
            if not accepted:
                return CheckOutcome(stage="consistent", env=env, task=task,
                                    problems=[f"the verifier rejected the solution's answer {report['answer']!r}: "
                                              + "; ".join(reasons)[:800]])  # fmt: skip
            result = check_task(box, env, task, others=answers, seed=self.seed + len(levels))
        except WorkerFailed as e:
            return CheckOutcome(stage="consistent", env=env, task=task, problems=[f"sandbox: {e}"])
        report_dict = to_dict(result)
        if not result.passed:
            return CheckOutcome(stage="checks", env=env, task=task, report=report_dict, problems=result.failures())
        return CheckOutcome(stage="passed", env=env, task=task, report=report_dict)

    def final(self, snap: Snapshot, levels: list[TaskDraft]) -> tuple[CheckOutcome, list[dict[str, Any]], bytes]:
        """Re-check every recorded level on the final environment (escalation may have added data and tools):
        (the load outcome, one report per level, the final DB's bytes)."""
        outcome = self.load(snap, [])
        if outcome.env is None:
            return outcome, [], b""
        box = self._worker()
        firsts = [run_reference(box, t)[0]["answer"] for t in levels]
        reports = []
        for i, task in enumerate(levels):
            others = [a for j, a in enumerate(firsts) if j != i]
            reports.append(to_dict(check_task(box, outcome.env, task, others=others, seed=self.seed + i)))
        return outcome, reports, box.db_bytes()


def to_dict(result: Any) -> dict[str, Any]:
    """A `TaskReport` as the journal records it (the procedural pipeline's shape)."""
    return {"passed": result.passed, "checks": [c.model_dump() for c in result.checks], "answer": result.answer,
            "calls": result.calls, "num_non_answers": result.num_non_answers,
            "num_false_accepts": result.num_false_accepts}
