"""Intervals: normal, Poisson bootstrap (percentile, BCa) and empirical Bernstein; their
statistics merge across batches exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ope_problems import SignTarget, logged, true_value
from scipy import stats

from bandits.ope import DR, ESTIMATORS, IPS, SNIPS, Moments, make_estimator
from bandits.ope.intervals import bca_acceleration, bernstein_interval, bootstrap_interval
from bandits.ope.rowkeys import poisson_weights, row_keys
from bandits.ope.statistics import merge_third, third_comoment
from bandits.validation import InputValueError


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 30), cuts=st.lists(st.integers(0, 30)))
def test_merged_third_comoments_equal_those_of_all_rows(seed, n, cuts):
    rows = np.random.default_rng(seed).exponential(size=(n, 3)) * [1.0, 10.0, 0.1] + [0, 5, 1]
    edges = sorted({0, n, *(c for c in cuts if c <= n)})
    moments, third = Moments.of(rows[:0]), third_comoment(rows[:0])
    for start, stop in itertools.pairwise(edges):
        part = rows[start:stop]
        third = merge_third(moments, Moments.of(part), third, third_comoment(part))
        moments = moments.merge(Moments.of(part))
    np.testing.assert_allclose(third, third_comoment(rows), rtol=1e-8, atol=1e-8)


def test_poisson_weights_have_mean_and_variance_one_and_follow_the_key():
    log = logged(np.random.default_rng(0), 20_000)
    keys = row_keys(log, salt=11)
    draws = poisson_weights(keys, 5)
    n = draws.size
    assert abs(draws.mean() - 1) < 4 * np.sqrt(1 / n)
    assert abs(draws.var() - 1) < 4 * np.sqrt(3 / n)  # var of (X - 1)^2 for Poisson(1) is 3
    assert (draws == 0).mean() == pytest.approx(np.exp(-1), abs=4 * np.sqrt(0.25 / n))
    np.testing.assert_array_equal(poisson_weights(keys[100:200], 5), draws[:, 100:200])
    assert (poisson_weights(row_keys(log, salt=12), 5) != draws).any()


def test_normal_interval_of_ips_by_hand():
    log = logged(np.random.default_rng(1), 50)
    estimate = IPS(confidence=0.9).estimate(log, SignTarget())
    half = stats.norm.ppf(0.95) * estimate.stderr
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(
        (estimate.value - half, estimate.value + half)
    )
    assert estimate.interval == "normal"


def test_bernstein_interval_by_hand():
    # terms in [0, 2]: mean 1, sample variance 0.5, n 10, alpha 0.05
    low, high = bernstein_interval(1.0, 0.5, 10, (0.0, 2.0), 0.95)
    log_term = np.log(4 / 0.05)
    assert np.sqrt(2 * 0.5 * log_term / 10) + 7 * 2 * log_term / (3 * 9) > 1
    assert (low, high) == (0.0, 2.0)  # the bound is wider than the range: cut to it
    low, high = bernstein_interval(1.0, 0.5, 10_000, (0.0, 2.0), 0.95)
    half = np.sqrt(2 * 0.5 * log_term / 10_000) + 7 * 2 * log_term / (3 * 9_999)
    assert (low, high) == pytest.approx((1 - half, 1 + half), rel=1e-12)


def test_bernstein_interval_of_ips_uses_the_range_of_weighted_rewards():
    log = logged(np.random.default_rng(2), 4000)
    estimate = IPS(interval="bernstein", reward_range=[-1.0, 2.0]).estimate(log, SignTarget())
    terms = IPS().row_terms(_input(log))
    weights = _input(log).weights
    term_range = (float((weights * -1.0).min()), float((weights * 2.0).max()))
    expected = bernstein_interval(estimate.value, terms.var(ddof=1), 4000, term_range, 0.95)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(expected, rel=1e-12)
    normal = IPS().estimate(log, SignTarget())
    assert estimate.ci_high - estimate.ci_low > normal.ci_high - normal.ci_low
    assert estimate.ci_low <= true_value() <= estimate.ci_high and estimate.interval == "bernstein"


def _input(log):
    from bandits.ope import EstimatorInput, target_probabilities

    return EstimatorInput(log, target_probabilities(SignTarget(), log), SignTarget())


def test_bernstein_needs_a_bounded_mean_and_a_reward_range():
    with pytest.raises(InputValueError, match="cannot be 'bernstein'"):
        SNIPS(interval="bernstein", reward_range=[0, 1])
    with pytest.raises(InputValueError, match="cannot be 'bernstein'"):
        make_estimator("switch-dr:threshold=auto", interval="bernstein", reward_range=[0, 1])
    with pytest.raises(InputValueError, match="needs 'reward_range'"):
        DR(interval="bernstein")
    with pytest.raises(InputValueError, match="low < high"):
        IPS(interval="bernstein", reward_range=[1, 0])
    with pytest.raises(InputValueError, match=r"Unknown 'interval' of IPS 'exact'"):
        IPS(interval="exact")
    make_estimator("switch-dr:threshold=10", interval="bernstein", reward_range=[0, 1])


def test_bca_acceleration_is_the_skewness_of_the_influence_values():
    rows = np.random.default_rng(3).exponential(size=(200, 1))
    centred = rows[:, 0] - rows.mean()
    expected = (centred**3).sum() / (6 * (centred**2).sum() ** 1.5)
    got = bca_acceleration(Moments.of(rows), third_comoment(rows), np.array([1.0]))
    assert got == pytest.approx(expected, rel=1e-12) and got > 0


def test_bca_equals_the_percentile_interval_without_bias_or_acceleration():
    replicates = np.linspace(-1, 1, 1001)  # symmetric about the estimate 0: z0 = 0
    percentile = bootstrap_interval(0.0, replicates, 0.9, None)
    assert bootstrap_interval(0.0, replicates, 0.9, 0.0) == pytest.approx(percentile)
    assert percentile == pytest.approx((-0.9, 0.9))
    shifted = bootstrap_interval(0.0, replicates, 0.9, 0.1)  # positive skew: moves right
    assert shifted[0] > percentile[0] and shifted[1] > percentile[1]


@pytest.mark.parametrize("interval", ["bootstrap", "bootstrap-percentile"])
def test_bootstrap_intervals_agree_with_the_normal_one_on_a_large_sample(interval):
    log = logged(np.random.default_rng(4), 4000)
    for cls in (IPS, DR):
        normal = cls().estimate(log, SignTarget())
        boot = cls(interval=interval, bootstrap_samples=2000).estimate(log, SignTarget())
        assert boot.value == normal.value and boot.interval == interval
        assert boot.ci_low < boot.value < boot.ci_high
        width, normal_width = boot.ci_high - boot.ci_low, normal.ci_high - normal.ci_low
        assert width == pytest.approx(normal_width, rel=0.15)


def test_bca_shifts_a_skewed_estimate_right():
    """Rare large rewards: the IPS terms are right-skewed, so BCa reaches further up."""
    log = logged(np.random.default_rng(5), 400)
    percentile = IPS(interval="bootstrap-percentile").estimate(log, SignTarget())
    bca = IPS(interval="bootstrap").estimate(log, SignTarget())
    skewed = stats.skew(IPS().row_terms(_input(log)))
    assert skewed > 0
    assert bca.ci_high > percentile.ci_high and bca.ci_low > percentile.ci_low


def test_the_bootstrap_seed_changes_the_interval_but_not_the_value():
    log = logged(np.random.default_rng(6), 300)
    a = IPS(interval="bootstrap", rng=np.random.default_rng(1)).estimate(log, SignTarget())
    b = IPS(interval="bootstrap", rng=np.random.default_rng(2)).estimate(log, SignTarget())
    c = IPS(interval="bootstrap", rng=np.random.default_rng(1)).estimate(log, SignTarget())
    assert (
        a.value == b.value
        and a.ci_low != b.ci_low
        and (a.ci_low, a.ci_high)
        == (
            c.ci_low,
            c.ci_high,
        )
    )


@pytest.mark.parametrize("interval", ["bootstrap", "bootstrap-percentile", "bernstein"])
@pytest.mark.parametrize("name", ["ips", "snips", "dr", "sndr", "switch-dr", "dros", "dm"])
def test_intervals_over_batches_equal_the_in_memory_ones(name, interval):
    if interval == "bernstein" and name in ("snips", "sndr", "switch-dr", "dros"):
        spec = {"switch-dr": "switch-dr:threshold=4", "dros": "dros:shrinkage=16"}.get(name)
        if spec is None:
            return  # refused at construction (tested above)
        name = spec
    log = logged(np.random.default_rng(7), 300)
    options = dict(interval=interval, bootstrap_samples=200, reward_range=[-1.0, 2.5])
    whole = make_estimator(name, **options).estimate(log, SignTarget())
    batches = [log.take(np.arange(s, min(s + 37, 300))) for s in range(0, 300, 37)]
    streamed = make_estimator(name, **options).estimate_batches(batches, SignTarget())
    for field in ("value", "stderr", "ci_low", "ci_high"):
        assert getattr(streamed, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    assert streamed.tuning == whole.tuning


def test_every_interval_is_offered_by_every_estimator_that_can():
    for name, cls in ESTIMATORS.items():
        for interval in ("normal", "bootstrap", "bootstrap-percentile"):
            assert cls(interval=interval).interval == interval, name
