"""Formulas of the simulator's mechanisms that a wrong term would break, checked one by one:
fatigue decays from its last update, only bored users churn, watch times have mean 1, and
true_value serves the current step."""

from __future__ import annotations

import copy

import numpy as np

from bandits.observation import as_observation
from bandits.slates import sample_uniform_slates
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
    rng, time = np.random.default_rng(4), env._current().time
    batch = world.next_batch(rng, time, evolve=False, counts_at=1)  # the first frozen batch
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


def test_recently_shown_items_lose_the_documented_logit():
    """R_ui(t) = sum over the item's remembered showings of (repeat_exposure + repeat_click
    [clicked]) repeat_decay**(t - t_e), the last repeat_memory showings of each user kept,
    newest first (later rows, then lower positions, are newer)."""
    rng = np.random.default_rng(0)
    fatigue = Fatigue(repeat_exposure=0.5, repeat_click=1.0, repeat_decay=0.5, repeat_memory=3)
    fatigue.reset(n_users=2, n_genres=0)
    none = np.zeros((1, 2), dtype=np.int64)
    # Step 0: user 0 is shown items 4 then 7 and clicks 7.
    fatigue.observe(rng, np.array([0]), none, np.array([[False, True]]), 0, np.array([[4, 7]]))
    # Step 1: user 0 is shown 4 again, user 1 is shown 9; no clicks.
    fatigue.observe(
        rng, np.array([0, 1]), np.zeros((2, 1), dtype=np.int64), np.zeros((2, 1), dtype=bool),
        1, np.array([[4], [9]]),
    )  # fmt: skip
    np.testing.assert_array_equal(fatigue.recent_items_, [[4, 7, 4], [9, -1, -1]])
    candidates = np.array([[4, 7, 9], [4, 7, 9]])
    penalty = fatigue.penalty(np.array([0, 1]), np.zeros((2, 3), dtype=np.int64), 2, candidates)
    # user 0: item 4 = 0.5 * 0.5**2 + 0.5 * 0.5 = 0.375, item 7 = 1.5 * 0.5**2 = 0.375
    np.testing.assert_allclose(penalty, [[0.375, 0.375, 0.0], [0.0, 0.0, 0.25]])
    # Step 2: user 0 asks twice (rows 0 and 1) and is shown 1, then 2: the buffer keeps the
    # three newest showings, so item 7 and the first showing of 4 are forgotten.
    fatigue.observe(
        rng, np.array([0, 0]), np.zeros((2, 1), dtype=np.int64), np.zeros((2, 1), dtype=bool),
        2, np.array([[1], [2]]),
    )  # fmt: skip
    np.testing.assert_array_equal(fatigue.recent_items_[0], [2, 1, 4])
    late = fatigue.repeat_penalty(np.array([0]), np.array([[4, 7, 1]]), 3)
    np.testing.assert_allclose(late, [[0.5 * 0.5**2, 0.0, 0.5 * 0.5]])


def test_exact_truth_includes_the_repeat_penalty_and_matches_the_clicks(stat_seed):
    """A small world where users are shown the same titles again and again (20 users, 40
    titles): the realised clicks match the exact expected clicks within 4 standard errors,
    and the expectation without the repeat penalty is further off than that tolerance (so a
    truth that left the penalty out would fail)."""
    env = StreamingServiceEnv(
        n_users=20, initial_users=20, users_per_step=0, n_items=40, initial_items=40,
        items_per_step=0, n_requests=40, min_candidates=12, max_candidates=12, reward="click",
        exposure_fatigue=0.0, click_fatigue=0.0, boredom_threshold=0.0, churn_probability=0.0,
        repeat_exposure=0.5, repeat_click=2.0, repeat_decay=0.9, repeat_memory=30,
    )  # fmt: skip
    raw, _ = env.reset(seed=stat_seed)
    world = env.world
    rng = np.random.default_rng(stat_seed)
    residuals, biases, penalised = [], [], []
    for _ in range(80):
        batch = env._current()
        obs = as_observation(raw)
        slates = sample_uniform_slates(obs.n_candidates, obs.slate_size, obs.max_candidates, rng)
        repeat = world.fatigue.repeat_penalty(batch.users, batch.items, batch.time)
        penalised.append((repeat > 0).mean())
        without = np.take_along_axis(batch.logits + repeat, slates, axis=1)
        values = np.take_along_axis(batch.values, slates, axis=1)
        naive = world.choice_model.expected_rewards(without, values).sum()
        raw, reward, _, _, info = env.step(slates)
        residuals.append(reward - info["expected_reward"].sum())
        biases.append(naive - info["expected_reward"].sum())
    residuals = np.asarray(residuals)
    assert np.mean(penalised[10:]) > 0.2
    error = residuals.std(ddof=1) / np.sqrt(residuals.size)
    assert abs(residuals.mean()) < 4 * error
    assert np.mean(biases) > 8 * error


def test_filtered_repeat_penalty_equals_comparing_every_candidate_with_every_entry():
    """The filter changes which comparisons run, not the sums (bit for bit): items equal
    modulo REPEAT_SLOTS (filter collisions), items remembered several times, empty slots."""
    rng = np.random.default_rng(9)
    fatigue = Fatigue(repeat_exposure=0.3, repeat_click=1.1, repeat_decay=0.7, repeat_memory=6)
    fatigue.reset(50, 0)
    fatigue.recent_items_ = rng.integers(0, 40, (50, 6)) * 64 + rng.integers(0, 3, (50, 6))
    # Items 64 k + r and 64 (k + 16) + r share one of the REPEAT_SLOTS = 1024 flags.
    fatigue.recent_items_[rng.random((50, 6)) < 0.2] = -1
    fatigue.recent_times_ = rng.integers(0, 9, (50, 6))
    fatigue.recent_weights_ = rng.uniform(0.3, 1.4, (50, 6))
    users = rng.integers(0, 50, 200)
    items = np.stack([rng.permutation(40 * 64)[:30] for _ in range(200)])
    items[:, :5] = fatigue.recent_items_[users, :5].clip(0)  # many matches
    recent = fatigue.recent_items_[users]
    found = np.flatnonzero(items[:, None, :] == recent[:, :, None])  # (request, slot, candidate)
    rows, rest = np.divmod(found, 6 * 30)
    slots, columns = np.divmod(rest, 30)
    age = (9 - fatigue.recent_times_[users[rows], slots]).astype(np.float64)
    weight = fatigue.recent_weights_[users[rows], slots] * 0.7**age
    expected = np.bincount(rows * 30 + columns, weights=weight, minlength=200 * 30)
    assert (expected > 0).sum() > 500
    np.testing.assert_array_equal(
        fatigue.repeat_penalty(users, items, 9), expected.reshape(200, 30)
    )
