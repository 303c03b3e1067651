"""Learning sanity on a synthetic problem whose expected reward is linear in the features."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.models.features import interaction_features
from bandits.observation import SlateObservation
from bandits.validation import InputValueError
from policies import LinTS, LinUCB, RidgeGreedy, UniformRandom


def mean_reward_late(policy, make_observation, seed, *, batches=300, late=100, n_requests=10):
    """Run ``policy`` and return the per-batch mean expected reward of the last ``late``
    batches. Expected reward = theta . x with x the interaction features; noise N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=3 * 3 + 3 + 1)
    means = []
    for _ in range(batches):
        obs = make_observation(
            rng, n_requests=n_requests, max_candidates=10, n_context=3, n_item=3, slate_size=2
        )
        decision = policy.act(obs)
        expected = interaction_features(obs, decision.slates) @ theta
        rewards = expected + rng.normal(scale=0.5, size=expected.shape)
        policy.update(obs, decision, SlateFeedback(rewards))
        means.append(expected.mean())
    return np.asarray(means[-late:])


@pytest.mark.parametrize("learner", ["linucb", "lints"])
def test_linear_policies_beat_uniform(make_observation, stat_seed, learner):
    rng = np.random.default_rng(stat_seed + 500)
    policy = LinUCB(alpha=1.0) if learner == "linucb" else LinTS(probability_draws=1, rng=rng)
    linucb = mean_reward_late(policy, make_observation, stat_seed)
    uniform = mean_reward_late(
        UniformRandom(rng=np.random.default_rng(stat_seed)), make_observation, stat_seed
    )
    difference = linucb.mean() - uniform.mean()
    standard_error = np.sqrt(linucb.var(ddof=1) / linucb.size + uniform.var(ddof=1) / uniform.size)
    assert difference > 4 * standard_error, (difference, standard_error)


def bernoulli_arms_regret(policy, seed, *, n_arms=10, batches=150, batch_size=10):
    """Regret of ``policy`` on a K-armed Bernoulli bandit (one-hot item features, no context,
    every arm a candidate, slates of one), means a random permutation of 0.05..0.5."""
    rng = np.random.default_rng(seed)
    means = rng.permutation(np.linspace(0.05, 0.5, n_arms))
    items = ItemTable(np.arange(n_arms), np.eye(n_arms))
    regret = 0.0
    for batch in range(batches):
        obs = SlateObservation(
            context=np.zeros((batch_size, 0)),
            candidate_ids=np.tile(np.arange(n_arms), (batch_size, 1)),
            n_candidates=np.full(batch_size, n_arms),
            slate_size=1,
            history=np.zeros((batch_size, 0), dtype=np.int64),
            request_ids=batch * batch_size + np.arange(batch_size),
            user_ids=np.zeros(batch_size, dtype=np.int64),
            times=np.full(batch_size, batch),
            items=items,
        )
        decision = policy.act(obs)
        chosen = means[decision.slates[:, 0]]
        regret += float((means.max() - chosen).sum())
        clicks = (rng.random(batch_size) < chosen).astype(np.float64)
        policy.update(obs, decision, SlateFeedback(clicks[:, None]))
    return regret


def test_linucb_explores_where_ridge_greedy_gets_stuck(stat_seed):
    """Greedy locks onto the first arm that clicks; LinUCB's bonus tries the others. The paired
    regret difference over 30 problems is positive by more than 4 standard errors."""
    problems = np.random.SeedSequence(stat_seed).spawn(30)
    difference = np.array(
        [
            bernoulli_arms_regret(RidgeGreedy(), problem)
            - bernoulli_arms_regret(LinUCB(alpha=1.0), problem)
            for problem in problems
        ]
    )
    standard_error = difference.std(ddof=1) / np.sqrt(difference.size)
    assert difference.mean() > 4 * standard_error, (difference.mean(), standard_error)


