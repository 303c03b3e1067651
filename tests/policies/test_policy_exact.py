"""Exact values on tiny hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from factories import explicit_observation as observation
from toy_policies import FixedScores

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.validation import InputValueError
from policies import EpsilonGreedy, LinUCB, RidgeGreedy, UniformRandom


def shown(slates, rewards):
    slates = np.asarray(slates)
    ones = np.ones(slates.shape)
    return SlateDecision(slates, ones[:, 0], ones), SlateFeedback(np.asarray(rewards, float))


def test_linucb_score_on_a_two_feature_toy_case():
    """No context and one item feature f, so x = [f, 1]: after rewards 1 for f=1 and 0 for
    f=2, A = [[6, 3], [3, 3]], b = [1, 1], theta = [0, 1/3], x^T A^-1 x = (f^2 - 2f + 2) / 3."""
    f = np.array([1.0, 2.0, -1.0])
    obs = observation(np.zeros((2, 0)), np.tile(f[None, :, None], (2, 1, 1)))
    policy = LinUCB(alpha=0.5, ridge=1.0)
    policy.update(obs, *shown([[0], [1]], [[1.0], [0.0]]))
    np.testing.assert_allclose(policy.model_.A_, [[6, 3], [3, 3]])
    np.testing.assert_allclose(policy.model_.theta_, [0, 1 / 3], atol=1e-15)
    expected = 1 / 3 + 0.5 * np.sqrt((f**2 - 2 * f + 2) / 3)
    np.testing.assert_allclose(policy.scores(obs), [expected, expected])
    np.testing.assert_array_equal(policy.act(obs).slates, [[2], [2]])
    np.testing.assert_array_equal(LinUCB(alpha=0.0).scores(obs), np.zeros((2, 3)))


def test_epsilon_greedy_probabilities_on_three_candidates():
    """Untrained, every score ties: with ties to the lower index the greedy slate is [0, 1];
    with ties broken at random (the default base) every slate is as likely, 1/6."""
    obs = observation(np.zeros((6, 1)), np.ones((6, 3, 1)), slate_size=2)
    slates = np.array(list(itertools.permutations(range(3), 2)))
    policy = EpsilonGreedy(epsilon=0.3, base=RidgeGreedy(), rng=np.random.default_rng(0))
    greedy = np.all(slates == [0, 1], axis=1)
    np.testing.assert_allclose(policy.slate_probability(obs, slates), np.where(greedy, 0.75, 0.05))
    expected = np.where(slates == [0, 1], 0.7 + 0.1, 0.1)
    np.testing.assert_allclose(policy.position_probability(obs, slates), expected)
    random_ties = EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(random_ties.slate_probability(obs, slates), 1 / 6)
    np.testing.assert_allclose(random_ties.position_probability(obs, slates), 1 / 3)


@pytest.mark.parametrize(("epsilon", "greedy_p", "other_p"), [(0.0, 1.0, 0.0), (1.0, 0.5, 0.5)])
def test_epsilon_greedy_extremes(epsilon, greedy_p, other_p):
    obs = observation(np.zeros((2, 1)), np.ones((2, 2, 1)), slate_size=1)
    policy = EpsilonGreedy(epsilon=epsilon, base=RidgeGreedy(), rng=np.random.default_rng(0))
    np.testing.assert_allclose(policy.slate_probability(obs, [[0], [1]]), [greedy_p, other_p])


def test_uniform_probabilities():
    obs = observation(np.zeros((2, 1)), np.ones((2, 5, 1)), n_candidates=[5, 3], slate_size=2)
    policy = UniformRandom(rng=np.random.default_rng(0))
    slates = np.array([[4, 1], [2, 0]])
    np.testing.assert_allclose(policy.slate_probability(obs, slates), [1 / 20, 1 / 6])
    np.testing.assert_allclose(policy.position_probability(obs, slates), [[0.2, 0.2], [1 / 3] * 2])


def test_greedy_probabilities_and_marginals_by_hand():
    obs = observation(np.zeros((3, 1)), np.ones((3, 3, 1)), slate_size=2)
    policy = FixedScores(item_scores={0: 0.1, 1: 0.9, 2: 0.5})  # greedy slate [1, 2]
    slates = np.array([[1, 2], [2, 1], [1, 0]])
    np.testing.assert_array_equal(policy.slate_probability(obs, slates), [1, 0, 0])
    np.testing.assert_array_equal(
        policy.position_probability(obs, slates), [[1, 1], [0, 0], [1, 0]]
    )
    marginals = policy.candidate_position_probability(obs)
    np.testing.assert_array_equal(marginals[0], [[0, 0], [1, 0], [0, 1]])


def test_uniform_and_epsilon_greedy_marginals_by_hand():
    obs = observation(np.zeros((2, 1)), np.ones((2, 4, 1)), n_candidates=[4, 3], slate_size=2)
    uniform = UniformRandom(rng=np.random.default_rng(0)).candidate_position_probability(obs)
    np.testing.assert_allclose(uniform[0], np.full((4, 2), 0.25))
    np.testing.assert_allclose(uniform[1], [[1 / 3] * 2] * 3 + [[0, 0]])
    policy = EpsilonGreedy(epsilon=0.4, base=FixedScores(item_scores={3: 1.0, 2: 0.5}),
                           rng=np.random.default_rng(0))  # fmt: skip
    marginals = policy.candidate_position_probability(obs)
    # row 0: greedy [3, 2]; row 1 has candidates 0-2 only: greedy [2, 0] (ties to lower index)
    np.testing.assert_allclose(marginals[0, :, 0], [0.1, 0.1, 0.1, 0.6 + 0.1])
    np.testing.assert_allclose(marginals[0, :, 1], [0.1, 0.1, 0.6 + 0.1, 0.1])
    np.testing.assert_allclose(marginals[1, :, 0], [0.4 / 3, 0.4 / 3, 0.6 + 0.4 / 3, 0])
    np.testing.assert_allclose(marginals[1, :, 1], [0.6 + 0.4 / 3, 0.4 / 3, 0.4 / 3, 0])


@pytest.mark.parametrize("ridge", [0.5, 5.0])
def test_linear_policies_fit_the_closed_form_ridge_solution(ridge):
    """theta = (X'X + ridge I)^-1 X'y over the joint features of the shown items: a policy that
    ignored its ``ridge`` would fail for one of the two values."""
    rng = np.random.default_rng(3)
    items = np.tile(rng.normal(size=(1, 4, 2)), (6, 1, 1))
    obs = observation(rng.normal(size=(6, 2)), items, slate_size=2)
    slates = np.array([[0, 1], [2, 3], [1, 2], [3, 0], [0, 2], [1, 3]])
    rewards = rng.normal(size=(6, 2))
    policy = RidgeGreedy(ridge=ridge)
    policy.update(obs, *shown(slates, rewards))
    x = np.concatenate(
        [
            (obs.context[:, None, :, None] * obs.candidate_features[:, :, None, :]).reshape(
                6, 4, -1
            ),
            obs.candidate_features,
            np.ones((6, 4, 1)),
        ],
        axis=2,
    )
    shown_x = np.take_along_axis(x, slates[:, :, None], axis=1).reshape(12, -1)
    theta = np.linalg.solve(
        shown_x.T @ shown_x + ridge * np.eye(x.shape[2]), shown_x.T @ rewards.ravel()
    )
    np.testing.assert_allclose(policy.model_.theta_, theta, rtol=1e-10)
    np.testing.assert_allclose(policy.scores(obs), x @ theta, rtol=1e-9, atol=1e-12)


def test_uniform_probabilities_too_small_for_float64_are_refused():
    n = 400
    obs = observation(np.zeros((1, 1)), np.zeros((1, n, 1)), slate_size=150)
    policy = UniformRandom(rng=np.random.default_rng(0))
    with pytest.raises(InputValueError, match=r"uniform slate of 150 out of 400 .*row 0.*10\^-"):
        policy.act(obs)
    small = observation(np.zeros((1, 1)), np.zeros((1, n, 1)), slate_size=100)
    probability = policy.slate_probability(small, [list(range(100))])[0]
    expected = np.exp(-np.sum(np.log(np.arange(n - 99, n + 1, dtype=float))))
    assert probability == pytest.approx(expected, rel=1e-12) and probability > 0


def test_random_tie_breaking_probabilities_by_hand():
    """Scores 3, 3, 3, 2, 1 (candidates 1, 2, 4 tie at the top), slates of 3: the top three
    are the tied group in a uniformly random order, 1/6 each; a slate of 2 out of the group
    of 3 then the 2: 1/6 as well; marginals 1/3 for the group at every position."""
    obs = observation(np.zeros((1, 1)), np.ones((1, 5, 1)), slate_size=3)
    scores = {0: 1.0, 1: 3.0, 2: 3.0, 3: 2.0, 4: 3.0}
    policy = FixedScores(item_scores=scores, rng=np.random.default_rng(0))
    many = obs.take(np.zeros(4, dtype=np.int64))
    slates = np.array([[1, 4, 2], [2, 1, 4], [1, 4, 3], [3, 1, 4]])
    np.testing.assert_allclose(policy.slate_probability(many, slates), [1 / 6, 1 / 6, 0, 0])
    np.testing.assert_allclose(
        policy.position_probability(many, slates),
        [[1 / 3] * 3, [1 / 3] * 3, [1 / 3, 1 / 3, 0], [0, 1 / 3, 1 / 3]],
    )
    marginals = policy.candidate_position_probability(obs)[0]
    np.testing.assert_allclose(marginals[[1, 2, 4]], 1 / 3)
    np.testing.assert_allclose(marginals[[0, 3]], 0)
    top2 = observation(np.zeros((1, 1)), np.ones((1, 5, 1)), slate_size=2)
    np.testing.assert_allclose(policy.slate_probability(top2, [[4, 1]]), [1 / 6])
    deterministic = FixedScores(item_scores=scores)  # no rng: ties to the lower index
    np.testing.assert_array_equal(deterministic.act(obs).slates, [[1, 2, 4]])
    ordered = [[1, 2, 4], [1, 4, 2], [2, 1, 4], [3, 1, 4]]
    np.testing.assert_array_equal(deterministic.slate_probability(many, ordered), [1, 0, 0, 0])
