"""The sandboxed stages of one generation unit: generate → consistency → escalation → checks, journaled per stage.

A unit is one environment and its escalation chain. After each stage its state (drafts, repairs, reports) is appended
to the journal store, so a killed run resumes the unit at the stage after the last one it finished.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.synth.general.checks import check_task, run_reference
from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.general.generator import Generator
from agentgym.synth.general.output import write_env_folder
from agentgym.synth.general.sandbox import CandidateSandbox, WorkerFailed
from agentgym.synth.store import Store

STAGE_ORDER = ("generated", "consistent", "escalating", "escalated", "checked", "rejected")


@dataclass(frozen=True, slots=True)
class Unit:
    """Unit `index` of a run: its category, its seed (derived from the run seed and index) and its key."""

    index: int
    category: str
    seed: int
    key: str


def latest(journal: Store, key: str) -> dict[str, Any] | None:
    """The most advanced journaled state of unit `key`, or None if it never started."""
    best: dict[str, Any] | None = None
    for stage in ("rejected", "checked", "escalated", "consistent", "generated"):
        if (record := journal.get(f"{key}/{stage}")) is not None:
            best = record
            break
    if best is not None and best["stage"] == "consistent":
        level = 1
        while (record := journal.get(f"{best['unit']}/escalating/{level}")) is not None:
            best, level = record, level + 1
    return best


class UnitRunner:
    """Runs the sandboxed stages of units for one pipeline run."""

    def __init__(self, generator: Generator, journal: Store, staging: Path, *, max_level: int, max_repairs: int,
                 sandbox_config: Any = None) -> None:  # fmt: skip
        self.generator = generator
        self.journal = journal
        self.staging = staging
        self.max_level = max_level
        self.max_repairs = max_repairs
        self.sandbox_config = sandbox_config

    def _save(self, unit: Unit, stage: str, **fields: Any) -> dict[str, Any]:
        record = {"unit": unit.key, "stage": stage, **fields}
        suffix = f"/{fields['levels'].__len__() - 1}" if stage == "escalating" else ""
        self.journal.append(record, key=f"{unit.key}/{stage}{suffix}")
        return record

    def _reject(self, unit: Unit, at: str, reason: str, **fields: Any) -> dict[str, Any]:
        return self._save(unit, "rejected", failed_stage=at, reason=reason[:2000], **fields)

    async def run(self, unit: Unit) -> dict[str, Any]:
        """Advance `unit` to "checked" or "rejected" (returning that journal record)."""
        state = latest(self.journal, unit.key)
        if state is not None and state["stage"] in ("checked", "rejected"):
            return state
        box = await asyncio.to_thread(CandidateSandbox, self.sandbox_config)
        try:
            return await self._advance(unit, state, box)
        except WorkerFailed as e:
            return self._reject(unit, state["stage"] if state else "generated", f"sandbox: {e}")
        finally:
            await asyncio.to_thread(box.close)

    async def _advance(self, unit: Unit, state: dict[str, Any] | None, box: CandidateSandbox) -> dict[str, Any]:
        gen = self.generator
        if state is None:
            try:
                env = await gen.propose_environment(unit.category, unit.seed)
                task = await gen.propose_task(env, unit.seed)
            except Exception as e:  # noqa: BLE001 - a generator failure rejects the unit, with the reason
                return self._reject(unit, "generated", f"generator failed: {type(e).__name__}: {e}")
            state = self._save(unit, "generated", env=env.model_dump(), levels=[task.model_dump()], num_repairs=0)
        env = EnvDraft.model_validate(state["env"])
        levels = [TaskDraft.model_validate(t) for t in state["levels"]]
        repairs = int(state.get("num_repairs", 0))
        db_sha = await asyncio.to_thread(box.build, env.sql, env.tools_source, env.tool_names())
        if state["stage"] == "generated":
            task, used, reason = await self._consistent(box, env, levels[0], unit.seed)
            repairs += used
            if task is None:
                return self._reject(unit, "consistent", reason, num_repairs=repairs)
            levels = [task]
            state = self._save(unit, "consistent", env=env.model_dump(), levels=[task.model_dump()],
                               num_repairs=repairs)
        if state["stage"] in ("consistent", "escalating"):
            stop = "reached the top level"
            while len(levels) - 1 < self.max_level:
                grown = await self._escalate(box, env, levels[-1], unit.seed + len(levels))
                if isinstance(grown, str):
                    stop = grown
                    break
                env, task, used = grown
                levels, repairs = levels + [task], repairs + used
                self._save(unit, "escalating", env=env.model_dump(), levels=[t.model_dump() for t in levels],
                           num_repairs=repairs)  # fmt: skip
            db_sha = await asyncio.to_thread(box.build, env.sql, env.tools_source, env.tool_names())
            state = self._save(unit, "escalated", env=env.model_dump(), levels=[t.model_dump() for t in levels],
                               num_repairs=repairs, escalation_stop=stop)  # fmt: skip
        return await self._check(unit, state, box, env, levels, db_sha)

    async def _consistent(self, box: CandidateSandbox, env: EnvDraft, task: TaskDraft,
                          seed: int) -> tuple[TaskDraft | None, int, str]:  # fmt: skip
        """Run solution vs verifier; on a mismatch ask the generator to repair, at most `max_repairs` times."""
        reason = ""
        for attempt in range(self.max_repairs + 1):
            _, _, accepted, reasons = await asyncio.to_thread(run_reference, box, task)
            if accepted:
                return task, attempt, ""
            reason = "; ".join(reasons)[:1000]
            if attempt == self.max_repairs:
                break
            try:
                fixed = await self.generator.repair(env, task, reason, seed + attempt)
            except Exception as e:  # noqa: BLE001
                return None, attempt, f"repair failed: {type(e).__name__}: {e}"
            if fixed is None:
                return None, attempt, f"inconsistent and not repaired: {reason}"
            task = fixed
        return None, self.max_repairs, f"still inconsistent after {self.max_repairs} repairs: {reason}"

    async def _escalate(self, box: CandidateSandbox, env: EnvDraft, task: TaskDraft,
                        seed: int) -> tuple[EnvDraft, TaskDraft, int] | str:  # fmt: skip
        try:
            grown = await self.generator.escalate(env, task, seed)
        except Exception as e:  # noqa: BLE001
            return f"escalation failed: {type(e).__name__}: {e}"
        if grown is None:
            return "the generator has no harder level"
        new_env, new_task = grown
        if new_env.sql != env.sql or not set(env.tool_names()) <= set(new_env.tool_names()):
            return "escalation changed the data or removed tools (only adding tools is allowed)"
        new_task = new_task.model_copy(update={"level": task.level + 1})
        await asyncio.to_thread(box.build, new_env.sql, new_env.tools_source, new_env.tool_names())
        fixed, used, reason = await self._consistent(box, new_env, new_task, seed)
        if fixed is None:
            await asyncio.to_thread(box.build, env.sql, env.tools_source, env.tool_names())
            return f"level {new_task.level}: {reason}"
        return new_env, fixed, used

    async def _check(self, unit: Unit, state: dict[str, Any], box: CandidateSandbox, env: EnvDraft,
                     levels: list[TaskDraft], db_sha: str) -> dict[str, Any]:  # fmt: skip
        firsts = [await asyncio.to_thread(run_reference, box, t) for t in levels]
        answers = [f[0]["answer"] for f in firsts]
        reports = []
        for i, task in enumerate(levels):
            others = [a for j, a in enumerate(answers) if j != i]
            report = await asyncio.to_thread(check_task, box, env, task, others=others, seed=unit.seed + i)
            reports.append({"passed": report.passed, "checks": [c.model_dump() for c in report.checks],
                            "answer": report.answer, "calls": report.calls, "num_non_answers": report.num_non_answers,
                            "num_false_accepts": report.num_false_accepts})  # fmt: skip
        db_bytes = await asyncio.to_thread(box.db_bytes)
        write_env_folder(self.staging, unit.key, env, db_bytes, db_sha)
        return self._save(unit, "checked", env=env.model_dump(), levels=[t.model_dump() for t in levels],
                          num_repairs=state.get("num_repairs", 0), escalation_stop=state.get("escalation_stop"),
                          reports=reports, db_sha256=db_sha)  # fmt: skip
