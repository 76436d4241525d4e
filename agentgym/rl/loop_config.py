"""The `learnability:` and `heldout:` sections of a train config: how tasks are drawn by live difficulty, and how
held-out sets are split off and evaluated (docs/synthesis.md, "Close the loop")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LearnabilitySection(BaseModel):
    """Settings of `sampler: learnability` (weight each task by p(1 − p) of its live pass-rate estimate)."""

    model_config = ConfigDict(extra="forbid")

    floor: float = Field(0.01, ge=0, le=0.25)
    """Smallest weight of a task (an unseen task weighs 0.25): always- and never-solved tasks fade to it, never to 0."""
    prior_strength: float = Field(2.0, gt=0)
    """a + b of the Beta prior on each task's pass rate (a = b: an unseen task is at p = 0.5)."""
    max_filter_attempts: int = Field(8, ge=0)
    """A task file's pass@k record (`agentgym filter`) starts the estimate as at most this many pseudo-attempts
    (0: ignore it)."""


class HeldoutSection(BaseModel):
    """Periodic evaluation on each env's held-out set (`num_heldout` split off its pool, or its `heldout_tasks` file),
    always disjoint from training by id and by content (`agentgym.heldout`)."""

    model_config = ConfigDict(extra="forbid")

    every: int = Field(0, ge=0)
    """Play the held-out sets every K steps and after the last step (0: never play them; they are still held out)."""
    seed: int = 0
    """Seed of the split and of the evaluation episodes."""
    max_turns: int | None = Field(None, ge=1)
    """Turns per held-out episode (None: `sampling.max_turns`)."""
