"""Fixed rollouts of every preset: a refactor of the wiring must not change what a seed gives.

Each fingerprint covers observations, rewards and the ground truth of a few steps of each
preset under slates drawn from a fixed generator: a hash of everything but the floats (ids,
counts, slates, clicks, oracle slates: bit for bit), and a checksum of each float field (features,
rewards, expected rewards) matched to 1e-9. The floats' last bits follow the BLAS kernel
(``OPENBLAS_CORETYPE`` changes which one runs, and so the sums' order), which a pinned
value cannot; two runs on one machine stay bit for bit the same
(``test_env_contract``, ``test_vector_env``). A change that is meant to alter the worlds'
draws updates the fingerprints in the same commit and says why.
"""

import hashlib

import gymnasium as gym
import numpy as np
import pytest

import simulator
from bandits.slates import sample_uniform_slates

SMALL = {"n_requests": 6, "min_candidates": 6, "max_candidates": 9}


def rollout_fingerprint(env_id: str, seed: int, steps: int = 5) -> tuple[str, dict[str, float]]:
    """(hash of the non-float data, checksum of each float field) of a seeded rollout."""
    env = gym.make(env_id, **SMALL)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(1000 + seed)
    digest = hashlib.sha256()
    checksums: dict[str, float] = {}

    def add(value, name=""):
        if isinstance(value, dict):
            for key in sorted(value):
                digest.update(key.encode())
                add(value[key], f"{name}/{key}".lstrip("/"))
            return
        array = np.ascontiguousarray(value)
        digest.update(str(array.shape).encode())
        if array.dtype.kind == "f":  # weights 1 to 97 by place, so a moved value shows too
            flat = array.ravel()
            weighted = float(np.dot(flat, np.arange(flat.size) % 97 + 1.0))
            checksums[name] = checksums.get(name, 0.0) + weighted
        else:
            digest.update(array.tobytes())

    add(obs)
    size = env.unwrapped.slate_size
    for _ in range(steps):
        slates = sample_uniform_slates(obs["n_candidates"], size, SMALL["max_candidates"], rng)
        obs, reward, _, _, info = env.step(slates)
        add(obs)
        add(np.float64(reward), "reward")
        add({key: value for key, value in info.items() if key != "candidate_rewards"})
    return digest.hexdigest()[:16], checksums


EXPECTED = {
    ("bandits/LatentFactor-v0", 0): (
        "ca4bfb290fa5815c",
        {
            "candidate_features": 426.73630675514033,
            "context": -85.63007330838738,
            "expected_reward": 54.93802266963747,
            "expected_rewards": 147.59004090968,
            "expected_signals/click": 54.93802266963747,
            "oracle_reward": 79.77493864178466,
            "rewards": 139.0,
            "signals/click": 139.0,
            "reward": 13.0,
        },
    ),
    ("bandits/LatentFactor-v0", 7): (
        "71205b12609d8db3",
        {
            "candidate_features": 2774.185869179752,
            "context": 91.40788775408788,
            "expected_reward": 59.834221865514635,
            "expected_rewards": 158.57338030159804,
            "expected_signals/click": 59.834221865514635,
            "oracle_reward": 97.03409339922976,
            "rewards": 174.0,
            "signals/click": 174.0,
            "reward": 22.0,
        },
    ),
    ("bandits/OnlineShop-v0", 0): (
        "7fa0f5622fa83f5e",
        {
            "candidate_features": 18307.02073590271,
            "context": 12100.24293257816,
            "expected_reward": 32.0553365145377,
            "expected_rewards": 111.86401898651468,
            "expected_signals/click": 64.10829948377075,
            "expected_signals/purchase": 25.644506566160622,
            "oracle_reward": 45.92045097942716,
            "rewards": 155.6,
            "signals/click": 256.0,
            "signals/purchase": 130.0,
            "reward": 13.100000000000001,
        },
    ),
    ("bandits/OnlineShop-v0", 7): (
        "b769b0b0a983d3d1",
        {
            "candidate_features": 8803.333494692019,
            "context": 11974.788467390177,
            "expected_reward": 44.585122274784595,
            "expected_rewards": 156.10253661874722,
            "expected_signals/click": 75.95399027545815,
            "expected_signals/purchase": 36.989723247238786,
            "oracle_reward": 61.08272011553785,
            "rewards": 159.70000000000002,
            "signals/click": 287.0,
            "signals/purchase": 131.0,
            "reward": 12.4,
        },
    ),
    ("bandits/StreamingService-v0", 0): (
        "1cb5d63783427369",
        {
            "candidate_features": 14350.018303037814,
            "context": 10155.925674153117,
            "expected_reward": 108.37393528895713,
            "expected_rewards": 453.20977336870504,
            "expected_signals/click": 99.00822787697027,
            "expected_signals/watch_time": 108.37393528895713,
            "oracle_reward": 157.55915375404481,
            "rewards": 507.12393579453897,
            "signals/click": 422.0,
            "signals/examined": 771.0,
            "signals/watch_time": 507.12393579453897,
            "reward": 34.98798323923681,
        },
    ),
    ("bandits/StreamingService-v0", 7): (
        "53c07de07fb877ee",
        {
            "candidate_features": 10833.924831753448,
            "context": 9987.6132114009,
            "expected_reward": 99.64235066330124,
            "expected_rewards": 407.83843769871936,
            "expected_signals/click": 97.97008566923125,
            "expected_signals/watch_time": 99.64235066330124,
            "oracle_reward": 151.8988925919605,
            "rewards": 508.71822566163826,
            "signals/click": 406.0,
            "signals/examined": 892.0,
            "signals/watch_time": 508.71822566163826,
            "reward": 39.527658786821334,
        },
    ),
}


@pytest.mark.parametrize("env_id", sorted(simulator.PRESETS))
@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_gives_the_recorded_rollout(env_id, seed):
    digest, checksums = rollout_fingerprint(env_id, seed)
    expected_digest, expected_checksums = EXPECTED[(env_id, seed)]
    assert digest == expected_digest
    assert checksums == pytest.approx(expected_checksums, rel=1e-9)
