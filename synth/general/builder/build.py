"""One build: the builder agent plays `BuilderEnv` through the agent loop; its whole transcript is written to disk.

The transcript (``transcripts/<key>.jsonl``) has a header line, one line per message of the conversation (system,
user, every assistant turn with its tool calls, every tool result) and an outcome line. A failed build's outcome
names the stage it failed at and why; a build whose turn budget ran out is rejected at the stage it had reached.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.synth.general.builder.corpus import Corpus
from agentgym.synth.general.builder.env import BuilderConfig, BuilderEnv, BuildResult
from agentgym.synth.general.builder.prompts import PROMPT_SHA256, user_prompt

from agentgym.api import Trajectory
from agentgym.rollout.loop import run_episode
from agentgym.rollout.policy import Policy


@dataclass(slots=True)
class Build:
    """A finished build: its result, the episode, and its transcript file with the file's hash."""

    key: str
    category: str
    result: BuildResult
    trajectory: Trajectory
    transcript: Path
    transcript_sha256: str
    wall_s: float


async def build_one(policy: Policy, corpus: Corpus, *, category: str, key: str, out: Path,
                    config: BuilderConfig, seed: int, model: str | None) -> Build:  # fmt: skip
    """Run one build of `category` as episode `key`; the transcript goes to ``out/transcripts/<key>.jsonl``."""
    started = time.perf_counter()
    env = BuilderEnv(corpus, category, config, seed=seed)
    task = env.episode_task(key, user_prompt(category, max_level=config.max_level, max_turns=config.max_turns,
                                             max_repairs=config.max_repairs))  # fmt: skip
    try:
        trajectory = await run_episode(env, policy, task, seed=seed, max_turns=config.max_turns)
    finally:
        await env.close()
    result = env.result
    if not result.is_built and result.failed_stage is None:
        result.failed_stage, result.reason = _why_unfinished(env, trajectory, config)
    transcript = out / "transcripts" / f"{key}.jsonl"
    digest = write_transcript(transcript, key=key, category=category, model=model, trajectory=trajectory,
                              result=result)  # fmt: skip
    return Build(key=key, category=category, result=result, trajectory=trajectory, transcript=transcript,
                 transcript_sha256=digest, wall_s=time.perf_counter() - started)


def _why_unfinished(env: BuilderEnv, trajectory: Trajectory, config: BuilderConfig) -> tuple[str, str]:
    """(stage, reason) of a build that ended without finish: turn budget, context window, or a policy/env failure."""
    stage = env.stage if env.stage in ("data", "tools", "task", "consistent", "checks") else "escalated"
    last = "; ".join(env.last_problems)[:600]
    if trajectory.error == "env_error":
        return stage, f"the build broke: {trajectory.info.get('failure', 'env error')}"
    why = trajectory.truncation_reason or "the episode ended without finish"
    if "turn budget" in why:
        why = f"did not converge within the turn budget of {config.max_turns} turns"
    levels = f"{len(env.levels)} level(s) recorded"
    return stage, f"{why} ({levels}; last check: {last or 'none'})"


def write_transcript(path: Path, *, key: str, category: str, model: str | None, trajectory: Trajectory,
                     result: BuildResult) -> str:  # fmt: skip
    """Write the transcript atomically; returns the SHA-256 of its bytes."""
    lines: list[dict[str, Any]] = [{"type": "header", "key": key, "category": category, "model": model,
                                    "prompt_sha256": PROMPT_SHA256}]  # fmt: skip
    lines += [{"type": "message", **m.model_dump(mode="json", exclude_none=True)} for m in trajectory.messages]
    lines.append({"type": "outcome", "built": result.is_built, "failed_stage": result.failed_stage,
                  "reason": result.reason, "num_levels": len(result.levels), "num_checks": result.num_checks,
                  "num_repairs": result.num_repairs, "num_turns": len(trajectory.turns),
                  "num_prompt_tokens": trajectory.num_prompt_tokens,
                  "num_completion_tokens": trajectory.num_completion_tokens,
                  "truncation_reason": trajectory.truncation_reason, "error": trajectory.error})  # fmt: skip
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()
