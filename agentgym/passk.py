"""pass@k (at least one of k succeeds), pass^k (all k succeed) and Wilson intervals from n samples with c successes.

Pure math shared by evaluation (`agentgym.eval`) and the pass@k filter (`agentgym.synth.filter`).

Both are exact expectations over a uniformly random k-subset of the n recorded samples, so they are unbiased estimates
of the policy's true pass@k and pass^k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", §2.1;
Yao et al. 2024, τ-bench, for pass^k). The binomial ratios are written as running products so that n = 1000 never
forms a 300-digit binomial coefficient or loses precision to cancellation.
"""

from __future__ import annotations

import math
from typing import Sequence

WILSON_Z95 = 1.959963984540054


def _check(n: int, c: int, k: int) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= c <= n:
        raise ValueError(f"c must be in [0, n={n}], got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement passes) = 1 − C(n−c, k) / C(n, k).

    C(n−c, k)/C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i), the Codex product form.
    Example: n=5, c=2 → pass@1 = 0.4, pass@2 = 0.7.
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def pass_hat_k(n: int, c: int, k: int) -> float:
    """P(all k samples drawn without replacement pass) = C(c, k) / C(n, k) = Π_{i=0}^{k−1} (c − i)/(n − i).

    Example: n=5, c=2 → pass^1 = 0.4, pass^2 = 0.1. It falls with k for a policy that is right only some of the time,
    which is what it is for: reliability, not luck.
    """
    _check(n, c, k)
    if c < k:
        return 0.0
    prob = 1.0
    for i in range(k):
        prob *= (c - i) / (n - i)
    return prob


def mean_over_tasks(counts: Sequence[tuple[int, int]], k: int, *, all_k: bool = False) -> float:
    """The mean of pass@k (or pass^k with `all_k`) over tasks given as (n, c) pairs; each task weighs the same."""
    if not counts:
        raise ValueError("counts must hold at least one (n, c) pair")
    estimator = pass_hat_k if all_k else pass_at_k
    return sum(estimator(n, c, k) for n, c in counts) / len(counts)


def curve(counts: Sequence[tuple[int, int]], *, all_k: bool = False) -> dict[int, float]:
    """{k: mean pass@k} (or pass^k) for k = 1 … min n over the tasks."""
    if not counts:
        raise ValueError("counts must hold at least one (n, c) pair")
    max_k = min(n for n, _ in counts)
    return {k: mean_over_tasks(counts, k, all_k=all_k) for k in range(1, max_k + 1)}


def wilson_interval(n: int, c: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """The Wilson score interval for the per-attempt success probability (95% by default); (0, 1) when n = 0.

    Unlike c/n ± z·se it stays inside [0, 1] and is not empty at c = 0: 0/64 gives (0, 0.057).
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if n == 0:
        return 0.0, 1.0
    p = c / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
