"""make_vec: the natively batched vector environment of every preset."""

import gymnasium as gym
import numpy as np
import pytest

import simulator
from bandits.observation import PAD_ID, SlateObservation
from bandits.slates import sample_uniform_slates
from simulator import SlateVectorEnv

ENV_IDS = sorted(simulator.PRESETS)
SMALL = {"n_requests": 5, "min_candidates": 6, "max_candidates": 9}


def rollout(env_id, seed, steps=4, num_envs=3):
    envs = gym.make_vec(env_id, num_envs=num_envs, **SMALL)
    obs, _ = envs.reset(seed=seed)
    envs.action_space.seed(seed)
    trace = [obs]
    for _ in range(steps):
        trace.append(envs.step(envs.action_space.sample()))
    return envs, trace


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_uses_the_native_vector_env(env_id):
    envs, trace = rollout(env_id, seed=0, steps=1)
    assert isinstance(envs.unwrapped, SlateVectorEnv)
    assert envs.num_envs == 3
    obs = trace[0]
    assert obs in envs.observation_space
    assert obs["candidate_ids"].shape == (3, 5, 9)
    next_obs, rewards, terminated, truncated, info = trace[1]
    assert next_obs in envs.observation_space
    assert rewards.shape == terminated.shape == truncated.shape == (3,)
    assert not terminated.any() and not truncated.any()
    size = envs.single_action_space.slate_size
    assert info["rewards"].shape == (3, 5, size) and info["_rewards"].all()
    np.testing.assert_allclose(rewards, info["rewards"].sum(axis=(1, 2)))
    assert info["expected_reward"].shape == info["oracle_reward"].shape == (3, 5)
    assert np.all(info["oracle_reward"] >= info["expected_reward"] - 1e-12)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_vector_rollout_bit_for_bit(env_id):
    assert_same(rollout(env_id, 4)[1], rollout(env_id, 4)[1])
    assert not np.array_equal(
        rollout(env_id, 4)[1][0]["context"], rollout(env_id, 5)[1][0]["context"]
    )


def test_sub_environments_are_separate_worlds():
    """Each sub-environment names its own users and items from 0 and is a valid observation;
    the worlds differ."""
    envs, trace = rollout("bandits/LatentFactor-v0", seed=1, steps=0, num_envs=2)
    obs = trace[0]
    for e in range(2):
        one = SlateObservation.from_mapping({key: value[e] for key, value in obs.items()})
        assert one.n_requests == 5
        assert one.candidate_ids[one.candidate_mask].max() < 200
    world = envs.unwrapped.world
    assert world.catalogue.factors_.shape == (2 * 200, 6)
    assert not np.array_equal(world.catalogue.factors_[:200], world.catalogue.factors_[200:])


