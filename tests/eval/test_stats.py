"""The bootstrap CI and the paired bootstrap test: exact small cases, determinism, and power on clear differences."""

from __future__ import annotations

import numpy as np
import pytest

from agentgym.eval.stats import bootstrap_mean_ci, paired_bootstrap


def test_constant_values_give_a_zero_width_interval():
    ci = bootstrap_mean_ci([0.5, 0.5, 0.5])
    assert (ci.mean, ci.low, ci.high) == (0.5, 0.5, 0.5)


def test_two_values_interval_spans_the_possible_means():
    # Resampled means of [0, 1] are 0, 0.5, 1 with probability 1/4, 1/2, 1/4: the 2.5% and 97.5% quantiles are 0 and 1.
    ci = bootstrap_mean_ci([0.0, 1.0], num_resamples=4000)
    assert (ci.mean, ci.low, ci.high) == (0.5, 0.0, 1.0)


def test_interval_is_seeded_and_covers_the_mean():
    values = np.random.default_rng(1).random(40)
    a, b = bootstrap_mean_ci(values, seed=3), bootstrap_mean_ci(values, seed=3)
    assert a == b
    assert a.low < a.mean < a.high
    # For 40 uniform values the standard error is ~0.29/sqrt(40) = 0.046; a 95% interval is about ±0.09.
    assert 0.12 < a.high - a.low < 0.25
    assert bootstrap_mean_ci(values, seed=4) != a


def test_paired_bootstrap_of_a_constant_gain_is_maximally_significant():
    d = paired_bootstrap([0.0, 0.5, 0.0, 1.0], [1.0, 1.5, 1.0, 2.0], num_resamples=999)
    assert (d.diff, d.low, d.high, d.num_tasks) == (1.0, 1.0, 1.0, 4)
    assert d.p_value == pytest.approx(1 / 1000)


def test_paired_bootstrap_no_difference_has_p_one():
    d = paired_bootstrap([0.2, 0.7, 1.0], [0.2, 0.7, 1.0])
    assert d.diff == 0.0 and d.p_value == 1.0


def test_paired_bootstrap_separates_signal_from_noise():
    rng = np.random.default_rng(0)
    a = rng.random(60)
    shifted = paired_bootstrap(a, a + 0.1 + rng.normal(0, 0.1, 60))
    assert shifted.p_value < 0.01 and shifted.low > 0
    noise = paired_bootstrap(a, a + rng.normal(0, 0.1, 60))
    assert noise.p_value > 0.05 and noise.low < 0 < noise.high


def test_pairing_matters():
    # Same per-run means, but B is A plus a constant: the paired test sees it although the runs overlap heavily.
    a = list(np.linspace(0, 1, 30))
    assert paired_bootstrap(a, [x + 0.02 for x in a]).p_value < 0.01


@pytest.mark.parametrize("kwargs, message", [
    ({"confidence": 1.0}, r"confidence must be in \(0, 1\), got 1.0"),
    ({"num_resamples": 0}, "num_resamples must be a positive integer, got 0"),
])
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        bootstrap_mean_ci([1.0], **kwargs)


def test_mismatched_or_empty_inputs_raise():
    with pytest.raises(ValueError, match="pair up task by task, got 2 and 3"):
        paired_bootstrap([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_mean_ci([])


def test_interval_prints_mean_bounds_and_count():
    ci = bootstrap_mean_ci([0.0, 1.0, 1.0, 1.0])
    assert ci.mean == 0.75 and 0.0 <= ci.low <= 0.75 <= ci.high <= 1.0 and ci.n == 4
    assert str(ci) == f"0.750 [{ci.low:.3f}, {ci.high:.3f}] (n=4)"
    same = bootstrap_mean_ci([0.5] * 10)
    assert (same.low, same.high) == (0.5, 0.5)
    wide, narrow = bootstrap_mean_ci([0.0, 1.0] * 5), bootstrap_mean_ci([0.0, 1.0] * 200)
    assert narrow.high - narrow.low < wide.high - wide.low
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])
