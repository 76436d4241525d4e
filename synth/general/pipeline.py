"""The general-agent synthesis pipeline (DeepSeek-V3.2 §3.2.3): units run their sandboxed stages concurrently, then
dedup and storage happen in unit order, so a run (and a resumed run) stores the same tasks for the same seed.

Output directory layout::

    journal.store.jsonl       per-unit stage snapshots (resume point of every stage)
    environments.store.jsonl  one `Environment` record per stored environment
    tasks.store.jsonl         one `agentgym.api.Task` per stored task (env_dir relative to the output directory)
    tasks.jsonl               the same tasks with absolute env_dir, ready for `load_tasks` / the `general` env
    envs/<env_id>/            db.sqlite, tools.py, manifest.json
    staging/                  checked environments waiting for dedup and storage
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.synth.general.dedup import (
    DedupIndex,
    minhash,
    normalize_prompt,
    tool_signature,
)
from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.general.generator import Generator
from agentgym.synth.general.output import env_hashes, environment_record, task_record
from agentgym.synth.general.rubric import task_rubric
from agentgym.synth.general.unit import Unit, UnitRunner
from agentgym.synth.schemas import Provenance, QualityCheck
from agentgym.synth.store import Store

from agentgym.api import Task
from agentgym.jsonio import write_jsonl_atomic

FUNNEL_STAGES = ("generated", "consistent", "escalated", "checks_passed", "deduped", "stored")


@dataclass(frozen=True, kw_only=True, slots=True)
class PipelineConfig:
    """How one synthesis run goes.

    Attributes:
        categories: the categories to cycle through, one unit each in turn.
        num_tasks: stop once this many tasks are stored.
        seed: the run seed; unit i's seed derives from (seed, i).
        max_units: give up after this many units (default: 2 × num_tasks + 10).
        max_level: the highest escalation level (0 = no escalation).
        max_repairs: repair attempts per inconsistent task.
        concurrency: units whose sandboxed stages run at once.
        dedup_threshold: estimated prompt Jaccard at which a task with the same tool signature is a duplicate.
        sandbox: settings of the candidate sandboxes (None: the default).
        rubric: also give every stored task a rubric (``data["rubric"]``) for a generative judge.
    """

    categories: tuple[str, ...]
    num_tasks: int
    seed: int = 0
    max_units: int | None = None
    max_level: int = 3
    max_repairs: int = 2
    concurrency: int = 2
    dedup_threshold: float = 0.9
    sandbox: Any = None
    rubric: bool = False

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError("categories must not be empty")
        for name in ("num_tasks", "concurrency"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("max_level", "max_repairs", "seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {getattr(self, name)!r}")


@dataclass(slots=True)
class Funnel:
    """Tasks (and units) that survived each stage."""

    tasks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FUNNEL_STAGES, 0))
    num_units: int = 0
    num_non_answers: int = 0
    num_false_accepts: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    def add(self, done: dict[str, Any]) -> None:
        self.num_units += 1
        for stage in FUNNEL_STAGES:
            self.tasks[stage] += done["counts"].get(stage, 0)
        self.num_non_answers += done.get("num_non_answers", 0)
        self.num_false_accepts += done.get("num_false_accepts", 0)
        if done.get("reason"):
            key = done["reason"].split(":")[0][:60]
            self.rejections[key] = self.rejections.get(key, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        """The funnel as plain data (for JSON output)."""
        return {"tasks": dict(self.tasks), "num_units": self.num_units, "num_non_answers": self.num_non_answers,
                "num_false_accepts": self.num_false_accepts, "rejections": dict(self.rejections)}


def unit_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"general-{seed}-{index}".encode()).digest()[:4], "big")


class Pipeline:
    """Synthesizes tasks into `out` with `generator`; `run()` is resumable after any crash."""

    def __init__(self, generator: Generator, out: str | Path, config: PipelineConfig) -> None:
        unknown = set(config.categories) - set(generator.categories())
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; {generator.name} knows {generator.categories()}")
        self.generator, self.config = generator, config
        self.out = Path(out)
        self.journal = Store(self.out / "journal.store.jsonl")
        self.tasks = Store(self.out / "tasks.store.jsonl")
        self.envs = Store(self.out / "environments.store.jsonl")
        self.runner = UnitRunner(generator, self.journal, self.out / "staging", max_level=config.max_level,
                                 max_repairs=config.max_repairs, sandbox_config=config.sandbox)  # fmt: skip
        self.index = DedupIndex(config.dedup_threshold)
        for record in self.tasks.records():
            sig = record["meta"]["dedup_key"].split(":")[0]
            self.index.add(sig, minhash(record["prompt"]))

    def unit(self, index: int) -> Unit:
        category = self.config.categories[index % len(self.config.categories)]
        return Unit(index=index, category=category, seed=unit_seed(self.config.seed, index),
                    key=f"{category}-s{self.config.seed}-u{index}")

    async def run(self, on_unit: Callable[[Funnel], None] | None = None) -> Funnel:
        """Process units until `num_tasks` are stored (or `max_units` tried); returns the funnel."""
        config = self.config
        max_units = config.max_units if config.max_units is not None else 2 * config.num_tasks + 10
        funnel = Funnel()
        index = 0
        while len(self.tasks) < config.num_tasks and index < max_units:
            window = [self.unit(i) for i in range(index, min(index + config.concurrency, max_units))]
            index += len(window)
            states = await asyncio.gather(*(self.runner.run(u) for u in window))
            for unit, state in zip(window, states):
                funnel.add(self.finalize(unit, state))
                if on_unit is not None:
                    on_unit(funnel)
        self.export()
        return funnel

    def finalize(self, unit: Unit, state: dict[str, Any]) -> dict[str, Any]:
        """Dedup and store a unit's checked tasks (idempotent: a rerun finds what a killed run stored)."""
        done = self.journal.get(f"{unit.key}/done")
        if done is not None:
            return done
        counts = dict.fromkeys(FUNNEL_STAGES, 0)
        counts["generated"] = int(self.journal.has(f"{unit.key}/generated"))
        counts["consistent"] = int(self.journal.has(f"{unit.key}/consistent"))
        done: dict[str, Any] = {"unit": unit.key, "stage": "done", "counts": counts, "stored": []}
        if state["stage"] == "rejected":
            done["reason"] = f"{state['failed_stage']}: {state['reason']}"
        else:
            self._store(unit, state, done)
        self.journal.append(done, key=f"{unit.key}/done")
        return done

    def _store(self, unit: Unit, state: dict[str, Any], done: dict[str, Any]) -> None:
        counts = done["counts"]
        env = EnvDraft.model_validate(state["env"])
        levels = [TaskDraft.model_validate(t) for t in state["levels"]]
        reports = state["reports"]
        counts["escalated"] = len(levels)
        done["escalation_stop"] = state.get("escalation_stop")
        done["num_non_answers"] = sum(r["num_non_answers"] for r in reports)
        done["num_false_accepts"] = sum(r["num_false_accepts"] for r in reports)
        sig = tool_signature([t.model_dump() for t in env.tools])
        _, env_sha = env_hashes(state["db_sha256"], env.tools_source)
        provenance = Provenance(generator=f"{self.generator.name}:{unit.category}",
                                generator_model=self.generator.model,
                                seed=self.config.seed, unit_index=unit.index, num_repairs=state.get("num_repairs", 0))
        keep: list[Task] = []
        parent = None
        for task, report in zip(levels, reports):
            task_id = f"{unit.key}-L{task.level}"
            if not report["passed"]:
                continue
            counts["checks_passed"] += 1
            if not self.tasks.has(task_id):
                signature = minhash(task.prompt)
                if self.index.is_duplicate(sig, signature):
                    continue
                self.index.add(sig, signature)
            counts["deduped"] += 1
            prompt_key = hashlib.sha256(normalize_prompt(task.prompt).encode()).hexdigest()[:16]
            keep.append(task_record(
                task_id=task_id, category=unit.category, env_id=unit.key, env_sha256=env_sha, task=task,
                answer=report["answer"], calls=report["calls"],
                checks=[QualityCheck.model_validate(c) for c in report["checks"]], parent=parent,
                dedup_key=f"{sig}:{prompt_key}", provenance=provenance))  # fmt: skip
            if self.config.rubric:
                keep[-1].data["rubric"] = task_rubric(task.prompt, report["answer"], report["calls"])
            parent = task_id
        room = self.config.num_tasks - len(self.tasks)
        keep = [t for t in keep if self.tasks.has(t.id)] + [t for t in keep if not self.tasks.has(t.id)][: max(room, 0)]
        if keep:
            self._move_env(unit.key)
            self.envs.append(environment_record(unit.key, env, state["db_sha256"], provenance), key=unit.key)
        for task in keep:
            self.tasks.append(task.model_dump(mode="json"), key=task.id)
        counts["stored"] = len(keep)
        done["stored"] = [t.id for t in keep]

    def _move_env(self, env_id: str) -> None:
        staged, target = self.out / "staging" / "envs" / env_id, self.out / "envs" / env_id
        if target.is_dir():
            shutil.rmtree(staged, ignore_errors=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)

    def export(self) -> Path:
        """Write `tasks.jsonl`: the stored tasks with absolute env_dir (atomically)."""
        records = []
        for record in self.tasks.records():
            record = {**record, "data": {**record["data"], "env_dir": str((self.out / record["data"]["env_dir"])
                                                                           .resolve())}}
            records.append(record)
        return write_jsonl_atomic(self.out / "tasks.jsonl", records)
