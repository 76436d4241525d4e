"""The pass@k filter's decisions, as pure functions of one task's outcomes so far (no rollouts, no I/O).

A task is kept iff the policy solves it at least once in `k` attempts. Attempts run in rounds (8, 16, 32, ... per
task); after each round every live task is judged on all its outcomes so far (a group-sequential test):

1. any success → the task is solvable (`first_success`); without a too-easy test it stops and is kept;
2. no success and the drop test (`SPRTConfig`, H0: p ≤ p0 "unsolvable for this policy" against H1: p ≥ p1) accepts
   H0 → dropped (`sprt_unsolvable`). With no success the test reduces to a failure count; p0 = 0.005, p1 = 0.05,
   α = β = 0.05 drops after 64 failures;
3. `k` attempts and no success → dropped (`budget`), exactly as the naive filter would;
4. optionally, once solvable, a second SPRT (H0: p ≤ q0 "useful" against H1: p ≥ q1 "too easy") runs on the same
   outcomes: H1 → dropped (`sprt_too_easy`), H0 → kept (`sprt_not_too_easy`), undecided at `k` → kept (`budget`).

Episodes that fail for infrastructure reasons (`env_error`) are not outcomes: they are retried in later rounds, up to
`max_env_errors` per task, after which the task stops undecided (`env_errors`, not kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentgym.synth.sprt import SPRTConfig

DEFAULT_DROP_TEST = SPRTConfig(p0=0.005, p1=0.05, alpha=0.05, beta=0.05)
DEFAULT_TOO_EASY_TEST = SPRTConfig(p0=0.6, p1=0.97, alpha=0.05, beta=0.05)  # 8/8 successes accepts "too easy"


@dataclass(frozen=True, kw_only=True, slots=True)
class FilterConfig:
    """How the pass@k filter samples and decides.

    Attributes:
        k: the attempt budget per task; keep iff at least one of (up to) k attempts succeeds.
        first_round_size: attempts per task in the first round.
        growth: each round is this many times the previous one (rounds are trimmed to what a task can still use).
        drop_test: the SPRT that drops a task with no success early; None runs every such task to `k`.
        too_easy_test: an SPRT that drops solvable tasks whose success rate is too high; None keeps them all.
        sequential: False runs the naive filter: one round of exactly `k` attempts per task (fixed n, so the Codex
            estimator is unbiased).
        max_env_errors: env_error episodes tolerated per task (each is retried) before it stops undecided.
        concurrency: episodes in flight at once across the whole batch.
        max_turns: assistant turns per episode.
        seed: base seed of the env seeds of every round.
    """

    k: int = 100
    first_round_size: int = 8
    growth: float = 2.0
    drop_test: SPRTConfig | None = DEFAULT_DROP_TEST
    too_easy_test: SPRTConfig | None = None
    sequential: bool = True
    max_env_errors: int = 8
    concurrency: int = 16
    max_turns: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("k", "first_round_size", "concurrency", "max_turns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.max_env_errors, bool) or not isinstance(self.max_env_errors, int) or self.max_env_errors < 0:
            raise ValueError(f"max_env_errors must be a non-negative integer, got {self.max_env_errors!r}")
        if not isinstance(self.growth, (int, float)) or isinstance(self.growth, bool) or self.growth < 1.0:
            raise ValueError(f"growth must be a number >= 1, got {self.growth!r}")
        for name in ("drop_test", "too_easy_test"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, SPRTConfig):
                raise ValueError(f"{name} must be an SPRTConfig or None, got {value!r}")

    def round_size(self, round_index: int) -> int:
        """Attempts per task in round `round_index` (0-based) before trimming: first_round_size · growth^round."""
        if not self.sequential:
            return self.k
        return max(1, round(self.first_round_size * self.growth ** round_index))

    def fingerprint(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues (concurrency may change)."""
        def test(t: SPRTConfig | None) -> list[float] | None:
            return None if t is None else [t.p0, t.p1, t.alpha, t.beta]

        return {"k": self.k, "first_round_size": self.first_round_size, "growth": self.growth,
                "drop_test": test(self.drop_test), "too_easy_test": test(self.too_easy_test),
                "sequential": self.sequential, "max_env_errors": self.max_env_errors, "max_turns": self.max_turns,
                "seed": self.seed}


@dataclass(kw_only=True, slots=True)
class TaskState:
    """One task's record in a filter run.

    Attributes:
        task_id: the task.
        outcomes: every counted attempt's success, in the order the attempts were sampled.
        num_episodes: episodes run for this task, env errors included (the cost).
        num_env_errors: episodes that failed for infrastructure reasons (not outcomes).
        stopped_by: why sampling stopped (None while live); see the module docstring.
        is_kept: the decision (None while live).
    """

    task_id: str
    outcomes: list[bool] = field(default_factory=list)
    num_episodes: int = 0
    num_env_errors: int = 0
    stopped_by: str | None = None
    is_kept: bool | None = None

    @property
    def num_successes(self) -> int:
        return sum(self.outcomes)

    @property
    def num_failures(self) -> int:
        return len(self.outcomes) - self.num_successes

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "outcomes": [int(o) for o in self.outcomes],
                "num_episodes": self.num_episodes, "num_env_errors": self.num_env_errors,
                "stopped_by": self.stopped_by, "is_kept": self.is_kept}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TaskState:
        return cls(task_id=record["task_id"], outcomes=[bool(o) for o in record["outcomes"]],
                   num_episodes=record["num_episodes"], num_env_errors=record["num_env_errors"],
                   stopped_by=record["stopped_by"], is_kept=record["is_kept"])


def useful_attempts(state: TaskState, config: FilterConfig) -> int:
    """How many more attempts could change this task's decision (the round is trimmed to the live maximum)."""
    remaining = config.k - len(state.outcomes)
    if state.num_successes == 0 and config.drop_test is not None and config.sequential:
        return max(1, min(remaining, config.drop_test.failures_to_accept_h0(0, state.num_failures)))
    return max(1, remaining)


def decide(state: TaskState, config: FilterConfig) -> None:
    """Judge a live task on all its outcomes so far; sets `stopped_by` and `is_kept` once it is settled."""
    _decide_on_outcomes(state, config)
    if state.stopped_by is None and state.num_env_errors > config.max_env_errors:
        state.stopped_by, state.is_kept = "env_errors", False


def _decide_on_outcomes(state: TaskState, config: FilterConfig) -> None:
    n, c = len(state.outcomes), state.num_successes
    if not config.sequential:
        if n >= config.k:
            state.stopped_by = "fixed_n"
            state.is_kept = c > 0 and not _is_too_easy(state, config)
        return
    if c == 0:
        if config.drop_test is not None and config.drop_test.decide(0, n) == "h0":
            state.stopped_by, state.is_kept = "sprt_unsolvable", False
        elif n >= config.k:
            state.stopped_by, state.is_kept = "budget", False
        return
    if config.too_easy_test is None:
        state.stopped_by, state.is_kept = "first_success", True
        return
    verdict = config.too_easy_test.decide(c, n - c)
    if verdict == "h1":
        state.stopped_by, state.is_kept = "sprt_too_easy", False
    elif verdict == "h0":
        state.stopped_by, state.is_kept = "sprt_not_too_easy", True
    elif n >= config.k:
        state.stopped_by, state.is_kept = "budget", True


def _is_too_easy(state: TaskState, config: FilterConfig) -> bool:
    test = config.too_easy_test
    return test is not None and test.decide(state.num_successes, state.num_failures) == "h1"
