"""true_value: exact per-request values on a frozen world, checked by hand and by simulation."""

import copy

import gymnasium as gym
import numpy as np
import pytest

from bandits.observation import as_observation
from bandits.validation import InputTypeError
from policies.uniform import UniformRandom
from simulator import LatentFactorEnv, StreamingServiceEnv, true_value

SMALL = {"n_requests": 50, "min_candidates": 8, "max_candidates": 8, "slate_size": 2}


def uniform_values_by_hand(world, seed, batches):
    """Per-request value of uniform slates of 8 candidates on a frozen copy of ``world``: each
    candidate at each position with probability 1/8."""
    world = copy.deepcopy(world)
    rng = np.random.default_rng(seed)
    hand = []
    for _ in range(batches):
        batch = world.next_batch(rng, 0, evolve=False)
        hand.append(world.choice_model.candidate_rewards(batch.logits, batch.values).sum((1, 2)))
    return np.concatenate(hand) / 8


def assert_value_matches_realised_rewards(world, value, act, batches, seed):
    """Clicks drawn for the slates ``act(raw observation)`` on a frozen copy of ``world``
    average to ``value`` within 4 standard errors (the sampled value's and the realised)."""
    world = copy.deepcopy(world)
    rng = np.random.default_rng(seed + 1000)
    realised = []
    for _ in range(batches):
        batch = world.next_batch(rng, 0, evolve=False)
        slates = act(world.observation(batch))
        logits = np.take_along_axis(batch.logits, slates, axis=1)
        clicks, _ = world.choice_model.simulate(logits, rng.random(slates.shape))
        realised.append(clicks.sum(axis=1).astype(float))
    realised = np.concatenate(realised)
    error = np.hypot(realised.std() / np.sqrt(realised.size), value.standard_error)
    assert abs(realised.mean() - value.value) < 4 * error


def test_position_based_value_is_the_uniform_average_of_candidate_rewards():
    env = LatentFactorEnv(**SMALL)
    env.reset(seed=0)
    value = true_value(env, UniformRandom(rng=np.random.default_rng(0)), n_requests=120, seed=4)
    assert value.exact and value.n_draws == 0 and value.per_request.shape == (120,)
    # Hand: the same requests from the same seed.
    np.testing.assert_allclose(value.per_request, uniform_values_by_hand(env.world, 4, 3)[:120])


def test_the_env_and_policy_are_untouched_and_the_seed_repeats():
    env = StreamingServiceEnv(n_requests=40)
    env.reset(seed=1)
    env.step(env.action_space.sample())
    tastes, time = env.world.users.tastes_.copy(), env._time
    policy = UniformRandom(rng=np.random.default_rng(2))
    state = copy.deepcopy(policy.rng.bit_generator.state)
    first = true_value(env, policy, n_requests=60, seed=9, n_draws=5)
    second = true_value(env, policy, n_requests=60, seed=9, n_draws=5)
    assert first.value == second.value and not first.exact and first.n_draws == 5
    np.testing.assert_array_equal(env.world.users.tastes_, tastes)
    assert env._time == time and policy.rng.bit_generator.state == state


@pytest.mark.parametrize("choice_model", ["position", "cascade", "mnl"])
def test_value_matches_realised_rewards_on_the_frozen_world(choice_model, stat_seed):
    """Rewards realised on a frozen copy average to the value within 4 standard errors."""
    env = LatentFactorEnv(choice_model=choice_model, **SMALL)
    env.reset(seed=stat_seed)
    policy = UniformRandom(rng=np.random.default_rng(stat_seed))
    value = true_value(env, policy, n_requests=4000, seed=stat_seed, n_draws=20)
    assert_value_matches_realised_rewards(
        env.world, value, lambda raw: policy.act(as_observation(raw)).slates, 80, stat_seed
    )


def test_true_value_refuses_other_environments():
    with pytest.raises(InputTypeError, match="simulator environment"):
        true_value(object(), UniformRandom(rng=np.random.default_rng(0)), n_requests=1, seed=0)


def _world_rows(raw, world, rows):
    return as_observation(
        {k: v if v.ndim == 0 else v[world * rows : (world + 1) * rows] for k, v in raw.items()}
    )


def test_a_vector_envs_worlds_are_valued_world_by_world():
    """Two stacked worlds reuse item ids for other items: each world's requests go to the
    policy apart, and the value averages every world's requests (hand: uniform marginals)."""
    env = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, **SMALL)
    env.reset(seed=3)
    value = true_value(env, UniformRandom(rng=np.random.default_rng(0)), n_requests=250, seed=5)
    assert value.exact and value.per_request.shape == (250,)
    hand = uniform_values_by_hand(env.unwrapped.world, 5, 3)  # 100 requests (2 x 50) a batch
    np.testing.assert_allclose(value.per_request, hand[:250])


def test_a_vector_envs_sampled_value_matches_its_realised_rewards(stat_seed):
    env = gym.make_vec("bandits/LatentFactor-v0", num_envs=3, choice_model="mnl", **SMALL)
    env.reset(seed=stat_seed)
    policy = UniformRandom(rng=np.random.default_rng(stat_seed))
    value = true_value(env, policy, n_requests=3000, seed=stat_seed, n_draws=20)
    assert not value.exact and value.n_draws == 20
    assert_value_matches_realised_rewards(
        env.unwrapped.world,
        value,
        lambda raw: np.concatenate([policy.act(_world_rows(raw, w, 50)).slates for w in range(3)]),
        40,
        stat_seed,
    )


def test_requests_valued_at_reset_have_the_counts_of_the_later_steps():
    """Step 0 offers every request max_candidates (for gymnasium's checker); the frozen
    copy's batch b has the counts of step b + 1, as the env serves from its second step on.
    Hand: uniform slates put each candidate at each position with probability 1/count."""
    env = LatentFactorEnv(n_requests=40, min_candidates=3, max_candidates=8, slate_size=2)
    env.reset(seed=0)
    value = true_value(env, UniformRandom(rng=np.random.default_rng(0)), n_requests=100, seed=2)
    world = copy.deepcopy(env.world)
    rng = np.random.default_rng(2)
    hand = []
    for b in range(3):
        batch = world.next_batch(rng, 0, evolve=False, counts_at=b + 1)
        counts = batch.counts
        np.testing.assert_array_equal(counts, world.candidate_counts(b + 1))
        assert len(set(counts.tolist())) == 6  # 3 to 8
        rewards = world.choice_model.candidate_rewards(batch.logits, batch.values)
        hand.append(rewards.sum((1, 2)) / counts)
    np.testing.assert_allclose(value.per_request, np.concatenate(hand)[:100], rtol=1e-12)
