"""Formulas of the simulator's mechanisms that a wrong term would break, checked one by one:
fatigue decays from its last update, only bored users churn, watch times have mean 1, and
true_value serves the current step."""

from __future__ import annotations

import copy

import numpy as np

from bandits.observation import as_observation
from simulator import StreamingServiceEnv, true_value
from simulator.fatigue import Fatigue
from simulator.reward import WatchTimeReward


def test_fatigue_decays_from_its_last_update():
    rng = np.random.default_rng(0)
    fatigue = Fatigue(exposure_fatigue=1.0, fatigue_decay=0.5, fatigue_weight=1.0)
    fatigue.reset(n_users=1, n_genres=1)
    for step in (0, 2):
        fatigue.observe(rng, np.array([0]), np.array([[0]]), np.array([[False]]), step)
    # 1 at step 0, decayed twice (0.25) by step 2, plus 1; decayed once more by step 3
    np.testing.assert_allclose(fatigue.levels(np.array([0]), 3), [[0.625]])


def test_only_the_users_who_become_bored_leave():
    rng = np.random.default_rng(1)
    fatigue = Fatigue(click_fatigue=1.0, fatigue_weight=1.0, boredom_threshold=5.0,
                      boredom_duration=1, churn_probability=1.0, mean_absence=1.0)  # fmt: skip
    fatigue.reset(n_users=2, n_genres=1)
    clicks = np.array([[True] * 5, [True] + [False] * 4])  # user 0 reaches 5, user 1 only 1
    fatigue.observe(rng, np.array([0, 1]), np.zeros((2, 5), dtype=np.int64), clicks, 0)
    np.testing.assert_array_equal(fatigue.absent(1), [True, False])


def test_items_mean_watch_time_is_one_on_average():
    reward = WatchTimeReward(spread=1.0)
    reward.reset(np.random.default_rng(2), 200_000)
    means = reward.mean_watch_time_
    standard_error = np.sqrt((np.e - 1) / means.size)  # log-normal variance at spread 1
    assert abs(means.mean() - 1.0) < 4 * standard_error


def test_true_value_serves_the_current_step_of_a_world_that_has_moved():
    env = StreamingServiceEnv(choice_model="position", n_requests=40)
    env.reset(seed=3)
    for _ in range(5):
        env.step(env.action_space.sample())
    policy = _Uniform()
    value = true_value(env, policy, n_requests=40, seed=4)
    world = copy.deepcopy(env.world)
    batch = world.next_batch(np.random.default_rng(4), env._current().time, evolve=False)
    obs = as_observation(world.observation(batch))
    rewards = world.choice_model.candidate_rewards(batch.logits, batch.values)
    expected = (policy.candidate_position_probability(obs) * rewards).sum(axis=(1, 2))
    np.testing.assert_allclose(value.per_request, expected, rtol=1e-12)


class _Uniform:
    """Uniform marginals (1 / n_candidates at every position), without a policy package."""

    def candidate_position_probability(self, obs):
        mask = obs.candidate_mask / obs.n_candidates[:, None]
        return np.repeat(mask[:, :, None], obs.slate_size, axis=2)

    def act(self, obs):  # pragma: no cover - the position model never samples slates
        raise AssertionError("true_value with the position model is exact")
