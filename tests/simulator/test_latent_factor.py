"""LatentFactorEnv: gymnasium contract, determinism, common random numbers, exact ground truth."""

import importlib
import itertools
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy.special import expit

import simulator
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputTypeError, InputValueError
from simulator import LatentFactorEnv
from simulator.latent_factor import BASE_LOGIT

TINY = {
    "n_users": 5,
    "n_items": 6,
    "n_latent": 3,
    "n_requests": 4,
    "slate_size": 2,
    "min_candidates": 4,
    "max_candidates": 4,
    "examination": [0.9, 0.4],
}


def reset(seed=0, **kwargs):
    env = LatentFactorEnv(**kwargs)
    obs, _ = env.reset(seed=seed, options={"candidate_rewards": True})
    return env, obs


def attractions(env, obs):
    """Every candidate's attraction, recomputed from the world: (n_requests, max_candidates)."""
    ids = obs["candidate_ids"]
    tastes = env.user_tastes_[obs["user_ids"]]
    taste = np.einsum("nd,ncd->nc", tastes, env.item_factors_[ids])
    logits = env.logit_scale * taste + env.item_biases_[ids] + BASE_LOGIT
    return np.where(ids != PAD_ID, expit(logits), 0.0)


def hand_expected(env, obs, slates):
    rows = np.arange(slates.shape[0])[:, None]
    return (attractions(env, obs)[rows, slates] * env.examination).sum(axis=1)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same(a[key], b[key])
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("kwargs", [{}, {"slate_size": 1}, {"history_length": 0, "n_requests": 1}])
def test_passes_check_env(kwargs):
    env = gymnasium.make("bandits/LatentFactor-v0", **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    # The only complaint allowed: float features are unbounded Boxes.
    assert all("infinity" in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_make_passes_keyword_arguments_and_runs_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gymnasium.make("bandits/LatentFactor-v0", n_requests=8, slate_size=2)
        obs, info = env.reset(seed=3)
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        importlib.reload(simulator)
    assert isinstance(env.unwrapped, LatentFactorEnv)
    assert env.unwrapped.n_requests == 8
    assert obs["candidate_ids"].shape == (8, 20)
    assert isinstance(reward, float)
    assert (terminated, truncated) == (False, False)
    assert info["rewards"].shape == (8, 2)


def test_observation_is_a_valid_slate_observation_in_the_space():
    env, obs = reset(n_requests=6)
    assert obs in env.observation_space
    batch = SlateObservation.from_mapping(obs)
    assert batch.n_requests == 6
    assert batch.n_context_features == batch.n_item_features == env.n_latent
    np.testing.assert_array_equal(obs["context"], env.user_features_[obs["user_ids"]])
    np.testing.assert_array_equal(
        obs["candidate_features"], env.item_factors_[obs["candidate_ids"]]
    )


def test_request_ids_and_times_count_up():
    env, obs = reset(n_requests=3)
    for step in range(3):
        np.testing.assert_array_equal(obs["request_ids"], 3 * step + np.arange(3))
        np.testing.assert_array_equal(obs["times"], [step] * 3)
        obs, *_ = env.step(env.oracle_slates())


def run(seed, n_steps=4, **kwargs):
    """Observations, rewards and infos of a seeded run with seeded random actions."""
    env, obs = reset(seed, **kwargs)
    env.action_space.seed(seed)
    trace = [obs]
    for _ in range(n_steps):
        obs, reward, _, _, info = env.step(env.action_space.sample())
        trace += [obs, reward, info]
    return trace


def test_same_seed_same_run():
    for a, b in zip(run(5), run(5), strict=True):
        if isinstance(a, dict):
            assert_same(a, b)
        else:
            assert a == b


def test_different_seeds_differ():
    first, second = run(5, n_steps=0)[0], run(6, n_steps=0)[0]
    assert not np.array_equal(first["context"], second["context"])
    assert not np.array_equal(first["candidate_ids"], second["candidate_ids"])


def test_common_random_numbers_across_actions():
    oracle_env, oracle_obs = reset(11, min_candidates=5, max_candidates=20)
    random_env, random_obs = reset(11, min_candidates=5, max_candidates=20)
    random_env.action_space.seed(0)
    for _ in range(5):
        for key in oracle_obs.keys() - {"history"}:
            np.testing.assert_array_equal(oracle_obs[key], random_obs[key], err_msg=key)
        mask = random_obs["candidate_ids"] != PAD_ID
        oracle_obs, *_ = oracle_env.step(oracle_env.oracle_slates())
        random_obs, *_ = random_env.step(random_env.action_space.sample(mask=mask))
    assert not np.array_equal(oracle_env.histories_, random_env.histories_)


def test_expected_slate_reward_matches_the_hand_formula():
    env, obs = reset(**TINY)
    for slate in itertools.permutations(range(4), 2):
        slates = np.array([slate] * 4)
        np.testing.assert_allclose(
            env.expected_slate_reward(slates), hand_expected(env, obs, slates), rtol=1e-12
        )


def test_info_ground_truth_is_exact():
    env, obs = reset(**TINY)
    slates = np.array([[0, 1], [3, 2], [1, 3], [2, 0]])
    before = env.expected_slate_reward(slates)
    all_slates = [np.array([s] * 4) for s in itertools.permutations(range(4), 2)]
    brute_force = np.max([hand_expected(env, obs, s) for s in all_slates], axis=0)
    _, _, _, _, info = env.step(slates)
    np.testing.assert_array_equal(info["expected_reward"], before)
    np.testing.assert_allclose(info["oracle_reward"], brute_force, rtol=1e-12)
    np.testing.assert_allclose(
        hand_expected(env, obs, info["oracle_slates"]), brute_force, rtol=1e-12
    )
    assert "regret" not in info  # one definition: oracle_reward - expected_reward, in rollout
    np.testing.assert_allclose(
        info["candidate_rewards"], attractions(env, obs)[:, :, None] * [0.9, 0.4], rtol=1e-12
    )
    np.testing.assert_array_equal(info["signals"]["click"], info["rewards"])
    assert set(np.unique(info["rewards"])) <= {0.0, 1.0}


def test_oracle_beats_random_slates_and_regret_is_nonnegative():
    env, obs = reset(n_requests=64, min_candidates=3, max_candidates=30)
    mask = obs["candidate_ids"] != PAD_ID
    oracle = env.expected_slate_reward(env.oracle_slates())
    for _ in range(20):
        slates = env.action_space.sample(mask=mask)
        assert np.all(env.expected_slate_reward(slates) <= oracle)
    _, _, _, _, info = env.step(slates)
    assert np.all(info["oracle_reward"] >= info["expected_reward"])


def test_click_rate_matches_the_expected_reward():
    env, _ = reset(seed=2, n_requests=250, slate_size=3)
    slates = np.tile([0, 1, 2], (250, 1))
    clicks = mean = variance = 0.0
    for _ in range(40):
        _, reward, _, _, info = env.step(slates)
        probability = info["candidate_rewards"][:, [0, 1, 2], [0, 1, 2]]
        clicks += reward
        mean += info["expected_reward"].sum()
        variance += (probability * (1 - probability)).sum()
    assert abs(clicks - mean) < 4 * np.sqrt(variance)


def test_histories_record_clicks_most_recent_first():
    env, obs = reset(seed=4, n_users=1, n_requests=1, history_length=3, logit_scale=0.0)
    expected = []
    for _ in range(30):
        slate = np.array([[0, 1, 2]])
        shown = obs["candidate_ids"][0, :3]
        obs, _, _, _, info = env.step(slate)
        expected = (list(shown[info["rewards"][0] > 0][::-1]) + expected)[:3]
        padded = expected + [PAD_ID] * (3 - len(expected))
        np.testing.assert_array_equal(env.histories_[0], padded)
        np.testing.assert_array_equal(obs["history"][0], padded)
    assert len(expected) == 3


def test_variable_candidate_counts_are_padded():
    env, obs = reset(n_requests=50, slate_size=2, min_candidates=3, max_candidates=9)
    counts = []
    for _ in range(5):
        assert obs in env.observation_space
        n = obs["n_candidates"]
        real = np.arange(9) < n[:, None]
        counts.extend(n.tolist())
        assert np.all((n >= 3) & (n <= 9))
        assert np.all(obs["candidate_ids"][~real] == PAD_ID)
        assert np.all(obs["candidate_features"][~real] == 0.0)
        ids = obs["candidate_ids"]
        assert all(len(set(row[:k])) == k for row, k in zip(ids.tolist(), n, strict=True))
        assert np.all((ids[real] >= 0) & (ids[real] < env.n_items))
        obs, _, _, _, info = env.step(env.action_space.sample(mask=real))
        assert np.all(info["candidate_rewards"][~real] == 0.0)
    assert {3, 9} <= set(counts)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"n_users": 0},
            InputValueError,
            "'n_users' parameter of LatentFactorEnv must be >= 1; got 0",
        ),
        ({"n_items": -3}, InputValueError, "'n_items' .* got -3"),
        ({"n_latent": 0}, InputValueError, "'n_latent' .* got 0"),
        ({"n_requests": 2.5}, InputTypeError, "'n_requests' .* integer; got 2.5"),
        ({"slate_size": 0}, InputValueError, "'slate_size' .* got 0"),
        ({"min_candidates": 2}, InputValueError, "'slate_size' .* <= min_candidates=2 .*=3"),
        ({"max_candidates": 10}, InputValueError, "'max_candidates' .* >= 20; got 10"),
        ({"max_candidates": 300}, InputValueError, "'max_candidates' .* <= 200; got 300"),
        ({"history_length": -1}, InputValueError, "'history_length' .* got -1"),
        ({"feature_noise": -0.1}, InputValueError, "'feature_noise' .* >= 0; got -0.1"),
        ({"feature_noise": "high"}, InputTypeError, "'feature_noise' .* got 'high'"),
        ({"logit_scale": float("nan")}, InputValueError, "'logit_scale' .* finite; got nan"),
        ({"item_bias_scale": -1}, InputValueError, "'item_bias_scale' .* got -1"),
        ({"examination": [1.0, 0.5]}, InputValueError, r"'examination' .* shape \(3\); got \(2,\)"),
        ({"examination": [1.0, 0.0, 0.0]}, InputValueError, "'examination' .* row 1 is 0.0"),
        ({"examination": [1.2, 1.0, 1.0]}, InputValueError, "'examination' .* row 0 is 1.2"),
        ({"examination": [0.5, 0.8, 0.2]}, InputValueError, "'examination' .* position 1 is 0.8"),
        ({"n_request": 8}, TypeError, "n_request"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        LatentFactorEnv(**kwargs)


@pytest.mark.parametrize(
    ("action", "error", "match"),
    [
        ([[0, 1], [2, 2], [0, 1], [0, 1]], InputValueError, r"row 1 .* candidate 2 more than once"),
        ([[0, 1], [0, 1], [0, 4], [0, 1]], InputValueError, "row 2, position 1 is 4"),
        ([[-1, 1], [0, 1], [0, 1], [0, 1]], InputValueError, "row 0, position 0 is -1"),
        ([[0, 1, 2]] * 4, InputValueError, r"shape \(4, 2\); got \(4, 3\)"),
        ([0, 1], InputValueError, r"2 axes; got shape \(2,\)"),
        ([[0, 1], [0, 1.5], [0, 1], [0, 1]], InputTypeError, "row 1, position 1 is 1.5"),
    ],
)
def test_step_rejects_bad_actions_without_drawing(action, error, match):
    env, _ = reset(**TINY)
    with pytest.raises(error, match=match):
        env.step(action)
    with pytest.raises(error, match=match):
        env.expected_slate_reward(action)
    fresh, _ = reset(**TINY)
    slates = np.tile([0, 1], (4, 1))
    assert_same(env.step(slates)[0], fresh.step(slates)[0])


def test_step_before_reset_raises():
    with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
        LatentFactorEnv().step(np.tile([0, 1, 2], (32, 1)))


def test_candidate_rewards_are_built_only_when_asked_for():
    plain = LatentFactorEnv(n_requests=8)
    plain.reset(seed=1)
    slates = np.tile([0, 1, 2], (8, 1))
    before = plain.candidate_rewards()
    _, _, _, _, info = plain.step(slates)
    assert "candidate_rewards" not in info
    asked, _ = reset(seed=1, n_requests=8)
    _, _, _, _, info = asked.step(slates)
    np.testing.assert_array_equal(info["candidate_rewards"], before)
    shown = before[np.arange(8)[:, None], slates, np.arange(3)]
    np.testing.assert_allclose(shown, info["expected_rewards"], rtol=1e-12)
    with pytest.raises(InputValueError, match="may only hold 'candidate_rewards'; got"):
        plain.reset(options={"candidate_reward": True})
    cascade = LatentFactorEnv(choice_model="cascade")
    cascade.reset(seed=0, options={"candidate_rewards": True})
    assert cascade.candidate_rewards() is None
    assert "candidate_rewards" not in cascade.step(np.tile([0, 1, 2], (32, 1)))[4]
