"""The hybrid model equals one ridge regression over [shared features, per-item block]."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_observation

from bandits.models import HybridRidge
from bandits.models.disjoint import context_rows
from bandits.models.features import interaction_features
from bandits.validation import InputValueError


def shown_slates(rng, obs):
    return np.stack([rng.permutation(int(n))[: obs.slate_size] for n in obs.n_candidates])


def stacked_rows(obs, slates, items):
    """Each (request, candidate) pair's full feature vector: [z, one-hot(item) (x) x], with
    ``items`` the item ids given a block, shape (n, width, k + len(items) * p)."""
    z = interaction_features(obs, slates)
    x = context_rows(obs)
    ids = obs.candidate_ids if slates is None else np.take_along_axis(obs.candidate_ids, slates, 1)
    blocks = np.zeros((*ids.shape, len(items), x.shape[1]))
    for block, item in enumerate(items):
        hit = ids == item
        blocks[hit, block] = np.broadcast_to(x[:, None, :], (*ids.shape, x.shape[1]))[hit]
    return np.concatenate([z, blocks.reshape(*ids.shape, -1)], axis=2)


@pytest.mark.parametrize("batch", [1, 9, 60])
def test_means_and_widths_equal_one_ridge_over_the_stacked_features(batch):
    rng = np.random.default_rng(batch)
    pool = random_observation(rng, n_requests=140, max_candidates=5, slate_size=2, n_context=2)
    items = sorted(set(pool.candidate_ids[pool.candidate_mask].tolist()))
    model, rows, targets = HybridRidge(ridge=0.7), [], []
    for start in range(0, 120, batch):
        obs = pool.take(np.arange(start, min(start + batch, 120)))
        slates = shown_slates(rng, obs)
        rewards = rng.normal(size=slates.shape)
        model.learn(obs, slates, rewards)
        rows.append(stacked_rows(obs, slates, items).reshape(-1, 7 + 3 * len(items)))
        targets.append(rewards.ravel())
    x, y = np.concatenate(rows), np.concatenate(targets)
    gram = 0.7 * np.eye(x.shape[1]) + x.T @ x
    theta, inverse = np.linalg.solve(gram, x.T @ y), np.linalg.inv(gram)
    test = pool.take(np.arange(120, 140))
    full = stacked_rows(test, None, items)
    mask = test.candidate_mask
    np.testing.assert_allclose(model.candidate_means(test)[mask], (full @ theta)[mask], atol=1e-9)
    widths = np.sqrt(np.einsum("ncp,pq,ncq->nc", full, inverse, full))
    np.testing.assert_allclose(model.candidate_widths(test)[mask], widths[mask], atol=1e-9)


def test_before_learning_it_is_the_prior():
    rng = np.random.default_rng(0)
    obs = random_observation(rng, n_context=2)
    model = HybridRidge(ridge=4.0)
    full = stacked_rows(obs, None, [])
    x = context_rows(obs)
    expected = np.sqrt(((full**2).sum(axis=2) + (x**2).sum(axis=1)[:, None]) / 4.0)
    mask = obs.candidate_mask
    np.testing.assert_allclose(model.candidate_widths(obs)[mask], expected[mask])
    assert not model.candidate_means(obs).any()


def test_posterior_draws_have_the_model_mean_and_width():
    rng = np.random.default_rng(8)
    pool = random_observation(rng, n_requests=81, max_candidates=4, slate_size=1, n_context=2)
    model = HybridRidge()
    train = pool.take(np.arange(80))
    model.learn(train, shown_slates(rng, train), rng.normal(size=(80, 1)))
    one = pool.take(np.full(20_000, 80))
    draws = model.sample_candidate_scores(one, 1.5, np.random.default_rng(9))
    valid = slice(0, int(one.n_candidates[0]))
    mean, width = model.candidate_means(one)[0, valid], model.candidate_widths(one)[0, valid]
    assert np.all(np.abs(draws[:, valid].mean(axis=0) - mean) < 4 * 1.5 * width / np.sqrt(20_000))
    np.testing.assert_allclose(draws[:, valid].std(axis=0), 1.5 * width, rtol=0.03)


def test_a_different_feature_width_is_refused():
    rng = np.random.default_rng(5)
    obs = random_observation(rng, n_context=3)
    model = HybridRidge()
    model.learn(obs, shown_slates(rng, obs), np.ones((obs.n_requests, obs.slate_size)))
    with pytest.raises(InputValueError, match=r"learned from 9 joint features; got .* 11"):
        model.candidate_means(random_observation(rng, n_context=4))


def test_posterior_draws_covary_across_candidates_as_the_stacked_ridge_posterior():
    """One draw per request shares its ``beta`` across the request's candidates, so their
    scores covary: ``scale^2 F A^-1 F'`` over the stacked rows ``F`` of the candidates. Each
    empirical covariance is within 4 standard errors (``sqrt((s_ii s_jj + s_ij^2) / n)``)."""
    rng = np.random.default_rng(12)
    pool = random_observation(rng, n_requests=61, max_candidates=5, slate_size=2, n_context=2)
    items = sorted(set(pool.candidate_ids[pool.candidate_mask].tolist()))
    model, scale, draws = HybridRidge(ridge=0.7), 1.3, 40_000
    train = pool.take(np.arange(60))
    slates = shown_slates(rng, train)
    model.learn(train, slates, rng.normal(size=slates.shape))
    x = stacked_rows(train, slates, items).reshape(-1, 7 + 3 * len(items))
    inverse = np.linalg.inv(0.7 * np.eye(x.shape[1]) + x.T @ x)
    one = pool.take(np.array([60]))
    valid = int(one.n_candidates[0])
    full = stacked_rows(one, None, items)[0, :valid]
    expected = scale**2 * full @ inverse @ full.T
    scores = model.sample_candidate_scores(one.take(np.zeros(draws, dtype=np.int64)), scale, rng)
    empirical = np.cov(scores[:, :valid], rowvar=False)
    variances = np.diag(expected)
    standard_error = np.sqrt((np.outer(variances, variances) + expected**2) / draws)
    assert np.all(np.abs(empirical - expected) < 4 * standard_error)
    assert np.abs(expected[~np.eye(valid, dtype=bool)]).max() > 5 * standard_error.max()
