"""`BuildRun`: builds environments one after another with the builder agent, dedups and stores them; resumable.

Output folder (the `general` env plays it: ``agentgym.make("general", tasks=OUT)``)::

    builds.store.jsonl        one record per finished build, built or rejected (a rerun skips these keys)
    environments.store.jsonl  one `Environment` record per stored environment
    tasks.store.jsonl         the stored tasks (env_dir relative); tasks.jsonl: the same with absolute env_dir
    envs/<key>/               db.sqlite, tools.py, manifest.json, provenance.json (model, prompts, transcript hash,
                              check results, corpus sources)
    transcripts/<key>.jsonl   every build's full multi-turn transcript, failed builds included
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.synth.general.builder.build import Build, build_one
from agentgym.synth.general.builder.corpus import Corpus
from agentgym.synth.general.builder.env import BuilderConfig
from agentgym.synth.general.builder.prompts import PROMPT_SHA256
from agentgym.synth.general.dedup import DedupIndex, minhash, normalize_prompt, tool_signature
from agentgym.synth.general.output import environment_record, env_hashes, task_record, write_env_folder
from agentgym.synth.schemas import Provenance, QualityCheck
from agentgym.synth.store import Store

from agentgym.api import Task
from agentgym.jsonio import write_jsonl_atomic
from agentgym.rollout.policy import Policy


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildRunConfig:
    """A run of builds.

    Attributes:
        categories: free-text task categories, one build each in turn.
        num_envs: builds to run (finished ones, built or rejected, count; a rerun continues to this number).
        seed: the run seed (recorded; build i's seed derives from it).
        builder: the budgets of each build.
        dedup_threshold: estimated prompt Jaccard at which a task with the same tool signature is a duplicate.
    """

    categories: tuple[str, ...]
    num_envs: int
    seed: int = 0
    builder: BuilderConfig = field(default_factory=BuilderConfig)
    dedup_threshold: float = 0.9

    def __post_init__(self) -> None:
        if not self.categories or not all(isinstance(c, str) and c.strip() for c in self.categories):
            raise ValueError(f"categories must be non-empty strings, got {self.categories!r}")
        if isinstance(self.num_envs, bool) or not isinstance(self.num_envs, int) or self.num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {self.num_envs!r}")


def build_key(category: str, seed: int, index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")[:40] or "category"
    return f"{slug}-s{seed}-b{index}"


class BuildRun:
    """Runs `config.num_envs` builds with `policy` over `corpus` into `out`; `run()` resumes after a kill."""

    def __init__(self, policy: Policy, corpus: Corpus, out: str | Path, config: BuildRunConfig, *,
                 model: str | None = None) -> None:  # fmt: skip
        self.policy, self.corpus, self.config, self.model = policy, corpus, config, model
        self.out = Path(out)
        self.builds = Store(self.out / "builds.store.jsonl")
        self.tasks = Store(self.out / "tasks.store.jsonl")
        self.envs = Store(self.out / "environments.store.jsonl")
        self.index = DedupIndex(config.dedup_threshold)
        for record in self.tasks.records():
            self.index.add(record["meta"]["dedup_key"].split(":")[0], minhash(record["prompt"]))

    async def run(self, on_build: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Run every build not yet finished, in order; `on_build(index, record)` after each (skipped ones too).
        Returns the build records."""
        records = []
        for index in range(self.config.num_envs):
            category = self.config.categories[index % len(self.config.categories)]
            key = build_key(category, self.config.seed, index)
            record = self.builds.get(key)
            if record is None:
                if on_build is not None:
                    on_build(index, {"key": key, "category": category, "status": "building"})
                seed = int.from_bytes(hashlib.sha256(f"builder-{self.config.seed}-{index}".encode()).digest()[:4],
                                      "big")  # fmt: skip
                build = await build_one(self.policy, self.corpus, category=category, key=key, out=self.out,
                                        config=self.config.builder, seed=seed, model=self.model)  # fmt: skip
                record = self._finish(index, build)
            else:
                record = {**record, "resumed": True}
            records.append(record)
            if on_build is not None:
                on_build(index, record)
        self.export()
        return records

    def _finish(self, index: int, build: Build) -> dict[str, Any]:
        result, key = build.result, build.key
        record: dict[str, Any] = {"key": key, "category": build.category, "status": "rejected",
                                  "transcript": f"transcripts/{key}.jsonl", "transcript_sha256": build.transcript_sha256,
                                  "num_turns": len(build.trajectory.turns), "num_checks": result.num_checks,
                                  "num_repairs": result.num_repairs, "wall_s": round(build.wall_s, 2),
                                  "num_llm_tokens": build.trajectory.num_prompt_tokens
                                  + build.trajectory.num_completion_tokens}  # fmt: skip
        if not result.is_built:
            record.update(failed_stage=result.failed_stage, reason=result.reason)
        else:
            stored, stage, reason = self._store(index, build, record)
            record.update(stored=stored, status="stored" if stored else "rejected")
            if not stored:
                record.update(failed_stage=stage, reason=reason)
        self.builds.append(record, key=key)
        return record

    def _store(self, index: int, build: Build, record: dict[str, Any]) -> tuple[list[str], str, str]:
        """Dedup and store the levels that passed; returns (stored task ids, failed stage, reason)."""
        result, key = build.result, build.key
        assert result.env is not None
        env = result.env
        sig = tool_signature([t.model_dump() for t in env.tools])
        _, env_sha = env_hashes(result.db_sha256, env.tools_source)
        provenance = Provenance(generator=f"builder:{build.category}", generator_model=self.model,
                                seed=self.config.seed, unit_index=index, prompt_sha256=PROMPT_SHA256,
                                num_llm_tokens=record["num_llm_tokens"], num_repairs=result.num_repairs,
                                wall_s=round(build.wall_s, 3))  # fmt: skip
        keep: list[Task] = []
        parent = None
        passed = [(t, r) for t, r in zip(result.levels, result.reports) if r["passed"]]
        for task, report in passed:
            signature = minhash(task.prompt)
            task_id = f"{key}-L{task.level}"
            if not self.tasks.has(task_id) and self.index.is_duplicate(sig, signature):
                continue
            self.index.add(sig, signature)
            prompt_key = hashlib.sha256(normalize_prompt(task.prompt).encode()).hexdigest()[:16]
            keep.append(task_record(task_id=task_id, category=build.category, env_id=key, env_sha256=env_sha,
                                    task=task, answer=report["answer"], calls=report["calls"],
                                    checks=[QualityCheck.model_validate(c) for c in report["checks"]], parent=parent,
                                    dedup_key=f"{sig}:{prompt_key}", provenance=provenance))  # fmt: skip
            parent = task_id
        if not keep:
            return [], "dedup", f"all {len(passed)} passing level(s) duplicate stored tasks"
        folder = write_env_folder(self.out, key, env, result.db_bytes, result.db_sha256)
        (folder / "provenance.json").write_text(json.dumps({
            "model": self.model, "prompt_sha256": PROMPT_SHA256, "transcript": f"../../transcripts/{key}.jsonl",
            "transcript_sha256": build.transcript_sha256, "sources": result.sources, "category": build.category,
            "levels": [{"level": t.level, "prompt": t.prompt, "checks": r["checks"], "passed": r["passed"]}
                       for t, r in zip(result.levels, result.reports)],
            "num_checks": result.num_checks, "num_repairs": result.num_repairs}, indent=1))  # fmt: skip
        self.envs.append(environment_record(key, env, result.db_sha256, provenance), key=key)
        for task in keep:
            self.tasks.append(task.model_dump(mode="json"), key=task.id)
        return [t.id for t in keep], "", ""

    def export(self) -> Path:
        """Write ``tasks.jsonl``: the stored tasks with absolute env_dir (atomically)."""
        records = [{**r, "data": {**r["data"], "env_dir": str((self.out / r["data"]["env_dir"]).resolve())}}
                   for r in self.tasks.records()]
        return write_jsonl_atomic(self.out / "tasks.jsonl", records)
