"""The quality checks every task must pass before it is stored, run in the candidate's sandbox.

- tools_only: the solution's AST only calls tools and computes, and at run time its tools object holds no DB handle.
- deterministic: two runs on fresh DB copies give the same answer and the same final DB hash.
- consistent: the verifier accepts the solution's answer on the solution's final DB.
- rejects_non_answers: the verifier rejects empty, default, random schema-valid answers, other tasks' answers and
  one-field mutations of the right answer; for DB-changing tasks also the right answer on the unchanged DB.
- no_shortcut: the solution with tools switched off, and answers guessed from the prompt alone, are rejected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.general.nonanswers import non_answers, prompt_guesses
from agentgym.synth.general.sandbox import BASE_DB, CandidateSandbox
from agentgym.synth.general.solution_ast import check_tools_only
from agentgym.synth.schemas import QualityCheck
from agentgym.synth.store import canonical_json


@dataclass(slots=True)
class TaskReport:
    """What the checks found for one task, plus the reference run the stored task replays."""

    checks: list[QualityCheck]
    answer: Any = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    num_non_answers: int = 0
    num_false_accepts: int = 0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c.name}: {c.details}" for c in self.checks if not c.passed]


def run_reference(box: CandidateSandbox, task: TaskDraft) -> tuple[dict[str, Any], str, bool, list[str]]:
    """Solve once and verify: (solve report, final DB name, accepted, reasons). The consistency stage uses this."""
    report, db = box.solve(task.solution)
    if report["error"] is not None:
        return report, db, False, [f"the solution raised {report['error']}"]
    [(accepted, reasons)] = box.verify(task.verifier, [report["answer"]], db=db)
    return report, db, accepted, reasons


def check_task(box: CandidateSandbox, env: EnvDraft, task: TaskDraft, *, others: list[Any], seed: int) -> TaskReport:
    """Run every check on `task` in `box` (which holds `env`, built)."""
    rng = random.Random(seed)
    checks: list[QualityCheck] = []
    static = check_tools_only(task.solution, env.tool_names())
    first, db, accepted, reasons = run_reference(box, task)
    second, _ = box.solve(task.solution)
    checks.append(QualityCheck(name="tools_only", passed=not static and not first["tools_hold_db"],
                               details={"problems": static[:5], "tools_hold_db": first["tools_hold_db"]}))  # fmt: skip
    same = (canonical_json(first["answer"]) == canonical_json(second["answer"])
            and first["db_sha256"] == second["db_sha256"] and first["error"] is None)  # fmt: skip
    checks.append(QualityCheck(name="deterministic", passed=same,
                               details={"db_sha256": first["db_sha256"], "error": first["error"]}))
    checks.append(QualityCheck(name="consistent", passed=accepted, details={"reasons": reasons[:5]}))
    report = TaskReport(checks=checks, answer=first["answer"],
                        calls=[{"name": c["name"], "arguments": c["arguments"]} for c in first["calls"]])
    if not accepted:
        return report
    wrong = non_answers(first["answer"], task.answer_schema, others=others, calls=first["calls"], rng=rng)
    flat = [(kind, v) for kind, values in wrong.items() for v in values]
    verdicts = box.verify(task.verifier, [v for _, v in flat], db=db)
    leaks = [kind for (kind, _), (ok, _) in zip(flat, verdicts) if ok]
    if task.verifier_kind != "answer":
        [(unchanged_ok, _)] = box.verify(task.verifier, [first["answer"]], db=BASE_DB)
        flat.append(("unchanged_db", first["answer"]))
        leaks += ["unchanged_db"] if unchanged_ok else []
    report.num_non_answers, report.num_false_accepts = len(flat), len(leaks)
    checks.append(QualityCheck(name="rejects_non_answers", passed=not leaks,
                               details={"num_tried": len(flat), "accepted_kinds": sorted(set(leaks))}))
    blind, _ = box.solve(task.solution, use_tools=False)
    guesses = prompt_guesses(task.prompt, task.answer_schema, rng)
    if blind["error"] is None:
        guesses.append(blind["answer"])
    guess_ok = [ok for ok, _ in box.verify(task.verifier, guesses, db=BASE_DB)]
    checks.append(QualityCheck(name="no_shortcut", passed=not any(guess_ok),
                               details={"num_guesses": len(guesses), "num_accepted": sum(guess_ok),
                                        "tool_less_solution_error": blind["error"]}))  # fmt: skip
    return report
