"""World parts: users' histories (vectorised, against a row-by-row reference), arrivals and
drift, the catalogue's arrival schedule, context signals, rewards."""

import numpy as np
import pytest

from bandits.observation import PAD_ID
from bandits.validation import InputValueError
from simulator.catalogue import Catalogue
from simulator.context import Context
from simulator.reward import WatchTimeReward, make_reward
from simulator.users import Users


def reference_record(histories, users, clicked):
    """Row by row, positions top to bottom: the last click is the most recent."""
    histories = histories.copy()
    for user, row in zip(users, clicked, strict=True):
        items = [item for item in row if item != PAD_ID]
        merged = items[::-1] + list(histories[user])
        histories[user] = merged[: histories.shape[1]]
    return histories


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_record_matches_the_row_by_row_reference(depth):
    rng = np.random.default_rng(0)
    users = Users(n_users=5, n_latent=2, history_length=depth, feature_noise=0.0)
    users.reset(rng, 1)
    for _ in range(20):
        rows = rng.integers(0, 5, 12)  # users repeat within a batch
        clicked = np.where(rng.random((12, 3)) < 0.4, rng.integers(0, 50, (12, 3)), PAD_ID)
        expected = reference_record(users.histories_, rows, clicked)
        users.record(rows, clicked)
        np.testing.assert_array_equal(users.histories_, expected)


def test_new_users_join_on_schedule_with_empty_histories():
    users = Users(
        n_users=10,
        n_latent=2,
        history_length=2,
        feature_noise=0.0,
        initial_users=4,
        users_per_step=3,
    )
    users.reset(np.random.default_rng(0), 2)
    assert [users.n_joined(t) for t in range(4)] == [4, 7, 10, 10]
    arrived = users.arrive(np.random.default_rng(1), np.array([0] * 500 + [1] * 500), 1)
    assert set(arrived[:500]) == set(range(7)) and set(arrived[500:]) == set(range(10, 17))
    assert np.all(users.histories_ == PAD_ID)


def test_drift_moves_tastes_only_when_due_and_keeps_their_scale():
    users = Users(
        n_users=20_000,
        n_latent=4,
        history_length=0,
        feature_noise=0.0,
        drift=0.6,
        drift_every=3,
    )
    users.reset(np.random.default_rng(0), 1)
    before = users.tastes_.copy()
    users.evolve(np.random.default_rng(1), 2)
    np.testing.assert_array_equal(users.tastes_, before)
    users.evolve(np.random.default_rng(1), 3)
    correlation = np.corrcoef(before.ravel(), users.tastes_.ravel())[0, 1]
    assert abs(correlation - 0.8) < 0.01  # sqrt(1 - 0.6**2)
    assert abs(users.tastes_.std() / before.std() - 1) < 0.01


def test_catalogue_schedule_matches_the_item_windows():
    catalogue = Catalogue(
        n_items=12,
        n_latent=2,
        bias_scale=0.1,
        initial_items=4,
        items_per_step=2,
        item_lifetime=3,
    )
    catalogue.reset(np.random.default_rng(0), 1)
    table = catalogue.item_table()
    for time in range(8):
        live = np.flatnonzero((table.valid_from <= time) & (time < table.valid_until))
        assert catalogue.n_live(time) == live.size
        ranks = np.arange(live.size)
        np.testing.assert_array_equal(catalogue.live_items(ranks, time), live)


def test_context_signals_and_their_taste_shift():
    context = Context(n_latent=3, devices=True, steps_per_day=4, steps_per_year=8)
    context.reset(np.random.default_rng(0), 2)
    assert context.signal_names() == [
        "device_phone",
        "device_tv",
        "device_desktop",
        "day_sin",
        "day_cos",
        "year_sin",
        "year_cos",
    ]
    signals = context.draw(np.random.default_rng(1), np.zeros(5000, dtype=np.int64), time=1)
    assert np.all(signals[:, :3].sum(axis=1) == 1)
    np.testing.assert_allclose(signals[0, 3:], [1.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)
    phone = signals[:, 0].mean()
    assert abs(phone - 0.6) < 4 * np.sqrt(0.6 * 0.4 / 5000)
    worlds = np.repeat([0, 1], 2500)
    shift = context.taste_shift(signals, worlds)
    np.testing.assert_allclose(shift[-1], signals[-1] @ context.shifts_[1])
    assert Context(n_latent=3).taste_shift(np.zeros((2, 0)), np.zeros(2, int)) is None


def test_watch_time_reward_has_the_mean_it_reports():
    reward = WatchTimeReward(spread=0.5)
    reward.reset(np.random.default_rng(0), 3)
    items = np.tile([0, 1, 2], (50_000, 1))
    rewards, signals = reward.realise(np.ones(items.shape, bool), items, np.random.default_rng(1))
    mean = reward.values(np.arange(3))
    # Gamma(2, 1/2) noise: variance 1/2 of the squared mean.
    standard_error = mean * np.sqrt(0.5 / 50_000)
    assert np.all(np.abs(rewards.mean(axis=0) - mean) < 4 * standard_error)
    np.testing.assert_array_equal(signals["click"], 1.0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: make_reward("likes", watch_time_spread=0.5, owner="E"), "'reward' of E 'likes'"),
        (lambda: make_reward("click", watch_time_spread=2.0, owner="E"), "'watch_time_spread'"),
        (lambda: Catalogue(n_items=5, n_latent=1, bias_scale=0, initial_items=6), "<= 5; got 6"),
        (
            lambda: Catalogue(n_items=5, n_latent=1, bias_scale=0, initial_items=3),
            "'items_per_step' .* >= 1; got 0",
        ),
        (
            lambda: Users(n_users=3, n_latent=1, history_length=1, feature_noise=0, drift=1.5),
            "'drift' .* <= 1; got 1.5",
        ),
        (
            lambda: Users(n_users=3, n_latent=1, history_length=1, feature_noise=0, drift=0.5),
            "'drift_every' .* >= 1; got 0",
        ),
        (
            lambda: Context(n_latent=2, devices=True, device_probabilities=(0.5, 0.2, 0.2)),
            "'device_probabilities' .* summing to 1",
        ),
        (lambda: Context(n_latent=2, steps_per_day=-1), "'steps_per_day' .* >= 0; got -1"),
    ],
)
def test_bad_part_settings_are_named(make, match):
    with pytest.raises(InputValueError, match=match):
        make()


