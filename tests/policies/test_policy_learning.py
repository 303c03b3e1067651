"""Learning sanity on a synthetic problem whose expected reward is linear in the features."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.feedback import SlateFeedback
from bandits.models.features import interaction_features
from policies import LinUCB, UniformRandom


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


@pytest.mark.parametrize("seed", [0, 1])
def test_linucb_beats_uniform(make_observation, seed):
    linucb = mean_reward_late(LinUCB(alpha=1.0), make_observation, seed)
    uniform = mean_reward_late(
        UniformRandom(rng=np.random.default_rng(seed)), make_observation, seed
    )
    difference = linucb.mean() - uniform.mean()
    standard_error = np.sqrt(linucb.var(ddof=1) / linucb.size + uniform.var(ddof=1) / uniform.size)
    assert difference > 4 * standard_error, (difference, standard_error)
