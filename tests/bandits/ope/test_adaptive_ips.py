"""Adaptive IPS (adaptive-ips): hand-computed logs for each behavior and a per-row one, the
estimated-MSE rule by hand, exact expectations on a world where half the requests click
position by position and half in a cascade (unbiased with the right behavior per row, biased
with a wrong one), and the data-driven choice on sampled clicks."""

from __future__ import annotations

import numpy as np
import pytest
from slate_problems import (
    TablePolicy,
    additive_rewards,
    cascade_rewards,
    random_table,
    sampled_log,
    slate_value,
    table_log,
    uniform_table,
)

from bandits.logged import LoggedBandit
from bandits.ope import AdaptiveIPS, EstimatorInput, make_estimator
from bandits.ope.adaptive_ips import BEHAVIORS, choose_behaviors, estimated_mse
from bandits.ope.statistics import Moments
from bandits.validation import InputTypeError, InputValueError

HAND_TARGET = TablePolicy(
    {(0, 1): 0.4, (0, 2): 0.1, (1, 0): 0.2, (1, 2): 0.1, (2, 0): 0.1, (2, 1): 0.1}
)


def _hand_log():
    """Uniform logger over the 6 ordered pairs of 3 (position 1/3, slate 1/6); row 0 shows
    (0, 1) with rewards (1, 0) and context 0, row 1 (2, 0) with rewards (0, 1), context 1."""
    return table_log([[0, 1], [2, 0]], [[1.0, 0.0], [0.0, 1.0]], uniform_table(3, 2), 3, [0, 1])


@pytest.mark.parametrize(
    ("behavior", "terms"),
    [
        ("independent", [1.5, 0.9]),  # IIPS: 3 pi(s_k at k)
        ("cascade", [1.5, 0.6]),  # RIPS: 3 pi(s_1), 6 pi(s)
        ("standard", [2.4, 0.6]),  # slate IPS: 6 pi(s) x slate reward 1
        (lambda obs: np.where(obs.context[:, 0] > 0, "cascade", "independent"), [1.5, 0.6]),
        (lambda obs: np.array([2, 0]), [2.4, 0.9]),
    ],
)
def test_given_behaviors_on_a_hand_computed_log(behavior, terms):
    estimate = AdaptiveIPS(behavior=behavior).estimate(_hand_log(), HAND_TARGET)
    assert estimate.value == pytest.approx(np.mean(terms), rel=1e-12)
    assert estimate.stderr == pytest.approx(np.std(terms, ddof=1) / np.sqrt(2), rel=1e-12)
    assert estimate.tuning == ""


def test_estimated_mse_by_hand():
    covariance = np.array([[1.0, 0.5, 0.2], [0.5, 2.0, 0.8], [0.2, 0.8, 4.0]])
    # variances / n = (0.1, 0.2, 0.4); var(V_b - V_std) = (0.46, 0.44, 0)
    close = estimated_mse(np.array([0.5, 0.6, 0.7]), covariance, 10)
    np.testing.assert_allclose(close, [0.1, 0.2, 0.4])  # differences within their noise
    far = estimated_mse(np.array([0.0, 0.9, 1.0]), covariance, 10)
    np.testing.assert_allclose(far, [1.0 - 0.46 + 0.1, 0.2, 0.4])


def test_the_choice_takes_the_smallest_estimated_mse_per_part_and_ties_go_simplest():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(400, 1))
    # part 0: three equal columns (a tie); part 1: "independent" steady but far off,
    # "cascade" with standard's mean and half its spread
    part0 = np.repeat(base, 3, axis=1)
    steady = 0.5 * (base[:, 0] - base.mean()) + base.mean()
    part1 = np.column_stack([0.3 * base[:, 0] + 5.0, steady, base[:, 0]])
    terms = Moments.of(np.column_stack([part0, part1]))
    assert choose_behaviors(terms, 2) == [0, 1]


def test_the_data_driven_choice_is_reported_and_equals_that_behavior_given():
    log = _hand_log()
    chosen = AdaptiveIPS().estimate(log, HAND_TARGET)
    behavior = chosen.tuning.split("=")[1].split(" ")[0]
    assert behavior in BEHAVIORS and chosen.tuning.endswith("(estimated MSE)")
    assert chosen.value == AdaptiveIPS(behavior=behavior).estimate(log, HAND_TARGET).value
    split = AdaptiveIPS(split_feature=0, split_at=0.5).estimate(log, HAND_TARGET)
    assert "where x0 <= 0.5" in split.tuning and "where x0 > 0.5" in split.tuning


# -- a world of two kinds of requests ----------------------------------------------------------