def contextual_arms_regret(seed, *, batch, random_ties, model="joint", n_arms=20, d=5, rounds=1000):
    """LinUCB on a disjoint linear problem (one-hot arms, context x ~ N(0, I), reward
    x . theta_arm + N(0, 0.5^2)), learning every ``batch`` requests."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n_arms, d)) / np.sqrt(d)
    items = ItemTable(np.arange(n_arms), np.eye(n_arms))
    tie_stream = np.random.default_rng(seed + 1) if random_ties else None
    policy = LinUCB(alpha=1.0, model=model, rng=tie_stream)
    regret = 0.0
    for start in range(0, rounds, batch):
        n = min(batch, rounds - start)
        context = rng.normal(size=(n, d))
        obs = SlateObservation(
            context=context,
            candidate_ids=np.tile(np.arange(n_arms), (n, 1)),
            n_candidates=np.full(n, n_arms),
            slate_size=1,
            history=np.zeros((n, 0), dtype=np.int64),
            request_ids=start + np.arange(n),
            user_ids=np.zeros(n, dtype=np.int64),
            times=np.full(n, start),
            items=items,
        )
        decision = policy.act(obs)
        means = context @ theta.T
        chosen = means[np.arange(n), decision.slates[:, 0]]
        regret += float((means.max(axis=1) - chosen).sum())
        rewards = chosen + rng.normal(scale=0.5, size=n)
        policy.update(obs, decision, SlateFeedback(rewards[:, None]))
    return regret


@pytest.mark.parametrize("model", ["joint", "disjoint"])
def test_batched_linucb_explores_like_its_row_at_a_time_self(stat_seed, model):
    """Unseen arms tie; broken at random, a batch of 50 spreads over them, so learning every
    50 requests costs less than twice the regret of learning every request, while breaking
    ties to the lowest index (one new arm per batch) costs far more."""
    problems = [int(x) for x in np.random.SeedSequence(stat_seed).generate_state(2)]

    def mean_regret(**kwargs):
        return np.mean([contextual_arms_regret(p, model=model, **kwargs) for p in problems])

    row = mean_regret(batch=1, random_ties=True)
    batched = mean_regret(batch=50, random_ties=True)
    lowest_index = mean_regret(batch=50, random_ties=False)
    assert batched < 2 * row, (batched, row)
    assert batched < 0.6 * lowest_index, (batched, lowest_index)


@pytest.mark.parametrize("model", ["joint", "disjoint", "hybrid"])
def test_positions_not_examined_are_not_learned_as_negatives(make_observation, model):
    """Under a cascade, the positions below the last click were never seen: learning with the
    'examined' signal equals learning from the examined positions alone, and differs from
    counting them as zeros."""
    rng = np.random.default_rng(3)
    obs = make_observation(rng, n_requests=30, slate_size=3, max_candidates=6)
    aware, trimmed, naive = (LinUCB(model=model) for _ in range(3))
    decision = aware.act(obs)
    clicks = (rng.random((30, 3)) < 0.4).astype(np.float64)
    depth = rng.integers(1, 4, size=30)  # positions examined, from the top
    examined = (np.arange(3) < depth[:, None]).astype(np.float64)
    rewards = clicks * examined
    aware.update(obs, decision, SlateFeedback(rewards, {"examined": examined}))
    for d in (1, 2, 3):  # the same rows learned by hand, each with its examined positions
        rows = np.flatnonzero(depth == d)
        trimmed._learn(obs.take(rows), decision.slates[rows, :d], rewards[rows, :d])
    naive.update(obs, decision, SlateFeedback(rewards))
    test = make_observation(np.random.default_rng(4), n_requests=10, slate_size=3)
    np.testing.assert_allclose(aware.scores(test), trimmed.scores(test), atol=1e-10)
    assert not np.allclose(aware.scores(test), naive.scores(test))


def test_an_examined_signal_that_is_not_zero_or_one_is_refused(make_observation):
    obs = make_observation(np.random.default_rng(5), n_requests=4, slate_size=2)
    policy = LinUCB()
    decision = policy.act(obs)
    examined = np.ones((4, 2))
    examined[2, 1] = 0.5
    with pytest.raises(InputValueError, match=r"'examined' .* row 2, position 1 is 0\.5"):
        policy.update(obs, decision, SlateFeedback(np.zeros((4, 2)), {"examined": examined}))