def test_vector_step_checks_the_actions():
    envs = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, **SMALL)
    envs.reset(seed=0)
    bad = np.zeros((2, 5, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="must not repeat"):
        envs.step(bad)
    with pytest.raises(ValueError, match=r"3 axes; got shape \(5, 3\)"):
        envs.step(np.zeros((5, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"shape \(2, 5, 3\); got \(3, 5, 3\)"):
        envs.step(np.zeros((3, 5, 3), dtype=np.int64))


def test_vector_reset_takes_one_seed_and_refuses_one_per_world():
    envs = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, **SMALL)
    with pytest.raises(ValueError, match=r"takes one seed for all its 2 worlds .* got a list of 2"):
        envs.reset(seed=[1, 2])
    listed, _ = envs.reset(seed=[7])
    plain, _ = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, **SMALL).reset(seed=7)
    for key in plain:
        np.testing.assert_array_equal(listed[key], plain[key])


def test_histories_live_in_each_world():
    envs = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, n_users=3, logit_scale=0.0, **SMALL)
    envs.reset(seed=2)
    for _ in range(10):
        obs, *_ = envs.step(envs.action_space.sample())
    history = obs["history"]
    assert (history != PAD_ID).any()
    assert history.max() < 200


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_env_gives_the_single_envs_distribution_of_rewards(env_id, stat_seed):
    """Per world, the mean reward per request and the click rate at each slate position under
    uniform slates: 24 single envs (seeds) against the 24 sub-environments of one vector env.
    The worlds, drawn independently, are the units: each mean, and each position's click
    rate, agree within 4 standard errors of the difference (from the spread over worlds)."""
    worlds, steps, params = 24, 8, {"n_requests": 16, "min_candidates": 6, "max_candidates": 9}
    rng = np.random.default_rng(stat_seed)
    single, single_clicks = [], []
    for k in range(worlds):
        env = gym.make(env_id, **params)
        obs, _ = env.reset(seed=1000 * stat_seed + k)
        total, clicks = 0.0, 0.0
        for _ in range(steps):
            slates = sample_uniform_slates(obs["n_candidates"], env.unwrapped.slate_size, 9, rng)
            obs, reward, _, _, info = env.step(slates)
            total += reward
            clicks = clicks + info["signals"]["click"].sum(axis=0)
        single.append(total / (steps * params["n_requests"]))
        single_clicks.append(clicks / (steps * params["n_requests"]))
    envs = gym.make_vec(env_id, num_envs=worlds, **params)
    obs, _ = envs.reset(seed=10_000 + stat_seed)
    size = envs.single_action_space.slate_size
    vector = np.zeros(worlds)
    vector_clicks = np.zeros((worlds, size))
    for _ in range(steps):
        counts = obs["n_candidates"].reshape(-1)
        slates = sample_uniform_slates(counts, size, 9, rng).reshape(worlds, -1, size)
        obs, rewards, _, _, info = envs.step(slates)
        vector += rewards
        vector_clicks += info["signals"]["click"].sum(axis=1)
    vector /= steps * params["n_requests"]
    vector_clicks /= steps * params["n_requests"]
    single, single_clicks = np.asarray(single), np.asarray(single_clicks)
    error = np.sqrt(single.var(ddof=1) / worlds + vector.var(ddof=1) / worlds)
    assert abs(single.mean() - vector.mean()) < 4 * error
    assert single_clicks.shape == vector_clicks.shape == (worlds, size)
    gap = single_clicks.mean(axis=0) - vector_clicks.mean(axis=0)
    errors = np.sqrt(
        single_clicks.var(axis=0, ddof=1) / worlds + vector_clicks.var(axis=0, ddof=1) / worlds
    )
    assert np.all(errors > 0)
    assert np.all(np.abs(gap) < 4 * errors), (gap, errors)


def test_vector_env_serves_users_without_history():
    """history_length=0: each row's history is empty; the stacked rows still split by
    world (a -1 in the reshape cannot be solved against a zero-width axis)."""
    env = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, history_length=0)
    obs, _ = env.reset(seed=0)
    assert obs["history"].shape == (2, 32, 0)
    obs, rewards, *_, info = env.step(env.action_space.sample())
    assert obs["history"].shape == (2, 32, 0)
    assert rewards.shape == (2,) and info["rewards"].shape == (2, 32, 3)


def test_vector_candidate_rewards_have_the_leading_world_axis():
    """candidate_rewards() on the vector env has the shape of info's entry of the same name:
    (num_envs, n_requests, max_candidates, slate_size), world by world."""
    env = gym.make_vec("bandits/LatentFactor-v0", num_envs=3)
    env.reset(seed=4, options={"candidate_rewards": True})
    before = env.unwrapped.candidate_rewards()
    assert before.shape == (3, 32, 20, 3)
    *_, info = env.step(env.action_space.sample())
    np.testing.assert_array_equal(info["candidate_rewards"], before)


def test_vector_action_spaces_follow_the_candidate_counts_of_each_step():
    envs = gym.make_vec("bandits/LatentFactor-v0", num_envs=2, **SMALL)
    obs, _ = envs.reset(seed=0)
    envs.action_space.seed(0)
    world = envs.unwrapped.world
    for step in range(1, 5):
        obs, *_ = envs.step(envs.action_space.sample())
        counts = world.candidate_counts(step)
        np.testing.assert_array_equal(obs["n_candidates"], np.stack([counts, counts]))
        np.testing.assert_array_equal(envs.single_action_space.counts, counts)
        np.testing.assert_array_equal(envs.action_space.counts, np.tile(counts, 2))


def test_gymnasiums_sync_vector_mode_batches_the_slate_space_and_follows_the_counts():
    """gymnasium's ``batch_space`` gives a SlateSpace over the sub-environments that reads
    the first one's counts: its samples are valid slates at every step (a generic batched
    space repeated items)."""
    envs = gym.make_vec("bandits/LatentFactor-v0", num_envs=3, vectorization_mode="sync", **SMALL)
    assert isinstance(envs.action_space, simulator.SlateSpace)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    for _ in range(30):
        obs, *_ = envs.step(envs.action_space.sample())
        np.testing.assert_array_equal(envs.action_space.counts, obs["n_candidates"].ravel())
    envs.close()
