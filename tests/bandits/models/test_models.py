"""The ridge model and the joint features: exact small cases, structured scoring equals the
materialised features."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explicit_observation as observation
from factories import random_observation

from bandits.models import (
    HybridRidge,
    JointRidge,
    RidgeRegression,
    interaction_features,
    interaction_quadratic,
    interaction_scores,
    n_interaction_features,
)
from bandits.models import ridge as ridge_module
from bandits.validation import InputValueError


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


@pytest.mark.parametrize(("n_context", "n_item"), [(3, 2), (0, 2), (2, 0), (4, 5)])
def test_structured_scores_equal_the_materialised_features(n_context, n_item):
    rng = np.random.default_rng(n_context * 10 + n_item)
    obs = random_observation(rng, n_requests=7, max_candidates=6, n_context=n_context,
                             n_item=n_item)  # fmt: skip
    p = n_interaction_features(n_context, n_item)
    x = interaction_features(obs)
    theta = rng.normal(size=p)
    root = rng.normal(size=(p, p))
    matrix = root @ root.T + np.eye(p)
    np.testing.assert_allclose(interaction_scores(obs, theta), x @ theta, rtol=1e-12, atol=1e-12)
    expected = np.einsum("ncp,pq,ncq->nc", x, matrix, x)
    np.testing.assert_allclose(interaction_quadratic(obs, matrix), expected, rtol=1e-10)


def test_structured_quadratic_is_exact_across_chunks(monkeypatch):
    from bandits.models import features

    rng = np.random.default_rng(5)
    obs = random_observation(rng, n_requests=9, max_candidates=4, n_context=3, n_item=2)
    p = n_interaction_features(3, 2)
    matrix = np.diag(rng.uniform(1, 2, p))
    whole = interaction_quadratic(obs, matrix)
    monkeypatch.setattr(features, "QUADRATIC_CHUNK_BYTES", 1)  # one request per chunk
    np.testing.assert_allclose(interaction_quadratic(obs, matrix), whole, rtol=1e-13)


def test_features_whose_squares_overflow_are_refused():
    model = RidgeRegression()
    with pytest.raises(InputValueError, match=r"too large: its squares leave float64"):
        model.update([[1e200, 0.0]], [1.0])
    assert model.n_samples_ == 0 and model.theta_ is None


@pytest.mark.parametrize("refresh", [1000, 37])
def test_small_batches_update_the_inverse_and_stay_equal_to_a_direct_solve(monkeypatch, refresh):
    monkeypatch.setattr(ridge_module, "WOODBURY_REFRESH", refresh)
    calls = []
    woodbury = ridge_module._woodbury
    monkeypatch.setattr(ridge_module, "_woodbury", lambda *a: calls.append(1) or woodbury(*a))
    rng = np.random.default_rng(0)
    model = RidgeRegression(ridge=0.5)
    rows, targets = [], []
    for size in [30] + [1, 2, 1, 3] * 60:  # a first large batch, then rank-1..3 updates
        x, y = rng.normal(size=(size, 40)) * 3, rng.normal(size=size)
        model.update(x, y)
        model.width(x)  # asks for the inverse, so the next small batch updates it in place
        rows.append(x)
        targets.append(y)
    x, y = np.concatenate(rows), np.concatenate(targets)
    gram = 0.5 * np.eye(40) + x.T @ x
    np.testing.assert_allclose(model.theta_, np.linalg.solve(gram, x.T @ y), atol=1e-10)
    np.testing.assert_allclose(model.inverse(), np.linalg.inv(gram), atol=1e-12)
    assert np.array_equal(model.inverse(), model.inverse().T)
    assert 200 <= len(calls) <= 240  # the small batches took the rank-k path (bar refreshes)


@pytest.mark.parametrize("cls", [JointRidge, HybridRidge])
def test_posterior_draws_have_the_model_mean_and_width(cls):
    rng = np.random.default_rng(0)
    model = cls(ridge=0.7)
    for _ in range(5):
        obs = random_observation(rng, n_requests=20, max_candidates=5)
        slates = np.stack([rng.permutation(int(n))[:2] for n in obs.n_candidates])
        model.learn(obs, slates, rng.normal(size=slates.shape))
    one = random_observation(rng, n_requests=1, max_candidates=5)
    valid = int(one.n_candidates[0])
    copies = one.take(np.zeros(40_000, dtype=np.int64))
    draws = model.sample_candidate_scores(copies, 1.0, rng)[:, :valid]
    width = model.candidate_widths(one)[0, :valid]
    mean = model.candidate_means(one)[0, :valid]
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * width.max() / 200)
    np.testing.assert_allclose(draws.std(axis=0), width, rtol=0.03)
