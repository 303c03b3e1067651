"""What every registered bandits/ environment promises the kernel (run over the registry)."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import simulator  # noqa: F401  (registers the environments)
from bandits.observation import as_observation
from bandits.slates import sample_uniform_slates

ENV_IDS = sorted(key for key in gym.registry if key.startswith("bandits/"))


def test_the_registry_holds_the_bandits_environments():
    assert "bandits/LatentFactor-v0" in ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_checker_passes(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make(env_id).unwrapped)
    # The only complaint allowed: float features are unbounded Boxes.
    assert all("infinity" in str(w.message) for w in caught), [str(w.message) for w in caught]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_are_slate_observations_and_info_has_the_ground_truth(env_id):
    env = gym.make(env_id)
    raw, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs = as_observation(raw)
        slates = sample_uniform_slates(obs.n_candidates, obs.slate_size, obs.max_candidates, rng)
        expected_before = env.unwrapped.expected_slate_reward(slates)
        raw, reward, _, _, info = env.step(slates)
        shape = (obs.n_requests, obs.slate_size)
        assert info["rewards"].shape == shape and np.isfinite(info["rewards"]).all()
        assert reward == pytest.approx(info["rewards"].sum())
        np.testing.assert_allclose(info["expected_reward"], expected_before)
        assert (info["oracle_reward"] >= info["expected_reward"] - 1e-12).all()
        for signal in info.get("signals", {}).values():
            assert signal.shape == shape


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_observations(env_id):
    first, second = gym.make(env_id), gym.make(env_id)
    a, _ = first.reset(seed=5)
    b, _ = second.reset(seed=5)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
