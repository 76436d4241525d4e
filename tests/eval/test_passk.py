"""pass@k and pass^k against hand-computed values and against brute-force enumeration of every k-subset."""

from __future__ import annotations

import itertools
import math

import pytest

from agentgym.passk import curve, mean_over_tasks, pass_at_k, pass_hat_k


def test_hand_computed_n5_c2():
    # 5 samples, 2 correct. Of the C(5,2) = 10 pairs, C(3,2) = 3 have no correct sample and C(2,2) = 1 has two.
    assert pass_at_k(5, 2, 1) == pytest.approx(2 / 5)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 0.7
    assert pass_hat_k(5, 2, 1) == pytest.approx(2 / 5)
    assert pass_hat_k(5, 2, 2) == pytest.approx(1 / 10)
    assert pass_hat_k(5, 2, 3) == 0.0  # three correct out of two is impossible
    assert pass_at_k(5, 2, 4) == 1.0  # only 3 wrong samples: any 4 contain a correct one


def test_hand_computed_n10_c3_k5():
    # Triples of wrong samples: C(7,5) = 21 of C(10,5) = 252 five-subsets are all wrong.
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    # All-correct 2-subsets: C(3,2) = 3 of C(10,2) = 45.
    assert pass_hat_k(10, 3, 2) == pytest.approx(3 / 45)


@pytest.mark.parametrize("n", range(1, 8))
def test_matches_enumeration_of_subsets(n):
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(outcomes, k))
            assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
            assert pass_hat_k(n, c, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))


def test_large_n_is_stable():
    # 1 − C(199,100)/C(200,100) = 1 − 100/200 exactly; the binomials themselves have ~60 digits.
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5, abs=1e-12)
    # C(999,1)/C(1000,1) · ... : pass^2 with c = n − 1 is (n−1)/n · (n−2)/(n−1) = (n−2)/n.
    assert pass_hat_k(1000, 999, 2) == pytest.approx(998 / 1000, abs=1e-12)
    # A tiny pass@1 on a huge n is not lost to cancellation.
    assert pass_at_k(100_000, 1, 1) == pytest.approx(1e-5, rel=1e-9)
    assert math.isfinite(pass_at_k(5000, 2500, 2500))


def test_mean_over_tasks_weights_tasks_equally():
    counts = [(5, 2), (5, 5)]
    assert mean_over_tasks(counts, 2) == pytest.approx((0.7 + 1.0) / 2)
    assert mean_over_tasks(counts, 2, all_k=True) == pytest.approx((0.1 + 1.0) / 2)
    # (5, 2): pass@3 = 1 − C(3,3)/C(5,3) = 0.9; (3, 0) never passes; k stops at the smaller n.
    assert curve([(5, 2), (3, 0)]) == pytest.approx({1: 0.2, 2: 0.35, 3: 0.45})


@pytest.mark.parametrize("args, message", [
    ((0, 0, 1), "n must be >= 1, got 0"),
    ((5, 6, 1), r"c must be in \[0, n=5\], got 6"),
    ((5, 2, 0), r"k must be in \[1, n=5\], got 0"),
    ((5, 2, 6), r"k must be in \[1, n=5\], got 6"),
])
def test_bad_arguments_raise_value_error_naming_the_field(args, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        pass_at_k(*args)
    with pytest.raises(ValueError, match=f"^{message}$"):
        pass_hat_k(*args)


def test_non_integer_counts_raise_type_error():
    with pytest.raises(TypeError, match="^c must be an integer, got 2.0$"):
        pass_at_k(5, 2.0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        curve([])
