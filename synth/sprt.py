"""Wald's sequential probability ratio test (SPRT) for a Bernoulli success rate: the filter's early-stop rule.

The test weighs H0: p ≤ p0 against H1: p ≥ p1 (p0 < p1) one attempt at a time. Each success adds ln(p1/p0) to the
log-likelihood ratio, each failure adds ln((1−p1)/(1−p0)); the test accepts H1 once the ratio reaches
ln((1−β)/α) and accepts H0 once it falls to ln(β/(1−α)). Wald's bounds: P(accept H1 | p = p0) ≤ α/(1−β) ≈ α and
P(accept H0 | p = p1) ≤ β/(1−α) ≈ β. With p0 = 0.005, p1 = 0.05, α = β = 0.05, a run with no success accepts H0 after
64 failures (ln(0.05/0.95) / ln(0.95/0.995) = 63.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Decision = Literal["h0", "h1"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SPRTConfig:
    """The two hypotheses about a task's per-attempt success probability p, and the error rates.

    Attributes:
        p0: H0 says p ≤ p0.
        p1: H1 says p ≥ p1; must exceed p0.
        alpha: the largest acceptable probability of accepting H1 when p = p0.
        beta: the largest acceptable probability of accepting H0 when p = p1.
    """

    p0: float
    p1: float
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        for name in ("p0", "p1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be a probability strictly between 0 and 1, got {value!r}")
        if not self.p0 < self.p1:
            raise ValueError(f"p1 must be greater than p0, got p0={self.p0!r}, p1={self.p1!r}")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5), got {value!r}")

    @property
    def upper(self) -> float:
        """The log-likelihood ratio at which H1 is accepted: ln((1−β)/α)."""
        return math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        """The log-likelihood ratio at which H0 is accepted: ln(β/(1−α))."""
        return math.log(self.beta / (1.0 - self.alpha))

    def log_likelihood_ratio(self, num_successes: int, num_failures: int) -> float:
        """ln P(outcomes | p1) / P(outcomes | p0) for the given counts (the order of outcomes does not matter)."""
        return (num_successes * math.log(self.p1 / self.p0)
                + num_failures * math.log((1.0 - self.p1) / (1.0 - self.p0)))

    def decide(self, num_successes: int, num_failures: int) -> Decision | None:
        """"h1", "h0", or None while the ratio is still between the two boundaries."""
        llr = self.log_likelihood_ratio(num_successes, num_failures)
        if llr >= self.upper:
            return "h1"
        if llr <= self.lower:
            return "h0"
        return None

    def failures_to_accept_h0(self, num_successes: int, num_failures: int) -> int:
        """How many more failures in a row make the test accept H0 (0 when it already has)."""
        gap = self.log_likelihood_ratio(num_successes, num_failures) - self.lower
        if gap <= 0:
            return 0
        step = -math.log((1.0 - self.p1) / (1.0 - self.p0))
        return math.ceil(gap / step - 1e-9)
