"""Exact values on tiny hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation
from policies import EpsilonGreedy, LinUCB, RidgeRegression, UniformRandom, interaction_features
from policies.base import greedy_position_probability, greedy_slate_probability


def observation(context, items, n_candidates=None, slate_size=1):
    """An observation from explicit context (n, c) and item features (n, m, p)."""
    context, items = np.asarray(context, float), np.asarray(items, float)
    n, m, _ = items.shape
    counts = np.full(n, m) if n_candidates is None else np.asarray(n_candidates)
    mask = np.arange(m) < counts[:, None]
    return SlateObservation(
        context=context,
        candidate_ids=np.where(mask, np.arange(m), -1),
        candidate_features=items * mask[:, :, None],
        n_candidates=counts,
        slate_size=slate_size,
        history=np.full((n, 1), -1),
        request_ids=np.arange(n),
        user_ids=np.arange(n),
        times=np.zeros(n, dtype=np.int64),
    )


def shown(slates, rewards):
    slates = np.asarray(slates)
    ones = np.ones(slates.shape)
    return SlateDecision(slates, ones[:, 0], ones), SlateFeedback(np.asarray(rewards, float))


def test_interaction_features_by_hand():
    obs = observation([[2.0, 3.0]], [[[1.0, -1.0], [0.5, 0.0], [0.0, 0.0]]], n_candidates=[2])
    x = interaction_features(obs)
    assert x.shape == (1, 3, 2 * 2 + 2 + 1)
    np.testing.assert_array_equal(x[0, 0], [2, -2, 3, -3, 1, -1, 1])
    np.testing.assert_array_equal(x[0, 1], [1, 0, 1.5, 0, 0.5, 0, 1])
    np.testing.assert_array_equal(interaction_features(obs, np.array([[1, 0]])), x[:, [1, 0]])


def test_ridge_statistics_after_two_updates():
    model = RidgeRegression(ridge=2.0)
    model.update([[1.0, 0.0], [1.0, 1.0]], [1.0, 0.0])
    np.testing.assert_allclose(model.A_, [[4, 1], [1, 3]])
    np.testing.assert_allclose(model.b_, [1, 0])
    model.update([[0.0, 2.0]], [3.0])
    np.testing.assert_allclose(model.A_, [[4, 1], [1, 7]])
    np.testing.assert_allclose(model.b_, [1, 6])
    np.testing.assert_allclose(model.theta_, [1 / 27, 23 / 27])
    assert model.n_samples_ == 3
    x = np.array([[[1.0, 0.0], [1.0, 1.0]]])
    np.testing.assert_allclose(model.predict(x), [[1 / 27, 24 / 27]])
    np.testing.assert_allclose(model.width(x), np.sqrt([[7 / 27, 9 / 27]]))


def test_ridge_prior_before_any_update():
    model = RidgeRegression(ridge=4.0)
    x = np.array([[3.0, 4.0], [0.0, 1.0]])
    assert model.theta_ is None and model.n_features_ is None
    np.testing.assert_array_equal(model.predict(x), [0, 0])
    np.testing.assert_allclose(model.width(x), [2.5, 0.5])


def test_ridge_batches_match_one_batch_and_the_explicit_inverse():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    split, whole = RidgeRegression(ridge=0.5), RidgeRegression(ridge=0.5)
    split.update(x[:20], y[:20])
    split.width(x)  # caches a factor that the next update must drop
    split.update(x[20:], y[20:])
    whole.update(x, y)
    np.testing.assert_allclose(split.A_, whole.A_)
    inverse = np.linalg.inv(0.5 * np.eye(4) + x.T @ x)
    np.testing.assert_allclose(split.theta_, inverse @ x.T @ y)
    queries = rng.normal(size=(3, 5, 4))
    expected = np.sqrt(np.einsum("nmd,de,nme->nm", queries, inverse, queries))
    np.testing.assert_allclose(split.width(queries), expected)


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
    """Untrained, every score ties, so the greedy slate is [0, 1]."""
    obs = observation(np.zeros((6, 1)), np.ones((6, 3, 1)), slate_size=2)
    slates = np.array(list(itertools.permutations(range(3), 2)))
    policy = EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(0))
    greedy = np.all(slates == [0, 1], axis=1)
    np.testing.assert_allclose(policy.slate_probability(obs, slates), np.where(greedy, 0.75, 0.05))
    expected = np.where(slates == [0, 1], 0.7 + 0.1, 0.1)
    np.testing.assert_allclose(policy.position_probability(obs, slates), expected)


@pytest.mark.parametrize(("epsilon", "greedy_p", "other_p"), [(0.0, 1.0, 0.0), (1.0, 0.5, 0.5)])
def test_epsilon_greedy_extremes(epsilon, greedy_p, other_p):
    obs = observation(np.zeros((2, 1)), np.ones((2, 2, 1)), slate_size=1)
    policy = EpsilonGreedy(epsilon=epsilon, rng=np.random.default_rng(0))
    np.testing.assert_allclose(policy.slate_probability(obs, [[0], [1]]), [greedy_p, other_p])


def test_uniform_probabilities():
    obs = observation(np.zeros((2, 1)), np.ones((2, 5, 1)), n_candidates=[5, 3], slate_size=2)
    policy = UniformRandom(rng=np.random.default_rng(0))
    slates = np.array([[4, 1], [2, 0]])
    np.testing.assert_allclose(policy.slate_probability(obs, slates), [1 / 20, 1 / 6])
    np.testing.assert_allclose(policy.position_probability(obs, slates), [[0.2, 0.2], [1 / 3] * 2])


def test_greedy_indicators():
    greedy = np.array([[2, 0], [2, 0], [2, 0]])
    slates = np.array([[2, 0], [0, 2], [2, 1]])
    np.testing.assert_array_equal(greedy_slate_probability(greedy, slates), [1, 0, 0])
    np.testing.assert_array_equal(
        greedy_position_probability(greedy, slates), [[1, 1], [0, 0], [1, 0]]
    )
