"""Checks read from the bits of float64 arrays (probabilities in (0, 1], finite rewards) accept
exactly what the comparisons accept, fail with the same errors, and report what they found
(the largest probability, whether every reward is >= 0), which slices and concatenations of
decisions and feedback keep."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_log

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.validation import (
    InputValueError,
    check_finite,
    check_finite_sign,
    check_positive_probability,
    check_probability,
)


def _error(call) -> str | None:
    try:
        call()
    except InputValueError as error:
        return str(error)
    return None


PROBABILITIES = [
    [0.5, 1.0, 0.25],
    [0.5, 0.25],
    [5e-324, 1.0],  # the smallest subnormal is positive
    [0.5, 0.0],
    [0.5, -0.0],
    [0.5, 1.0 + 2.0**-52],
    [np.nan, 0.5],
    [0.5, -np.inf],
    [np.inf],
    [],
]


@pytest.mark.parametrize("values", PROBABILITIES, ids=range(len(PROBABILITIES)))
def test_positive_probabilities_from_bits_agree_with_the_comparisons(values):
    array = np.array(values, dtype=np.float64)
    expected = _error(lambda: check_probability(array, "p"))
    assert _error(lambda: check_positive_probability(array, "p")) == expected
    if expected is None:
        assert check_positive_probability(array, "p") == max(values, default=0.0)


REWARDS = [
    np.zeros((40, 2)),
    np.full((40, 2), 0.5),
    np.full((40, 2), -0.5),
    np.full((40, 2), -0.0),  # finite, but a sign bit: not known to be >= 0
    np.full((40, 2), 1e308),
    np.zeros((2, 2)),  # small: the Python check, nothing learnt
]


@pytest.mark.parametrize("array", REWARDS, ids=range(len(REWARDS)))
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_finite_rewards_from_bits_agree_with_check_finite(array, bad):
    array = array.copy()
    if bad is not None:
        array[-1, 1] = bad
    expected = _error(lambda: check_finite(array, "r"))
    assert _error(lambda: check_finite_sign(array, "r")) == expected
    if expected is None:
        known = array.size > 64 and not np.signbit(array).any()
        assert check_finite_sign(array, "r") == known


def test_slices_and_concatenations_keep_what_validation_found():
    log = random_log(np.random.default_rng(0), n_requests=100, signals=False)
    mu = log.decision.slate_probability
    assert log.decision.probability_bound == mu.max() < 1.0
    assert log.feedback.known_nonnegative
    part = log.take(np.arange(10, 60))
    assert part.decision.probability_bound == mu.max()  # a bound for the slice
    assert part.feedback.known_nonnegative
    negative = SlateFeedback(log.feedback.rewards - 1.0)
    other = LoggedBandit(log.observation, log.decision, negative, log.policy_names)
    assert not other.feedback.known_nonnegative
    assert LoggedBandit.concat([log, log]).feedback.known_nonnegative
    assert not LoggedBandit.concat([log, other]).feedback.known_nonnegative
    certain = mu.copy()
    certain[3] = 1.0
    sure = SlateDecision(log.slates, certain, np.maximum(log.decision.position_probability, 1.0))
    surely = LoggedBandit(log.observation, sure, log.feedback, log.policy_names)
    both = LoggedBandit.concat([log, surely])
    assert both.decision.probability_bound == 1.0
    assert both.decision.n_deterministic == surely.decision.n_deterministic == 1
    assert log.decision.n_deterministic == 0
    trusted = SlateDecision.trusted(
        log.observation, log.slates, certain, log.decision.position_probability
    )
    assert np.isnan(trusted.probability_bound)
    assert trusted.n_deterministic == 1  # counted: nothing was found
    unknown = LoggedBandit(log.observation, trusted, log.feedback, log.policy_names)
    assert np.isnan(LoggedBandit.concat([log, unknown]).decision.probability_bound)


def test_a_checked_logs_probabilities_and_rewards_are_read_only():
    """What validation found (the largest probability, the rewards' sign) stays true of the
    values the log holds: they cannot be changed through the log, slices or joins."""
    from bandits.decision import SlateDecision
    from bandits.feedback import SlateFeedback

    decision = SlateDecision(
        np.zeros((4, 1), dtype=np.int64), np.full(4, 0.5), np.full((4, 1), 0.5)
    )
    feedback = SlateFeedback(np.ones((4, 1)))
    for array in (decision.slate_probability, decision.position_probability, feedback.rewards,
                  decision.take([0, 1]).slate_probability, feedback.take([2]).rewards):  # fmt: skip
        with pytest.raises(ValueError, match="read-only"):
            array[0] = -1.0


def test_a_slice_of_negative_rewards_is_not_taken_for_non_negative():
    """A slice keeps the sign its feedback was found to have, not more: IPS on a slice of
    rewards below 0 sums its terms with their signs (the |sum| of non-negative terms would
    flip it)."""
    from bandits.ope import IPS

    log = random_log(np.random.default_rng(0), n_requests=100, signals=False)
    negative = SlateFeedback(log.feedback.rewards - 1.0)
    part = LoggedBandit(log.observation, log.decision, negative, log.policy_names).take(
        np.arange(10, 60)
    )
    assert not negative.known_nonnegative and not part.feedback.known_nonnegative
    target = 0.5 * part.decision.slate_probability
    expected = np.mean(target / part.decision.slate_probability * part.rewards.sum(axis=1))
    assert expected < 0
    assert IPS().estimate(part, target).value == pytest.approx(expected, rel=1e-12)
