"""Adaptive IPS (adaptive-ips): hand-computed logs for each behavior and a per-row one, the
estimated-MSE rule by hand, exact expectations on a world where half the requests click
position by position and half in a cascade (unbiased with the right behavior per row, biased
with a wrong one), and the data-driven choice on sampled clicks."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explicit_observation
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

from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.ope import (
    SNIIPS,
    SNRIPS,
    AdaptiveIPS,
    EstimatorInput,
    SNAdaptiveIPS,
    make_estimator,
)
from bandits.ope.adaptive_ips import BEHAVIORS, choose_behaviors, estimated_mse
from bandits.ope.behavior_tree import BehaviorTree
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


def _strong_problem(seed):
    """Context 0: position-based clicks; context 1: a cascade, and a target that puts
    attractive items on top (so the independent weights, which average the reach of a
    position over the logger's items above, are biased by about 11 standard errors of slate
    IPS there); 20,000 sampled requests each."""
    rng = np.random.default_rng(seed)
    problem = np.random.default_rng(3)
    logger = uniform_table(4, 3)
    phi = problem.uniform(0.3, 0.95, size=(4, 3))
    target = _strong_on_top(logger, phi)
    models = (additive_rewards, cascade_rewards)
    logs = [sampled_log(rng, logger, 4, 20_000, lambda s, c=c: models[c](phi, s), c)
            for c in (0, 1)]  # fmt: skip
    truth = np.mean([slate_value(target, lambda s, c=c: models[c](phi, s)) for c in (0, 1)])
    return LoggedBandit.concat(logs), target, truth


def test_within_four_standard_errors_with_the_behavior_chosen_per_context(stat_seed):
    """Split on the context, the choice avoids the independent weights where they are
    biased, and the estimate lands near the truth."""
    log, target, truth = _strong_problem(stat_seed)
    estimate = AdaptiveIPS(split_feature=0, split_at=0.5).estimate(log, target)
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    assert "independent where x0 > 0.5" not in estimate.tuning, estimate.tuning
    standard = AdaptiveIPS(behavior="standard").estimate(log, target)
    assert estimate.stderr <= standard.stderr


def test_cross_fitted_within_four_standard_errors_with_the_learned_tree(stat_seed):
    """The same problem, with a one-split tree cross-fitted over two folds: each fold's tree
    separates the contexts and never gives the cascade rows independent weights."""
    log, target, truth = _strong_problem(stat_seed)
    estimator = AdaptiveIPS(max_depth=1, min_leaf=2000, folds=2)
    estimate = estimator.estimate(log, target)
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    assert estimate.tuning == "behavior cross-fitted over 2 folds (estimated MSE)"
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    chosen = estimator.crossfit_behaviors(data)
    assert BEHAVIORS.index("independent") not in chosen[log.observation.context[:, 0] > 0.5]
    assert estimate.stderr <= AdaptiveIPS(behavior="standard").estimate(log, target).stderr


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


# -- the learned tree (max_depth >= 1) ---------------------------------------------------------


def _pair_rewards(phi, slates):
    """Not a cascade, strongly: ``r_k = phi[s_k, k] phi[s_k+1, k+1]`` (the item below scales
    the click), the last position ``phi`` alone."""
    rewards = additive_rewards(phi, slates)
    rewards[:, :-1] *= rewards[:, 1:]
    return rewards


def _two_region_log(rng, rows, phi):
    """Uniform logger over the 120 ordered triples of 6 items, two context features (standard
    normal); where ``x0 <= 0`` clicks are position-based (the independent behavior holds),
    where ``x0 > 0`` a position's click depends on the item below (only the standard one
    holds). ``x1`` is noise."""
    logger = uniform_table(6, 3)
    slates = list(logger.table)
    chosen = rng.integers(len(slates), size=rows)
    context = rng.normal(size=(rows, 2))
    shown_slates = np.array(slates)[chosen]
    means = np.where(
        context[:, :1] <= 0,
        additive_rewards(phi, slates)[chosen],
        _pair_rewards(phi, slates)[chosen],
    )
    clicks = (rng.random(means.shape) < means).astype(float)
    log = table_log(shown_slates, clicks, logger, 6)
    obs = explicit_observation(context, np.broadcast_to(np.eye(6), (rows, 6, 6)), slate_size=3)
    return LoggedBandit(obs, log.decision, log.feedback, "uniform"), logger


def _two_region_problem(seed, rows=40_000):
    phi = np.random.default_rng(21).uniform(0.05, 0.95, size=(6, 3))
    log, logger = _two_region_log(np.random.default_rng(seed), rows, phi)
    slates = list(logger.table)
    scores = np.exp(4.0 * _pair_rewards(phi, slates).sum(axis=1))
    target = TablePolicy(dict(zip(slates, scores / scores.sum(), strict=True)))
    truth = 0.5 * slate_value(target, lambda s: additive_rewards(phi, s)) + 0.5 * slate_value(
        target, lambda s: _pair_rewards(phi, s)
    )
    return log, target, truth


def _behavior_at(estimator, log, target, points):
    """The behavior the learned tree and the estimate's choice give each context in
    ``points`` (m, 2)."""
    statistics = estimator.statistics(log, target)
    tree = estimator.tree("target")
    chosen = choose_behaviors(statistics.terms, tree.n_leaves)
    return [BEHAVIORS[chosen[leaf]] for leaf in tree.leaf_of(np.asarray(points, float))]


def test_the_tree_splits_where_the_behavior_changes_and_picks_each_regions_behavior():
    log, target, truth = _two_region_problem(0)
    estimator = AdaptiveIPS(max_depth=1, min_leaf=2000)
    estimate = estimator.estimate(log, target)
    root = estimator.tree("target").root
    assert root.feature == 0 and abs(root.threshold) < 0.15, root
    points = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
    assert _behavior_at(estimator, log, target, points) == ["independent"] * 2 + ["standard"] * 2
    assert estimate.tuning.startswith("tree x0 <= ") and "[independent]" in estimate.tuning
    # the bias the tree avoids is real: independent everywhere misses by many standard errors
    everywhere = AdaptiveIPS(behavior="independent").estimate(log, target)
    assert abs(everywhere.value - truth) > 4 * everywhere.stderr


def test_a_deeper_tree_still_gives_each_region_its_behavior():
    log, target, _ = _two_region_problem(1)
    estimator = AdaptiveIPS(max_depth=3, min_leaf=2000)
    estimator.estimate(log, target)
    grid = [[x0, x1] for x0 in (-2.0, -0.7, -0.2) for x1 in (-1.5, 0.0, 1.5)]
    assert set(_behavior_at(estimator, log, target, grid)) == {"independent"}
    grid = [[x0, x1] for x0 in (0.2, 0.7, 2.0) for x1 in (-1.5, 0.0, 1.5)]
    assert set(_behavior_at(estimator, log, target, grid)) == {"standard"}


def test_within_four_standard_errors_with_the_learned_tree(stat_seed):
    """Each region's chosen behavior holds there, so the estimate is unbiased; its standard
    error is below slate IPS's (the independent half is weighed per position)."""
    log, target, truth = _two_region_problem(100 + stat_seed)
    estimate = AdaptiveIPS(max_depth=2, min_leaf=2000).estimate(log, target)
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    assert estimate.stderr < make_estimator("ips").estimate(log, target).stderr


