"""The per-env reward mix of a train config's env entry: verifier reward and rubric (judge) reward."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RewardMix(BaseModel):
    """``reward:`` of an env entry. The default (verifier 1, rubric 0) is the env's own reward, unchanged."""

    model_config = ConfigDict(extra="forbid")

    verifier: float = Field(1.0, ge=0)
    """Weight of the env's verifier reward."""
    rubric: float = Field(0.0, ge=0)
    """Weight of the judge's rubric score in [0, 1] (tasks with ``data["rubric"]``; others keep the verifier reward)."""
    judge: str | None = None
    """The judge policy: ``openai:MODEL@URL``, ``engine:MODEL``, ... (required when rubric > 0)."""
    mode: Literal["pointwise", "group"] = "pointwise"
    """pointwise: each trajectory scored alone; group: a GRPO group ranked in one call (relative judging)."""
    group_size: int | None = Field(None, ge=2)
    """Group mode: trajectories ranked together (None: the run's group_size)."""
    group_wait_s: float = Field(30.0, gt=0)
    """Group mode: how long a finished episode waits for the rest of its group before the judge ranks what came."""
    max_concurrency: int = Field(16, ge=1)
    """Judge calls in flight at once (a batching judge serves them together)."""

    @model_validator(mode="after")
    def _judge_when_used(self) -> RewardMix:
        if self.rubric > 0 and not self.judge:
            raise ValueError("reward.rubric > 0 needs reward.judge (a policy spec such as openai:MODEL@URL)")
        return self

    @property
    def uses_rubric(self) -> bool:
        return self.rubric > 0
