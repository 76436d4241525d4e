"""`agentgym synth general --generator POLICY --corpus DIR`: environments built by the builder agent, one line of
progress per environment on stderr (plain lines when stderr is not a terminal); a rerun skips finished builds."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def synth_build_command(policy_spec: str, categories: tuple[str, ...], corpus: str | Path, out: str | Path, *,
                        num_envs: int, seed: int = 0, max_level: int = 2, max_turns: int = 40, max_repairs: int = 3,
                        stream: TextIO | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Build `num_envs` environments (cycling through `categories`) with the chat policy `policy_spec` into `out`.

    Returns the build records (``builds.store.jsonl``); stored tasks are in ``out/tasks.jsonl``.
    """
    from agentgym.rollout.specs import make_policy
    from agentgym.synth.general.builder import BuilderConfig, BuildRun, BuildRunConfig, Corpus

    stream = stream or sys.stderr
    config = BuildRunConfig(categories=categories, num_envs=num_envs, seed=seed,
                            builder=BuilderConfig(max_level=max_level, max_turns=max_turns, max_repairs=max_repairs))
    corpus_index = Corpus(corpus)
    run = BuildRun(make_policy(policy_spec), corpus_index, out, config, model=policy_spec)
    started = time.perf_counter()
    print(f"builder: {num_envs} environment(s) of {list(categories)} with {policy_spec}; corpus {corpus} "
          f"({len(corpus_index.ids)} documents, {corpus_index.backend} search); out {out}", file=stream, flush=True)

    def on_build(index: int, record: dict[str, Any]) -> None:
        head = f"[{index + 1}/{num_envs}] {record['key']}"
        if record["status"] == "building":
            line = f"{head}: building ({record['category']})"
        elif record.get("resumed"):
            line = f"{head}: {record['status']} earlier, skipped"
        elif record["status"] == "stored":
            line = (f"{head}: stored {len(record['stored'])} task(s) in {record['num_turns']} turns, "
                    f"{record['num_checks']} checks, {record['num_repairs']} repairs ({record['wall_s']:.1f} s)")
        else:
            line = f"{head}: rejected at {record['failed_stage']}: {str(record['reason'])[:300]}"
        print(line, file=stream, flush=True)

    records = asyncio.run(run.run(on_build))
    num_stored = sum(r["status"] == "stored" for r in records)
    print(f"builder: {num_stored}/{len(records)} environment(s) stored, {len(run.tasks)} task(s) in "
          f"{Path(out) / 'tasks.jsonl'}; transcripts in {Path(out) / 'transcripts'} "
          f"({time.perf_counter() - started:.1f} s)", file=stream, flush=True)
    return records