def test_a_tree_grown_on_hand_made_terms():
    """Quiet terms biased only where x0 = 1 and a noisy unbiased one: the split lands between
    the regions, on the feature that separates them; too few rows per leaf: no split."""
    rng = np.random.default_rng(0)
    context = np.column_stack([np.repeat([0.0, 1.0], 500), rng.normal(size=1000)])
    value = rng.normal(1.0, 0.1, size=1000)
    standard = value + rng.normal(0.0, 2.0, size=1000)  # unbiased, noisy
    shifted = np.where(context[:, 0] > 0, 1.0, 0.0)  # biased where x0 = 1, quiet
    terms = np.column_stack([value + shifted, value + shifted, standard])
    tree = BehaviorTree.grow(context, terms, max_depth=2, min_leaf=100)
    assert (tree.root.feature, tree.root.threshold) == (0, 0.5)
    assert tree.n_leaves >= 2
    np.testing.assert_array_equal(tree.leaf_of(np.array([[0.0, 9.0], [1.0, -9.0]])) != 0,
                                  [False, True])  # fmt: skip
    assert BehaviorTree.grow(context, terms, max_depth=2, min_leaf=600).n_leaves == 1


def test_tree_parameters_are_checked():
    with pytest.raises(InputValueError, match=r"max_depth.*cannot be combined"):
        AdaptiveIPS(max_depth=2, behavior="cascade")
    with pytest.raises(InputValueError, match=r"max_depth.*cannot be combined"):
        AdaptiveIPS(max_depth=2, split_feature=0)
    with pytest.raises(InputValueError, match="min_leaf"):
        AdaptiveIPS(max_depth=2, min_leaf=0)


# -- cross-fitted choice (folds >= 2) ----------------------------------------------------------


def _with_rewards(log, rewards):
    return LoggedBandit(log.observation, log.decision, SlateFeedback(rewards), log.policy_names)


