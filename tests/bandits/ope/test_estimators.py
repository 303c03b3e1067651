"""Off-policy estimators: exact small cases, contracts over every estimator, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_log
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from bandits.decision import SlateDecision
from bandits.logged import LoggedBandit
from bandits.ope import ESTIMATORS, IPS, SNIPS
from bandits.validation import InputTypeError, InputValueError

WEIGHT_ONLY = [name for name, cls in ESTIMATORS.items() if not cls.needs_policy]
"""Estimators that take the target's slate probabilities alone (no reward model)."""


def _log_with(rewards, logged_probability, seed=0):
    """A slate-size-1 table with the given rewards and logging probabilities."""
    rewards = np.asarray(rewards, dtype=float)
    base = random_log(
        np.random.default_rng(seed), n_requests=len(rewards), slate_size=1, signals=False
    )
    decision = SlateDecision(
        base.slates, logged_probability, np.asarray(logged_probability)[:, None]
    )
    feedback = type(base.feedback)(rewards[:, None])
    return LoggedBandit(base.observation, decision, feedback, base.policy_names)


HAND_LOG = dict(rewards=[1, 0, 1, 0], logged_probability=[0.5, 0.5, 0.25, 0.25])
HAND_TARGET = np.array([1.0, 0.0, 0.5, 0.5])  # weights 2, 0, 2, 2


def test_ips_on_a_hand_computed_log():
    estimate = IPS().estimate(_log_with(**HAND_LOG), HAND_TARGET)
    # terms w * r = [2, 0, 2, 0]: mean 1, sample sd sqrt(4/3), se sqrt(4/3) / 2
    assert estimate.value == pytest.approx(1.0)
    assert estimate.stderr == pytest.approx(np.sqrt(4 / 3) / 2)
    z = stats.norm.ppf(0.975)
    assert estimate.ci_low == pytest.approx(1.0 - z * np.sqrt(4 / 3) / 2)
    assert estimate.ci_high == pytest.approx(1.0 + z * np.sqrt(4 / 3) / 2)
    assert estimate.effective_sample_size == pytest.approx(36 / 12)
    assert estimate.max_weight == 2.0 and estimate.mean_weight == 1.5 and estimate.n == 4


def test_snips_on_a_hand_computed_log():
    estimate = SNIPS().estimate(_log_with(**HAND_LOG), HAND_TARGET)
    # sum w r / sum w = 4 / 6; delta-method terms V + w (r - V) / mean(w)
    terms = np.array([10 / 9, 6 / 9, 10 / 9, -2 / 9])
    assert estimate.value == pytest.approx(2 / 3)
    assert estimate.stderr == pytest.approx(terms.std(ddof=1) / 2)


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_policy_evaluated_against_itself_gives_the_mean_logged_reward(name):
    log = random_log(np.random.default_rng(1), n_requests=50)
    estimate = ESTIMATORS[name]().estimate(log, log.decision.slate_probability)
    assert estimate.value == pytest.approx(log.slate_rewards.mean())
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
    assert estimate.effective_sample_size == pytest.approx(50)
    assert estimate.warnings == ()


@pytest.mark.parametrize("name", WEIGHT_ONLY)
@pytest.mark.parametrize("confidence", [0.8, 0.99])
def test_interval_width_follows_the_confidence_level(name, confidence):
    log = random_log(np.random.default_rng(2), n_requests=40)
    target = np.random.default_rng(3).uniform(0, 1, 40)
    estimate = ESTIMATORS[name](confidence=confidence).estimate(log, target)
    half = stats.norm.ppf(0.5 + confidence / 2) * estimate.stderr
    assert estimate.ci_high - estimate.value == pytest.approx(half)
    assert estimate.confidence == confidence


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_bad_target_probabilities_name_the_row(name):
    log = random_log(np.random.default_rng(4), n_requests=5)
    target = np.full(5, 0.5)
    target[2] = 1.5
    with pytest.raises(
        ValueError, match=r"target probabilities must lie in \[0, 1\]; row 2 is 1.5"
    ):
        ESTIMATORS[name]().estimate(log, target)
    with pytest.raises(InputValueError, match=r"target probabilities must have shape \(5\)"):
        ESTIMATORS[name]().estimate(log, np.full(4, 0.5))


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("confidence", [0, 1, 1.5, "high"])
def test_bad_confidence_is_rejected(name, confidence):
    with pytest.raises((InputValueError, InputTypeError), match="'confidence' parameter"):
        ESTIMATORS[name](confidence=confidence)


def test_no_support_is_warned_about():
    log = random_log(np.random.default_rng(5), n_requests=20)
    estimate = IPS().estimate(log, np.zeros(20))
    assert estimate.value == 0.0
    assert any("no support" in warning for warning in estimate.warnings)


def test_heavy_weights_are_warned_about():
    log = _log_with(np.ones(1000), np.full(1000, 0.001))
    target = np.zeros(1000)
    target[0] = 1.0
    estimate = IPS().estimate(log, target)
    assert estimate.max_weight == pytest.approx(1000)
    assert any("effective sample size" in warning for warning in estimate.warnings)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30))
