"""What every registered bandits/ environment promises the kernel (run over the registry)."""

from __future__ import annotations

import itertools
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import scipy.stats
from gymnasium.utils.env_checker import check_env

import simulator
from bandits.observation import as_observation
from bandits.slates import sample_uniform_slates

try:
    import sklearn  # noqa: F401  (the supervised environment loads its data with it)

    HAS_SKLEARN = True
except ImportError:  # pragma: no cover - depends on the installation
    HAS_SKLEARN = False

ENV_IDS = [
    pytest.param(
        key,
        marks=pytest.mark.skipif(
            key == simulator.SUPERVISED_ID and not HAS_SKLEARN, reason="needs scikit-learn"
        ),
    )
    for key in sorted(key for key in gym.registry if key.startswith("bandits/"))
]
"""Every registered environment: the promises the kernel relies on."""

PRESET_IDS = sorted(simulator.PRESETS)
"""The simulated worlds, which also take the choice-model and candidate parameters."""


def test_the_registry_holds_the_bandits_environments():
    ids = [param.values[0] for param in ENV_IDS]
    assert set(simulator.PRESETS) | {simulator.SUPERVISED_ID} <= set(ids)


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
def test_same_seed_same_rollout(env_id):
    """Two envs reset with the same seed and stepped with the same slates for several steps
    give the same observations, rewards and info, bit for bit; another seed does not."""
    first, second, other = gym.make(env_id), gym.make(env_id), gym.make(env_id)
    a, _ = first.reset(seed=5)
    b, _ = second.reset(seed=5)
    c, _ = other.reset(seed=6)
    rng = np.random.default_rng(5)
    differs = False
    for _ in range(6):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        differs |= not np.array_equal(a["context"], c["context"])
        slates = sample_uniform_slates(
            a["n_candidates"], int(a["slate_size"]), a["candidate_ids"].shape[1], rng
        )
        a, reward_a, _, _, info_a = first.step(slates)
        b, reward_b, _, _, info_b = second.step(slates)
        c, *_ = other.step(slates)
        assert reward_a == reward_b
        np.testing.assert_array_equal(info_a["rewards"], info_b["rewards"])
        np.testing.assert_array_equal(info_a["expected_reward"], info_b["expected_reward"])
        np.testing.assert_array_equal(info_a["oracle_slates"], info_b["oracle_slates"])
    assert differs


@pytest.mark.parametrize("env_id", PRESET_IDS)
def test_action_space_samples_are_valid_also_when_candidate_counts_vary(env_id):
    env = gym.make(env_id, n_requests=40, min_candidates=5, max_candidates=12)
    env.reset(seed=0)
    for _ in range(5):
        _, _, _, _, info = env.step(env.action_space.sample())
        assert info["rewards"].shape == (40, env.unwrapped.slate_size)


@pytest.mark.parametrize("env_id", PRESET_IDS)
def test_action_space_samples_are_always_accepted_and_uniform_over_the_valid_slates(env_id):
    """1,000 samples, each accepted by step; and 1,000 samples on one observation hit every
    ordered slate of each request's own candidates equally often (chi-square, fixed seed)."""
    env = gym.make(env_id, n_requests=20, slate_size=2, min_candidates=3, max_candidates=5)
    env.reset(seed=0)
    env.action_space.seed(0)
    obs, *_ = env.step(env.action_space.sample())  # the first batch offers 5 to every request
    counts = obs["n_candidates"]
    assert len(set(counts.tolist())) > 1
    draws = np.stack([env.action_space.sample() for _ in range(1000)])  # (1000, 20, 2)
    statistic, dof = 0.0, 0
    for row, count in enumerate(counts):
        slates = list(itertools.permutations(range(count), 2))
        index = {slate: j for j, slate in enumerate(slates)}
        seen = np.zeros(len(slates))
        for first, second in draws[:, row].tolist():
            seen[index[(first, second)]] += 1  # KeyError if a slate is not valid for the row
        expected = 1000 / len(slates)
        statistic += float(((seen - expected) ** 2 / expected).sum())
        dof += len(slates) - 1
    assert scipy.stats.chi2.sf(statistic, dof) > 0.001
    for _ in range(1000):
        env.step(env.action_space.sample())  # raises if a slate is not valid


@pytest.mark.parametrize("env_id", PRESET_IDS)
@pytest.mark.parametrize("choice_model", ["position", "cascade", "mnl"])
@pytest.mark.parametrize("reward", ["click", "watch_time"])
def test_realised_rewards_match_the_exact_expectation(env_id, choice_model, reward):
    """Over 60 steps of seeded uniform slates, the total reward lies within 4 standard errors
    (from the per-step totals) of the summed exact expected reward; cascade emits examined."""
    env = gym.make(env_id, choice_model=choice_model, reward=reward, n_requests=100)
    raw, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    differences = []
    for _ in range(60):
        obs = as_observation(raw)
        slates = sample_uniform_slates(obs.n_candidates, obs.slate_size, obs.max_candidates, rng)
        raw, reward_total, _, _, info = env.step(slates)
        differences.append(reward_total - info["expected_reward"].sum())
        examined = info["signals"].get("examined")
        assert (examined is not None) == (choice_model == "cascade")
    differences = np.asarray(differences)
    standard_error = differences.std(ddof=1) / np.sqrt(differences.size)
    assert abs(differences.mean()) < 4 * standard_error


@pytest.mark.parametrize("env_id", PRESET_IDS)
@pytest.mark.parametrize("choice_model", ["position", "cascade", "mnl"])
def test_oracle_slates_beat_every_slate_on_a_small_batch(env_id, choice_model):
    env = gym.make(
        env_id,
        choice_model=choice_model,
        n_requests=6,
        slate_size=2,
        min_candidates=4,
        max_candidates=5,
    )
    env.reset(seed=7)
    unwrapped = env.unwrapped
    best = unwrapped.expected_slate_reward(unwrapped.oracle_slates())
    for slate in itertools.permutations(range(4), 2):
        value = unwrapped.expected_slate_reward(np.tile(slate, (6, 1)))
        assert np.all(value <= best + 1e-12)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_made_env_pickles_and_the_copy_goes_on_as_the_original(env_id):
    """``gym.make``'s env (its spec holds the vector entry point) pickles mid-run; the copy
    takes the same action to the same observation and reward."""
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    copy = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    obs, reward, *_ = env.step(action)
    copy_obs, copy_reward, *_ = copy.step(action)
    assert reward == copy_reward
    for key, value in obs.items():
        np.testing.assert_array_equal(copy_obs[key], value)
    vector = pickle.loads(pickle.dumps(gym.make_vec(PRESET_IDS[0], num_envs=2)))
    assert vector.num_envs == 2