def test_a_cross_fitted_rows_behavior_never_depends_on_its_own_rewards():
    """Rewards of fold 0's rows changed: the behaviors its rows take stay (they were chosen on
    folds 1 and 2), while the other folds' may move; the estimate is the mean of the terms
    with each row's behavior given."""
    log, target, _ = _two_region_problem(3, rows=12_000)
    estimator = AdaptiveIPS(max_depth=1, min_leaf=1000, folds=3)
    estimate = estimator.estimate(log, target)
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    chosen = estimator.crossfit_behaviors(data)
    fold = estimator.fold_of(log)
    assert set(np.unique(fold).tolist()) == {0, 1, 2}
    assert set(np.unique(chosen).tolist()) == {0, 2}  # independent and standard, by region

    given = AdaptiveIPS(behavior=lambda obs: chosen).estimate(log, target)
    assert (estimate.value, estimate.stderr) == pytest.approx((given.value, given.stderr),
                                                              rel=1e-12)  # fmt: skip

    rewards = log.rewards.copy()
    rewards[fold == 0] = _pair_rewards(np.full((6, 3), 0.9), log.slates[fold == 0])
    changed = _with_rewards(log, rewards)
    again = AdaptiveIPS(max_depth=1, min_leaf=1000, folds=3)
    again.estimate(changed, target)
    moved = again.crossfit_behaviors(EstimatorInput(changed, data.target_probability, target))
    np.testing.assert_array_equal(moved[fold == 0], chosen[fold == 0])
    assert not np.array_equal(moved[fold != 0], chosen[fold != 0])


def test_cross_fitted_over_batches_equals_the_in_memory_estimate():
    log, target, _ = _two_region_problem(4, rows=6_000)
    whole = AdaptiveIPS(folds=2).estimate(log, target)
    batches = [
        log.take(np.arange(start, min(start + 1700, 6000))) for start in range(0, 6000, 1700)
    ]
    streamed = AdaptiveIPS(folds=2).estimate_batches(batches, target)
    assert (streamed.value, streamed.stderr) == pytest.approx((whole.value, whole.stderr),
                                                              rel=1e-12)  # fmt: skip


def test_folds_are_checked():
    with pytest.raises(InputValueError, match=r"'folds' .* cannot be combined"):
        AdaptiveIPS(folds=2, behavior="cascade")
    with pytest.raises(InputValueError, match=r"'folds' .* cannot be combined"):
        AdaptiveIPS(folds=2, split_feature=0)
    with pytest.raises(InputValueError, match="folds"):
        AdaptiveIPS(folds=0)


# -- self-normalised (snadaptive-ips) ----------------------------------------------------------


def test_self_normalised_on_the_hand_computed_log():
    """Row 0 standard (weights 6 x 0.4 = 2.4 at both positions, rewards (1, 0)), row 1
    independent (3 x 0.2 = 0.6 and 3 x 0.3 = 0.9, rewards (0, 1)): per position
    2.4 / (2.4 + 0.6) + 0.9 / (2.4 + 0.9)."""
    estimate = SNAdaptiveIPS(behavior=lambda obs: np.array([2, 0])).estimate(
        _hand_log(), HAND_TARGET
    )
    assert estimate.value == pytest.approx(2.4 / 3.0 + 0.9 / 3.3, rel=1e-12)


@pytest.mark.parametrize(("behavior", "same"), [("independent", SNIIPS), ("cascade", SNRIPS)])
def test_self_normalised_with_one_behavior_is_that_estimator(behavior, same):
    log, target, _ = _strong_problem(5)
    ours = SNAdaptiveIPS(behavior=behavior).estimate(log, target)
    theirs = same().estimate(log, target)
    assert (ours.value, ours.stderr) == pytest.approx((theirs.value, theirs.stderr), rel=1e-12)


def test_self_normalised_cross_fitted_within_four_standard_errors(stat_seed):
    log, target, truth = _strong_problem(stat_seed)
    estimator = SNAdaptiveIPS(max_depth=1, min_leaf=2000)
    estimate = estimator.estimate(log, target)
    assert estimator.folds == 2
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    plain = AdaptiveIPS(max_depth=1, min_leaf=2000, folds=2)
    assert plain.estimate(log, target).tuning == estimate.tuning


def test_self_normalised_needs_the_behavior_fixed_per_row():
    with pytest.raises(InputValueError, match=r"cross-fitted only: pass folds >= 2"):
        SNAdaptiveIPS(folds=1)
    assert make_estimator("snadaptive-ips:behavior=cascade").folds == 1
    # split_feature chooses in-sample: refused by its own name (not by folds, not passed)
    with pytest.raises(InputValueError, match=r"'split_feature' .* got split_feature=0: .*"
                       r"max_depth=1"):  # fmt: skip
        make_estimator("snadaptive-ips:split_feature=0")
    with pytest.raises(InputValueError, match=r"'split_feature' .* with 'behavior'"):
        SNAdaptiveIPS(behavior="cascade", split_feature=0)
