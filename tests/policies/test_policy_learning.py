"""Learning sanity on a synthetic problem whose expected reward is linear in the features."""

from __future__ import annotations

import numpy as np

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.models.features import interaction_features
from bandits.observation import SlateObservation
from policies import LinUCB, RidgeGreedy, UniformRandom


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


def test_linucb_beats_uniform(make_observation, stat_seed):
    linucb = mean_reward_late(LinUCB(alpha=1.0), make_observation, stat_seed)
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
