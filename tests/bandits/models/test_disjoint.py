"""The disjoint model: per-item ridge statistics against a direct solve, rank-1 updates that stay
exact over many rows, batches equal to row-at-a-time learning, memory in the items seen."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_observation

from bandits.items import ItemTable
from bandits.models import DisjointRidge
from bandits.models import disjoint as disjoint_module
from bandits.models.disjoint import context_rows
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputValueError


def shown_slates(rng, obs):
    return np.stack([rng.permutation(int(n))[: obs.slate_size] for n in obs.n_candidates])


def direct_solution(batches, ridge):
    """Per item: (A^-1 b, A^-1) by summing the rows of every batch and inverting."""
    stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for obs, slates, rewards in batches:
        z = context_rows(obs)
        ids = np.take_along_axis(obs.candidate_ids, slates, axis=1)
        for i, j in np.ndindex(ids.shape):
            gram, moment = stats.setdefault(
                int(ids[i, j]), (ridge * np.eye(z.shape[1]), np.zeros(z.shape[1]))
            )
            gram += np.outer(z[i], z[i])
            moment += rewards[i, j] * z[i]
    return {a: (np.linalg.solve(g, m), np.linalg.inv(g)) for a, (g, m) in stats.items()}


def assert_matches(model, obs, solution, ridge):
    z = context_rows(obs)
    means, widths = model.candidate_means(obs), model.candidate_widths(obs)
    for i in range(obs.n_requests):
        for c in range(obs.n_candidates[i]):
            item = int(obs.candidate_ids[i, c])
            theta, inverse = solution.get(item, (np.zeros(z.shape[1]), np.eye(z.shape[1]) / ridge))
            assert means[i, c] == pytest.approx(z[i] @ theta, abs=1e-10)
            assert widths[i, c] == pytest.approx(np.sqrt(z[i] @ inverse @ z[i]), abs=1e-10)


@pytest.mark.parametrize("batch", [1, 7, 40])
def test_means_and_widths_equal_a_direct_solve_per_item(batch):
    rng = np.random.default_rng(batch)
    pool = random_observation(rng, n_requests=280, max_candidates=6, slate_size=2)
    model, batches = DisjointRidge(ridge=0.5), []
    for start in range(0, 240, batch):
        obs = pool.take(np.arange(start, min(start + batch, 240)))
        slates = shown_slates(rng, obs)
        rewards = rng.normal(size=slates.shape)
        model.learn(obs, slates, rewards)
        batches.append((obs, slates, rewards))
    assert_matches(model, pool.take(np.arange(240, 280)), direct_solution(batches, 0.5), 0.5)


def test_rank_one_updates_stay_exact_past_many_refreshes(monkeypatch):
    monkeypatch.setattr(disjoint_module, "REFRESH_EVERY", 50)
    rng = np.random.default_rng(3)
    items = ItemTable(np.arange(3), np.zeros((3, 0)))
    model, batches = DisjointRidge(ridge=1.0), []
    for _ in range(400):  # 400 rows of three items, one at a time: ~8 refreshes each
        obs = one_request(rng, items)
        slates = np.array([[int(rng.integers(3))]])
        rewards = rng.normal(size=(1, 1))
        model.learn(obs, slates, rewards)
        batches.append((obs, slates, rewards))
    assert_matches(model, one_request(rng, items), direct_solution(batches, 1.0), 1.0)


def one_request(rng, items):
    return SlateObservation(
        context=rng.normal(size=(1, 4)) * 10,
        candidate_ids=np.array([[0, 1, 2]]),
        n_candidates=np.array([3]),
        slate_size=1,
        history=np.full((1, 1), PAD_ID),
        request_ids=np.array([0]),
        user_ids=np.array([0]),
        times=np.array([0]),
        items=items,
    )


def test_unseen_items_get_the_prior_and_memory_grows_with_items_seen():
    rng = np.random.default_rng(4)
    n_items = 100_000
    items = ItemTable(np.arange(n_items), np.zeros((n_items, 0)))
    obs = SlateObservation(
        context=rng.normal(size=(50, 5)),
        candidate_ids=np.stack([rng.choice(n_items, 20, replace=False) for _ in range(50)]),
        n_candidates=np.full(50, 20),
        slate_size=3,
        history=np.full((50, 1), PAD_ID),
        request_ids=np.arange(50),
        user_ids=np.arange(50),
        times=np.zeros(50, dtype=np.int64),
        items=items,
    )
    model = DisjointRidge(ridge=2.0)
    before = model.candidate_widths(obs)
    expected = np.linalg.norm(context_rows(obs), axis=1) / np.sqrt(2.0)
    np.testing.assert_allclose(before, np.repeat(expected[:, None], 20, axis=1))
    model.learn(obs, shown_slates(rng, obs), rng.normal(size=(50, 3)))
    assert model.n_items_ <= 150 and model._gram.shape[0] <= 2 * 151  # not the catalogue
    widths = model.candidate_widths(obs)
    assert np.all(widths <= before + 1e-12)  # learning only narrows the widths


def test_a_different_context_width_is_refused():
    rng = np.random.default_rng(5)
    obs = random_observation(rng, n_context=3)
    model = DisjointRidge()
    model.learn(obs, shown_slates(rng, obs), np.ones((obs.n_requests, obs.slate_size)))
    with pytest.raises(InputValueError, match=r"learned from 3 context features; got .* 4"):
        model.candidate_means(random_observation(rng, n_context=4))


def test_posterior_draws_have_the_model_mean_and_width():
    rng = np.random.default_rng(6)
    pool = random_observation(rng, n_requests=101, max_candidates=4, slate_size=1)
    model = DisjointRidge()
    train = pool.take(np.arange(100))
    model.learn(train, shown_slates(rng, train), rng.normal(size=(100, 1)))
    one = pool.take(np.full(20_000, 100))
    draws = model.sample_candidate_scores(one, 2.0, np.random.default_rng(7))
    mean, width = model.candidate_means(one)[0], model.candidate_widths(one)[0]
    valid = slice(0, int(one.n_candidates[0]))
    stderr = 2.0 * width[valid] / np.sqrt(20_000)
    assert np.all(np.abs(draws[:, valid].mean(axis=0) - mean[valid]) < 4 * stderr)
    np.testing.assert_allclose(draws[:, valid].std(axis=0), 2.0 * width[valid], rtol=0.03)


def test_the_rank_one_path_runs_and_matches_the_inverse(monkeypatch):
    """With 12 context features (p = 13) one shown item is a rank-1 update, not a
    re-inversion (by the batch path's rounds or the single-request path's one row); after 300
    of them the inverses equal the Gram matrices' inverses."""
    rng = np.random.default_rng(1)
    obs = random_observation(rng, n_requests=300, max_candidates=5, n_context=12)
    model, calls = DisjointRidge(ridge=1.0), []
    rounds, one_row = model._sherman_morrison, model._rank_one
    monkeypatch.setattr(
        model,
        "_sherman_morrison",
        lambda slots, *rest: calls.append(slots.size) or rounds(slots, *rest),
    )
    monkeypatch.setattr(model, "_rank_one", lambda slot, x: calls.append(1) or one_row(slot, x))
    for i in range(300):
        model.learn(obs.take(np.array([i])), np.array([[0, 1]]), rng.normal(size=(1, 2)))
    assert sum(calls) > 500  # nearly every shown item took the rank-1 path
    used = np.unique(model.slots_of(obs.candidate_ids[:, :2]))
    np.testing.assert_allclose(model.inverses(used), np.linalg.inv(model._gram[used]), atol=1e-10)
