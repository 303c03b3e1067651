"""Fixed rollouts of every preset: a refactor of the wiring must not change what a seed gives.

The hashes cover observations, rewards and the ground truth of a few steps of each preset
under slates drawn from a fixed generator. A change that is meant to alter the worlds' draws
updates them in the same commit and says why.
"""

import hashlib

import gymnasium as gym
import numpy as np
import pytest

import simulator
from bandits.slates import sample_uniform_slates

SMALL = {"n_requests": 6, "min_candidates": 6, "max_candidates": 9}


def rollout_hash(env_id: str, seed: int, steps: int = 5) -> str:
    env = gym.make(env_id, **SMALL)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(1000 + seed)
    digest = hashlib.sha256()

    def add(value):
        if isinstance(value, dict):
            for key in sorted(value):
                digest.update(key.encode())
                add(value[key])
        else:
            digest.update(np.ascontiguousarray(value).tobytes())

    add(obs)
    size = env.unwrapped.slate_size
    for _ in range(steps):
        slates = sample_uniform_slates(obs["n_candidates"], size, SMALL["max_candidates"], rng)
        obs, reward, _, _, info = env.step(slates)
        add(obs)
        add(np.float64(reward))
        add({key: value for key, value in info.items() if key != "candidate_rewards"})
    return digest.hexdigest()[:16]


EXPECTED = {
    ("bandits/LatentFactor-v0", 0): "5459d3cf0fa43b52",
    ("bandits/LatentFactor-v0", 7): "d72451ea8389b9a7",
    ("bandits/OnlineShop-v0", 0): "27dbcb6cc60aa644",
    ("bandits/OnlineShop-v0", 7): "90829eb87ca5cb14",
    ("bandits/StreamingService-v0", 0): "eee2468b4eaee685",
    ("bandits/StreamingService-v0", 7): "dc8b17c0e7c8223c",
}


@pytest.mark.parametrize("env_id", sorted(simulator.PRESETS))
@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_gives_the_recorded_rollout(env_id, seed):
    assert rollout_hash(env_id, seed) == EXPECTED[(env_id, seed)]
