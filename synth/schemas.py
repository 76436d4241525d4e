"""Pydantic schemas of what the synthesis pipelines store: environments, task metadata, pass@k stats, provenance.

A synthesized task is stored as a plain `agentgym.api.Task` (so `agentgym.taskio.load_tasks` and every rollout tool
read it), with the synthesis facts in `Task.meta` validated by `TaskMeta`. Environments are folders on disk; their
`Environment` record holds the manifest facts and the hashes that pin tasks to the exact files they were checked on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Difficulty", "Environment", "PassKStats", "Provenance", "QualityCheck", "TaskMeta", "ToolRecord"]

PIPELINE_VERSION = "general-1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Provenance(_Model):
    """Where a record came from: which pipeline, generator and seed, and what it cost."""

    pipeline_version: str = PIPELINE_VERSION
    generator: str
    """The generator's name, e.g. "procedural:trip_planning" or "llm:openai:gpt-x"."""
    generator_model: str | None = None
    """The chat model behind an LLM generator; None for procedural generators."""
    seed: int
    unit_index: int
    """Index of the generation unit (one environment and its escalation chain) in the seeded stream."""
    prompt_sha256: str | None = None
    """Hash of the generator prompts (LLM generators), so a change of prompt is visible in the data."""
    num_llm_tokens: int = 0
    num_repairs: int = 0
    wall_s: float = 0.0


class ToolRecord(_Model):
    """One tool of a synthesized environment, as listed in its manifest."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    kind: Literal["read", "write"] = "read"


class Environment(_Model):
    """A synthesized environment: a folder holding `db.sqlite`, `tools.py` and `manifest.json`."""

    env_id: str
    category: str
    version: int = 1
    path: str
    """The folder, relative to the output directory (e.g. "envs/trip_planning-0-3")."""
    tools: list[ToolRecord]
    db_sha256: str
    tools_sha256: str
    env_sha256: str
    """Hash over the db and tools hashes: what a task pins."""
    provenance: Provenance


class Difficulty(_Model):
    """Where a task sits in its escalation chain."""

    level: int = Field(ge=0)
    parent_task_id: str | None = None
    knobs: dict[str, Any] = Field(default_factory=dict)
    """What was raised at this level, e.g. ``{"num_constraints": 3, "num_hops": 2, "num_tools": 4}``."""
    num_ref_tool_calls: int = Field(ge=0)


class QualityCheck(_Model):
    """One check the task passed (or failed), with its details (e.g. how many non-answers were tried)."""

    name: str
    passed: bool
    details: dict[str, Any] = Field(default_factory=dict)


class PassKStats(_Model):
    """Raw outcomes of a pass@k run on one task, the rule that stopped it, and its estimates.

    Example: ``PassKStats(k=100, num_attempts=3, num_successes=1, stopped_by="first_success", outcomes=[0, 0, 1],
    pass_at_k_estimate=None, wilson_low=0.06, wilson_high=0.79)``.
    """

    k: int = Field(ge=1)
    num_attempts: int = Field(ge=0)
    num_successes: int = Field(ge=0)
    stopped_by: str
    """The stopping rule that ended the run: "first_success", "sprt_drop", "fixed_n", "too_easy", "budget", ..."""
    outcomes: list[int] = Field(default_factory=list)
    """1 per success and 0 per failure, in attempt order (kept raw so estimates can be recomputed under any rule)."""
    pass_at_k_estimate: float | None = None
    """The Codex unbiased pass@k; only meaningful for fixed-n runs (None otherwise)."""
    wilson_low: float = Field(ge=0.0, le=1.0)
    wilson_high: float = Field(ge=0.0, le=1.0)
    is_kept: bool | None = None
    """The filter's decision for this run (None when the stats were recorded outside a filter)."""
    num_episodes: int = Field(default=0, ge=0)
    """Episodes played, env-error retries included (what the run cost)."""
    num_env_errors: int = Field(default=0, ge=0)
    """Episodes that failed for infrastructure reasons: retried, never counted as failures."""
    policy: str = ""
    """The policy that made the attempts (its --policy spec or a description)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The filter settings that produced the decision (k, rounds, SPRT p0/p1/alpha/beta, ...)."""

    @model_validator(mode="after")
    def _consistent(self) -> PassKStats:
        if self.num_successes > self.num_attempts:
            raise ValueError(f"num_successes ({self.num_successes}) exceeds num_attempts ({self.num_attempts})")
        if any(o not in (0, 1) for o in self.outcomes):
            raise ValueError(f"outcomes must be 0 or 1, got {sorted(set(self.outcomes) - {0, 1})}")
        if self.wilson_low > self.wilson_high:
            raise ValueError(f"wilson_low ({self.wilson_low}) exceeds wilson_high ({self.wilson_high})")
        return self


class TaskMeta(_Model):
    """What `Task.meta` holds for a synthesized general-agent task."""

    category: str
    env_id: str
    env_sha256: str
    difficulty: Difficulty
    quality: list[QualityCheck] = Field(default_factory=list)
    dedup_key: str
    """The tool-signature hash plus the prompt MinHash band keys that dedup compared."""
    status: Literal["candidate", "validated", "rejected", "accepted"] = "validated"
    provenance: Provenance
    passk: list[PassKStats] = Field(default_factory=list)