def _layout_rollout(env_id, params, steps=4):
    """Observations and infos of a short seeded rollout under uniform slates."""
    import gymnasium as gym

    import simulator  # noqa: F401  (registers the environments)
    from bandits.slates import sample_uniform_slates

    env = gym.make(env_id, **params)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(4)
    seen = [obs]
    width = obs["candidate_ids"].shape[1]
    for _ in range(steps):
        slates = sample_uniform_slates(obs["n_candidates"], env.unwrapped.slate_size, width, rng)
        obs, _, _, _, info = env.step(slates)
        seen += [obs, info]
    return env, seen


def _assert_same_rollouts(runs):
    for one, other in ((runs[0][i], run[i]) for run in runs[1:] for i in range(len(run))):
        for key, value in one.items():
            if isinstance(value, dict):
                for name in value:
                    np.testing.assert_array_equal(value[name], other[key][name])
            else:
                np.testing.assert_array_equal(value, other[key])


@pytest.mark.parametrize("env_id", ["bandits/LatentFactor-v0", "bandits/StreamingService-v0"])
def test_item_layout_does_not_change_the_rollout(env_id, monkeypatch):
    """Features and per-item numbers in one table (narrow rows) or two, gathered whole or in
    blocks of requests (7 of 20: a short last block), give the same world bit for bit."""
    from simulator import world

    params = {"n_requests": 20, "min_candidates": 8, "max_candidates": 12, "n_latent": 3}
    if env_id.endswith("StreamingService-v0"):
        params |= {"n_genres": 0, "exposure_fatigue": 0.0, "click_fatigue": 0.0}
        params |= {"boredom_threshold": 0.0, "churn_probability": 0.0, "trend_amplitude": 0.0}
    runs = []
    for numbers, block in ((0, 1000), (1000, 1000), (0, 7), (1000, 7)):
        monkeypatch.setattr(world, "LINE_NUMBERS", numbers)  # never and always one table
        monkeypatch.setattr(world, "GATHER_ROWS", block)
        env, seen = _layout_rollout(env_id, params)
        assert env.unwrapped.world._merged == (numbers > 0)
        runs.append(seen)
    _assert_same_rollouts(runs)


@pytest.mark.parametrize(
    ("params", "plain", "packed"),
    [
        ({}, 5, True),  # static term, value, genre and release (one column), length
        ({"novelty_weight": 0.0}, 4, False),  # no release column, 4 already
        (
            {
                "novelty_weight": 0.0,
                "length_median": 0.0,
                "phone_short_preference": 0.0,
                "morning_short_preference": 0.0,
            },
            3,
            False,  # static term, value, genre and a column of padding
        ),
    ],
)
def test_packed_and_padded_item_rows_do_not_change_the_rollout(params, plain, packed, monkeypatch):
    """The narrow item table packed (genre and release step in one number) or padded to a
    width np.take copies as words gives the same world bit for bit as the plain columns."""
    from simulator import world

    params = {"n_requests": 30, "min_candidates": 8, "max_candidates": 12} | params
    env, default = _layout_rollout("bandits/StreamingService-v0", params, steps=6)
    assert env.unwrapped.world.rows_.shape[1] == 4
    assert (env.unwrapped.world._genre_bits > 0) == packed
    monkeypatch.setattr(world, "WORD_NUMBERS", ())  # the plain columns
    env, columns = _layout_rollout("bandits/StreamingService-v0", params, steps=6)
    assert env.unwrapped.world.rows_.shape[1] == plain
    _assert_same_rollouts([default, columns])


def test_a_deep_copy_of_the_world_takes_its_popularity_shocks():
    """Shocks write the gathered item rows themselves, so a copied world (true_value copies
    one) draws the same batches as the original through the shocks."""
    import copy

    import gymnasium as gym

    import simulator  # noqa: F401  (registers the environments)

    env = gym.make("bandits/OnlineShop-v0", n_requests=8, shock_every=2, shock_duration=3)
    env.reset(seed=5)
    world = env.unwrapped.world
    twin = copy.deepcopy(world)
    rng, twin_rng = np.random.default_rng(1), np.random.default_rng(1)
    for time in range(1, 7):
        batch, twin_batch = world.next_batch(rng, time), twin.next_batch(twin_rng, time)
        np.testing.assert_array_equal(batch.logits, twin_batch.logits)
    assert (world.trends.boosts_ != 0).any()  # shocks happened
