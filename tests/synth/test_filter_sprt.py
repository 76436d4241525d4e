"""The SPRT and the estimates the filter records, each against its formula written out by hand."""

from __future__ import annotations

import itertools
import math

import pytest
from agentgym.passk import pass_at_k as codex_pass_at_k
from agentgym.passk import wilson_interval
from agentgym.synth.sprt import SPRTConfig


def test_default_drop_test_accepts_h0_after_64_failures():
    test = SPRTConfig(p0=0.005, p1=0.05, alpha=0.05, beta=0.05)
    assert math.isclose(test.lower, math.log(0.05 / 0.95))
    assert math.isclose(test.upper, math.log(0.95 / 0.05))
    assert test.decide(0, 63) is None and test.decide(0, 64) == "h0"
    assert test.failures_to_accept_h0(0, 0) == 64
    assert test.failures_to_accept_h0(0, 40) == 24 and test.failures_to_accept_h0(0, 70) == 0


def test_log_likelihood_ratio_matches_the_bernoulli_likelihoods():
    test = SPRTConfig(p0=0.2, p1=0.6)
    s, f = 3, 5
    expected = math.log((0.6 ** s * 0.4 ** f) / (0.2 ** s * 0.8 ** f))
    assert math.isclose(test.log_likelihood_ratio(s, f), expected)
    assert test.decide(8, 0) == "h1"  # 8 ln 3 = 8.8 > ln 19


def test_one_success_moves_the_drop_test_away_from_h0():
    test = SPRTConfig(p0=0.005, p1=0.05)
    assert test.failures_to_accept_h0(1, 10) > test.failures_to_accept_h0(0, 10)


def test_too_easy_default_accepts_h1_on_eight_of_eight():
    test = SPRTConfig(p0=0.6, p1=0.97)
    assert test.decide(8, 0) == "h1"
    assert test.decide(7, 1) is None
    assert test.decide(4, 4) == "h0"


@pytest.mark.parametrize("kwargs, message", [
    ({"p0": 0.0, "p1": 0.5}, "p0 must be a probability strictly between 0 and 1, got 0.0"),
    ({"p0": 0.5, "p1": 0.2}, "p1 must be greater than p0, got p0=0.5, p1=0.2"),
    ({"p0": 0.1, "p1": 0.2, "alpha": 0.5}, "alpha must be in (0, 0.5), got 0.5"),
    ({"p0": 0.1, "p1": 1.0}, "p1 must be a probability strictly between 0 and 1, got 1.0"),
])
def test_sprt_config_names_the_bad_field(kwargs, message):
    with pytest.raises(ValueError, match=f"^{__import__('re').escape(message)}$"):
        SPRTConfig(**kwargs)


@pytest.mark.parametrize("n, c, k", [(5, 2, 1), (5, 2, 2), (6, 1, 3), (7, 0, 2), (7, 7, 3), (8, 3, 8)])
def test_codex_estimator_is_the_mean_over_all_k_subsets(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    expected = sum(any(s) for s in subsets) / len(subsets)
    assert math.isclose(codex_pass_at_k(n, c, k), expected)


def test_wilson_interval_matches_the_closed_form():
    low, high = wilson_interval(10, 5)
    assert math.isclose(low, 0.2365931, abs_tol=1e-6) and math.isclose(high, 0.7634069, abs_tol=1e-6)
    low, high = wilson_interval(64, 0)
    z2 = 1.959963984540054 ** 2
    assert low == 0.0 and math.isclose(high, z2 / 64 / (1 + z2 / 64))
    assert wilson_interval(0, 0) == (0.0, 1.0)
