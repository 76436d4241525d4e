"""Seeded bootstrap statistics over tasks: a CI for a mean, and a paired test for the difference of two runs.

Samples of one task are correlated (same prompt, same difficulty), so both resample *tasks* with replacement (a
cluster bootstrap) and use per-task means; resampling episodes would make the intervals too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

CI_METHOD = "95% percentile bootstrap over tasks"
DEFAULT_NUM_RESAMPLES = 2000


@dataclass(frozen=True, kw_only=True, slots=True)
class Interval:
    """A mean with its (low, high) bootstrap interval, over `n` values, at `confidence`.

    Printed as ``0.750 [0.250, 1.000] (n=4)``.
    """

    mean: float
    low: float
    high: float
    n: int = 0
    confidence: float = 0.95

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}] (n={self.n})"


@dataclass(frozen=True, kw_only=True, slots=True)
class PairedDifference:
    """Run B minus run A over the tasks both ran.

    Attributes:
        diff: mean over tasks of (B − A).
        low, high: the bootstrap confidence interval of `diff`.
        p_value: two-sided bootstrap p-value for "no difference" (the resampled differences, re-centred on 0, that
            are at least as far from 0 as the observed one; never reported below 1/(resamples+1)).
        num_tasks: tasks in the pairing.
    """

    diff: float
    low: float
    high: float
    p_value: float
    num_tasks: int


def _resample_means(values: np.ndarray, *, num_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(num_resamples, len(values)))
    return values[picks].mean(axis=1)


def _validate(values: Sequence[float], confidence: float, num_resamples: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {array.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"num_resamples must be a positive integer, got {num_resamples!r}")
    return array


def bootstrap_mean_ci(
    values: Sequence[float], *, confidence: float = 0.95, num_resamples: int = DEFAULT_NUM_RESAMPLES, seed: int = 0
) -> Interval:
    """The mean of `values` (one per task) and its percentile bootstrap interval. One value gives a zero-width one.

    Example: [0, 1, 1, 1] -> mean 0.75 with an interval inside [0, 1] that contains 0.75.
    """
    array = _validate(values, confidence, num_resamples)
    means = _resample_means(array, num_resamples=num_resamples, seed=seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(mean=float(array.mean()), low=float(low), high=float(high), n=int(array.size),
                    confidence=confidence)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    seed: int = 0,
) -> PairedDifference:
    """Paired bootstrap of mean(b − a), where a[i] and b[i] are the two runs' scores on the same task i."""
    if len(a) != len(b):
        raise ValueError(f"a and b must pair up task by task, got {len(a)} and {len(b)} values")
    diffs = _validate(b, confidence, num_resamples) - _validate(a, confidence, num_resamples)
    observed = float(diffs.mean())
    means = _resample_means(diffs, num_resamples=num_resamples, seed=seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    # Under H0 the differences are centred on 0: shift the bootstrap distribution there and count the extremes.
    num_extreme = int(np.sum(np.abs(means - observed) >= abs(observed) - 1e-12))
    p_value = 1.0 if observed == 0.0 else (num_extreme + 1) / (num_resamples + 1)
    return PairedDifference(diff=observed, low=float(low), high=float(high), p_value=min(1.0, p_value),
                            num_tasks=len(diffs))
