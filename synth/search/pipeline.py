"""The search-QA pipeline: long-tail entity → question agent → ground-truth check → answer agents → keep if all fail.

Each generation unit i has its own seeded RNG (seed, i), and its outcome (accepted task, or the stage and reason it was
rejected at) is appended to an append-only store keyed by unit, so a rerun after a crash skips finished units and
writes no duplicate. Accepted tasks are `search` tasks: the env scores them against ``data["answers"]``.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.synth.schemas import Provenance, QualityCheck
from agentgym.synth.search.answerers import (
    AnswerAgent,
    PolicyAnswerer,
    baseline_answerers,
)
from agentgym.synth.search.entities import sample_entity
from agentgym.synth.search.llm_questioner import propose_with_policy
from agentgym.synth.search.questions import QAPair, build_question
from agentgym.synth.search.session import ToolSession
from agentgym.synth.search.verify import is_correct, verify_pair
from agentgym.synth.store import Store

from agentgym.api import Task
from agentgym.rollout import Policy

PIPELINE_VERSION = "search-1"
STAGES = ("units", "entity", "question", "verified", "all_wrong")
DEFAULT_SEED_QUERIES = ("file", "socket", "parse", "thread", "encode", "path", "format", "stream", "buffer", "event",
                        "queue", "date", "archive", "compress", "header", "token", "signal", "locale", "codec")


@dataclass(frozen=True, kw_only=True, slots=True)
class SearchSynthConfig:
    """What the pipeline builds and how hard it tries.

    Attributes:
        num_tasks: accepted tasks wanted; the run stops once it has them.
        max_units: generation units tried at most (each yields one task or a recorded rejection).
        min_hops / max_hops: links followed before the terminal fact (depth); drawn per unit.
        breadth: entities named in the question that must share the first linked document (1 = one entity).
        max_mentions: an entity is long-tail if at most this many search hits for its name show the name.
        walk_steps: searches in the random walk that finds entities.
        seed_queries: where the random walk starts.
        seed: the stream seed; unit i depends only on (corpus, seed, i).
        env_kwargs: settings for ``agentgym.make("search", ...)`` (corpus, index folder).
        question_turns / answer_turns: turn budgets of LLM question and answer agents.
    """

    num_tasks: int = 20
    max_units: int = 200
    min_hops: int = 2
    max_hops: int = 3
    breadth: int = 1
    max_mentions: int = 3
    walk_steps: int = 3
    seed_queries: tuple[str, ...] = DEFAULT_SEED_QUERIES
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    question_turns: int = 16
    answer_turns: int = 12

    def __post_init__(self) -> None:
        for name in ("num_tasks", "max_units", "min_hops", "max_hops", "breadth", "walk_steps", "question_turns",
                     "answer_turns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.min_hops > self.max_hops:
            raise ValueError(f"min_hops must be <= max_hops, got {self.min_hops} > {self.max_hops}")
        if isinstance(self.max_mentions, bool) or not isinstance(self.max_mentions, int) or self.max_mentions < 1:
            raise ValueError(f"max_mentions must be a positive integer, got {self.max_mentions!r}")
        if not self.seed_queries or not all(isinstance(q, str) and q.strip() for q in self.seed_queries):
            raise ValueError(f"seed_queries must be non-empty strings, got {self.seed_queries!r}")


@dataclass(kw_only=True, slots=True)
class SynthReport:
    """What a run produced: the accepted tasks (this run's and the resumed ones) and the funnel per stage."""

    tasks: list[Task]
    funnel: Counter
    rejections: Counter
    num_tool_calls: int


async def synthesize(config: SearchSynthConfig, store_path: str | Path, *, question_policy: Policy | None = None,
                     question_model: str = "llm", answer_policies: Sequence[tuple[str, Policy]] = (),
                     progress: bool = True) -> SynthReport:
    """Run units 0, 1, ... until `config.num_tasks` are accepted or `config.max_units` are spent.

    With `config.env_kwargs` (a corpus or index of its own), ``env_kwargs.json`` is written beside the store, so a
    task source reading that folder makes the env over the same index (`agentgym.tasksource`).
    """
    from rich.progress import Progress

    from agentgym.tasksource import write_env_kwargs

    store = Store(store_path)
    if config.env_kwargs:
        write_env_kwargs(Path(store_path).parent, "search", config.env_kwargs)
    session = ToolSession(config.env_kwargs)
    agents: list[AnswerAgent] = baseline_answerers(session) + [
        PolicyAnswerer(name, policy, env_kwargs=config.env_kwargs, max_turns=config.answer_turns)
        for name, policy in answer_policies]
    funnel: Counter = Counter()
    rejections: Counter = Counter()
    tasks: list[Task] = []
    seen = {r["task"]["prompt"] for r in store.records() if r.get("status") == "accepted"}
    try:
        with Progress(disable=not progress) as bar:
            job = bar.add_task("search-QA units", total=config.max_units)
            for unit in range(config.max_units):
                if len(tasks) >= config.num_tasks:
                    break
                key = unit_key(config.seed, unit)
                record = store.get(key)
                if record is None:
                    record = await _run_unit(session, agents, config, unit, question_policy, question_model, seen)
                    store.append(record, key=key)
                _count(record, funnel, rejections)
                if record["status"] == "accepted":
                    tasks.append(Task.model_validate(record["task"]))
                    seen.add(record["task"]["prompt"])
                bar.update(job, advance=1, description=f"search-QA units ({len(tasks)} kept)")
    finally:
        await session.close()
    return SynthReport(tasks=tasks, funnel=funnel, rejections=rejections, num_tool_calls=session.num_calls)


def unit_key(seed: int, unit: int) -> str:
    return f"search-synth-{seed}-{unit}"


def _count(record: dict[str, Any], funnel: Counter, rejections: Counter) -> None:
    reached = record["reached"]
    for stage in STAGES[:STAGES.index(reached) + 1]:
        funnel[stage] += 1
    if record["status"] != "accepted":
        rejections[record["reason"].split(":")[0]] += 1


async def _run_unit(session: ToolSession, agents: list[AnswerAgent], config: SearchSynthConfig, unit: int,
                    question_policy: Policy | None, question_model: str, seen: set[str]) -> dict[str, Any]:
    start = time.perf_counter()
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{PIPELINE_VERSION}|{config.seed}|{unit}".encode())
                                       .digest()[:8], "big"))
    key = unit_key(config.seed, unit)
    entity = await sample_entity(session, rng, seed_queries=config.seed_queries, walk_steps=config.walk_steps,
                                 max_mentions=config.max_mentions)
    if entity is None:
        return {"id": key, "status": "rejected", "reached": "units", "reason": "no_entity: no long-tail entity found"}
    if question_policy is not None:
        pair = await propose_with_policy(session, question_policy, entity, hops=rng.randint(config.min_hops,
                                         config.max_hops), max_turns=config.question_turns, model=question_model)
    else:
        pair = await build_question(session, entity, rng, min_hops=config.min_hops, max_hops=config.max_hops,
                                    breadth=config.breadth, max_mentions=config.max_mentions)
    if pair is None:
        return {"id": key, "status": "rejected", "reached": "entity", "entity": entity.doc_id,
                "reason": "no_question: the question agent proposed no usable pair"}
    if pair.question in seen:
        return {"id": key, "status": "rejected", "reached": "entity", "entity": entity.doc_id,
                "reason": "duplicate: an accepted task already asks this question"}
    verification = await verify_pair(session, pair)
    if not verification.is_verified:
        return {"id": key, "status": "rejected", "reached": "question", "entity": entity.doc_id,
                "reason": f"unverified: {verification.reason}"}
    task = _task(pair, key, config, unit, verification.reason, time.perf_counter() - start)
    candidates = {agent.name: await agent.answer(task) for agent in agents}
    right = [name for name, answer in candidates.items() if await is_correct(task, answer, config.env_kwargs)]
    checks = task.meta["quality"] + [QualityCheck(name="all_candidates_wrong", passed=not right,
                                                  details={"candidates": candidates, "right": right}).model_dump()]
    task = task.model_copy(update={"meta": {**task.meta, "quality": checks, "candidates": candidates}})
    if right:
        return {"id": key, "status": "rejected", "reached": "verified", "entity": entity.doc_id,
                "reason": f"answered: {', '.join(right)} found the answer", "task": task.model_dump(mode="json")}
    return {"id": key, "status": "accepted", "reached": "all_wrong", "task": task.model_dump(mode="json")}


def _task(pair: QAPair, key: str, config: SearchSynthConfig, unit: int, verified: str, wall_s: float) -> Task:
    provenance = Provenance(pipeline_version=PIPELINE_VERSION, generator=f"{pair.source}:search-chain"
                            if pair.source == "procedural" else pair.source,
                            generator_model=None if pair.source == "procedural" else pair.source.partition(":")[2],
                            seed=config.seed, unit_index=unit, num_llm_tokens=pair.num_llm_tokens, wall_s=wall_s)
    data = {"answer": pair.answer, "answers": [pair.answer], "family": "chain", "start": pair.start,
            "clues": pair.clues, "hops": pair.hops, "final": pair.final, "evidence": pair.evidence}
    meta = {"generator": "synth.search", "num_hops": len(pair.hops), "breadth": len(pair.clues),
            "provenance": provenance.model_dump(mode="json"),
            "quality": [QualityCheck(name="ground_truth_verified", passed=True, details={"how": verified})
                        .model_dump()]}
    return Task(id=key, env="search", prompt=pair.question, data=data, meta=meta)