def test_snips_stays_within_the_logged_reward_range(seed, n):
    rng = np.random.default_rng(seed)
    log = _log_with(rng.normal(size=n), rng.uniform(0.01, 1, n), seed=seed)
    target = rng.uniform(0, 1, n)
    target[0] = max(target[0], 0.01)
    value = SNIPS().estimate(log, target).value
    rewards = log.slate_rewards
    assert rewards.min() - 1e-9 <= value <= rewards.max() + 1e-9


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_estimates_do_not_depend_on_row_order(seed):
    rng = np.random.default_rng(seed)
    log = random_log(rng, n_requests=12)
    target = rng.uniform(0, 1, 12)
    order = rng.permutation(12)
    for estimator in (IPS(), SNIPS()):
        a, b = estimator.estimate(log, target), estimator.estimate(log.take(order), target[order])
        assert a.value == pytest.approx(b.value) and a.stderr == pytest.approx(b.stderr)


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_deterministic_logger_and_missing_support_are_warned_about(name):
    # a deterministic logger (probability 1) and a target that gives its slate only 0.1:
    # the other 0.9 of the target's probability falls on slates the log never shows
    log = _log_with(np.random.default_rng(0).integers(0, 2, 200), np.ones(200))
    estimate = ESTIMATORS[name]().estimate(log, np.full(200, 0.1))
    assert estimate.mean_weight == pytest.approx(0.1)
    assert any("deterministic" in warning for warning in estimate.warnings)
    assert any("missing support" in warning for warning in estimate.warnings)


def test_full_support_raises_no_support_warning():
    rng = np.random.default_rng(1)
    log = _log_with(rng.integers(0, 2, 2000), np.full(2000, 0.5))
    target = np.where(rng.random(2000) < 0.5, 1.0, 0.0)  # mean weight 1 in expectation
    assert IPS().estimate(log, target).warnings == ()


@pytest.mark.parametrize("name", WEIGHT_ONLY)
@pytest.mark.parametrize("tiny", [1e-320, 1e-200, 1e-160])
def test_weights_too_large_to_square_are_refused_naming_the_row(name, tiny):
    log = _log_with([1.0, 0.0, 1.0], [0.5, tiny, 0.5])
    with pytest.raises(InputValueError, match=r"importance weight of row 1 is too large"):
        ESTIMATORS[name]().estimate(log, np.full(3, 0.5))


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_an_estimate_that_overflows_says_so(name):
    """Rewards near the largest float: the sums overflow to inf, and the estimate warns
    instead of printing inf as if it were a number; modest rewards raise no such warning."""
    rewards = np.array([1e308, 1e308, 0.0, 1e308])
    with np.errstate(all="ignore"):  # numpy's own overflow warnings are not the point here
        estimate = ESTIMATORS[name]().estimate(_log_with(rewards, np.full(4, 0.5)), np.full(4, 0.5))
    assert not np.isfinite(estimate.value) or not np.isfinite(estimate.stderr)
    assert any("overflowed float64" in warning for warning in estimate.warnings), estimate
    quiet = ESTIMATORS[name]().estimate(_log_with(rewards / 1e300, np.full(4, 0.5)),
                                        np.full(4, 0.5))  # fmt: skip
    assert not any("overflowed" in warning for warning in quiet.warnings)


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_an_estimate_that_overflows_to_nan_says_so(name):
    """Huge rewards of both signs times weights of 500: the terms overflow to +inf and -inf,
    whose mean is NaN (inf - inf); it warns as an infinite estimate does. A NaN from finite
    sums (SNIPS with every weight 0: 0 / 0) is no overflow and is not called one."""
    rewards = np.array([1e308, -1e308, 1e308, -1e308])
    with np.errstate(all="ignore"):
        estimate = ESTIMATORS[name]().estimate(
            _log_with(rewards, np.full(4, 1e-3)), np.full(4, 0.5)
        )
    assert np.isnan(estimate.value)
    assert any("estimate overflowed float64 and came out NaN" in warning
               for warning in estimate.warnings), estimate  # fmt: skip
    with np.errstate(all="ignore"):
        empty = ESTIMATORS[name]().estimate(_log_with([1.0, 0, 1, 0], np.full(4, 0.5)), np.zeros(4))
    assert not any("overflowed" in warning for warning in empty.warnings)


def test_a_standard_error_that_overflows_to_nan_says_so():
    """SNIPS's terms (w r, w) with w r = +-1e300 and weights 1 and 1e10: the value is exactly
    0, but the co-moments overflow and the delta-method variance meets inf - inf."""
    a = 1e300
    log = _log_with([a, -a / 1e10, a, -a / 1e10], [0.5, 0.5e-10, 0.5, 0.5e-10])
    with np.errstate(all="ignore"):
        estimate = SNIPS().estimate(log, np.full(4, 0.5))
    assert estimate.value == 0.0 and np.isnan(estimate.stderr)
    assert any("standard error overflowed float64 and came out NaN" in warning
               for warning in estimate.warnings), estimate  # fmt: skip


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_the_nan_standard_error_of_one_row_is_no_overflow(name):
    """One row has no spread to estimate: its standard error is NaN of finite sums, and no
    overflow is reported for it."""
    estimate = ESTIMATORS[name]().estimate(_log_with([1.0], [0.5]), np.full(1, 0.5))
    assert estimate.value == 1.0 and np.isnan(estimate.stderr)
    assert not any("overflowed" in warning for warning in estimate.warnings), estimate