def _mixed(logger, target, phi, reward_of_context):
    """Every slate of ``logger`` twice, at context 0 and 1, with the expected rewards of that
    context's click model; the exact expectation of an estimator's terms and the truth (each
    context half the requests)."""
    slates = [s for s, p in logger.table.items() if p > 0]
    probabilities = np.array([logger.table[s] for s in slates])
    logs = [table_log(slates, reward_of_context[c](phi, slates), logger, 4, c) for c in (0, 1)]
    log = LoggedBandit.concat(logs)
    truth = np.mean([slate_value(target, lambda s, c=c: reward_of_context[c](phi, s))
                     for c in (0, 1)])  # fmt: skip
    weights = np.concatenate([probabilities, probabilities]) / 2

    def expected(estimator):
        data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
        return float(weights @ estimator.row_terms(data))

    return expected, truth


def _by_context(obs):
    return np.where(obs.context[:, 0] > 0.5, "cascade", "independent")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unbiased_when_each_rows_behavior_is_implied_by_its_click_model(seed):
    rng = np.random.default_rng(seed)
    logger = uniform_table(4, 3)
    target = random_table(rng, list(logger.table), concentration=0.1)
    phi = rng.uniform(0.3, 0.9, size=(4, 3))
    expected, truth = _mixed(logger, target, phi, (additive_rewards, cascade_rewards))
    assert expected(AdaptiveIPS(behavior=_by_context)) == pytest.approx(truth, rel=1e-10)
    # the cascade covers the position-based rows too (it only adds interactions)
    assert expected(AdaptiveIPS(behavior="cascade")) == pytest.approx(truth, rel=1e-10)
    # independent weights on the cascade rows: biased
    assert abs(expected(AdaptiveIPS(behavior="independent")) - truth) > 1e-3
    wrong = AdaptiveIPS(behavior=lambda obs: np.where(obs.context[:, 0] > 0.5, 0, 1))
    assert abs(expected(wrong) - truth) > 1e-3


def _strong_on_top(logger, phi, sharpness=4.0):
    """A target over ``logger``'s slates, ``exp(sharpness (3 phi[s_1, 0] + phi[s_2, 1]))``."""
    slates = list(logger.table)
    score = np.array([3 * phi[s[0], 0] + phi[s[1], 1] for s in slates])
    weights = np.exp(sharpness * (score - score.max()))
    return TablePolicy(dict(zip(slates, weights / weights.sum(), strict=True)))


def test_within_four_standard_errors_with_the_behavior_chosen_per_context(stat_seed):
    """Context 0: position-based clicks; context 1: a cascade, and a target that puts
    attractive items on top (so the independent weights, which average the reach of a
    position over the logger's items above, are biased by about 11 standard errors of slate
    IPS there). Split on the context, the choice avoids the independent weights where they
    are biased, and the estimate lands near the truth."""
    rng = np.random.default_rng(stat_seed)
    problem = np.random.default_rng(3)
    logger = uniform_table(4, 3)
    phi = problem.uniform(0.3, 0.95, size=(4, 3))
    target = _strong_on_top(logger, phi)
    models = (additive_rewards, cascade_rewards)
    logs = [sampled_log(rng, logger, 4, 20_000, lambda s, c=c: models[c](phi, s), c)
            for c in (0, 1)]  # fmt: skip
    log = LoggedBandit.concat(logs)
    truth = np.mean([slate_value(target, lambda s, c=c: models[c](phi, s)) for c in (0, 1)])
    estimate = AdaptiveIPS(split_feature=0, split_at=0.5).estimate(log, target)
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    assert "independent where x0 > 0.5" not in estimate.tuning, estimate.tuning
    standard = AdaptiveIPS(behavior="standard").estimate(log, target)
    assert estimate.stderr <= standard.stderr


def test_bad_parameters_say_what_is_wrong():
    with pytest.raises(InputValueError, match="'behavior' of AdaptiveIPS"):
        AdaptiveIPS(behavior="cascading")
    with pytest.raises(InputTypeError, match="'behavior' parameter of AdaptiveIPS"):
        AdaptiveIPS(behavior=3)
    with pytest.raises(InputValueError, match=r"'split_feature' .* has no use"):
        AdaptiveIPS(behavior="cascade", split_feature=0)
    with pytest.raises(InputValueError, match="names context column 4"):
        AdaptiveIPS(split_feature=4).estimate(_hand_log(), HAND_TARGET)
    with pytest.raises(InputValueError, match=r"gave row 1 'sideways'"):
        AdaptiveIPS(behavior=lambda obs: np.array(["cascade", "sideways"])).estimate(
            _hand_log(), HAND_TARGET
        )
    assert make_estimator("adaptive-ips:split_feature=0,split_at=0.5").split_feature == 0
