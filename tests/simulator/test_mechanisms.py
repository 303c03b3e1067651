"""The world's mechanisms: genre hierarchy, genre-mixture users, fatigue/boredom/churn, click
drift, location and weekday, trends and shocks, the weighted reward, the logit composition."""

import numpy as np
import pytest
from scipy.special import expit

from bandits.validation import InputTypeError, InputValueError
from simulator import LatentFactorEnv, OnlineShopEnv, StreamingServiceEnv
from simulator.catalogue import Catalogue, latent_scale
from simulator.context import Context
from simulator.fatigue import Fatigue
from simulator.reward import WeightedReward, make_reward
from simulator.trends import Trends
from simulator.users import Users
from simulator.world import BASE_LOGIT


def test_genre_hierarchy_makes_micro_genres_closer_than_genres(stat_seed):
    catalogue = Catalogue(
        n_items=3000, n_latent=8, bias_scale=0.0, n_genres=5, micro_genres=3, price_median=10.0
    )
    catalogue.reset(np.random.default_rng(stat_seed), 1)
    phi, genre, micro = catalogue.factors_, catalogue.genres_, catalogue.micro_genres_
    np.testing.assert_array_equal(genre, micro // 3)
    rng = np.random.default_rng(stat_seed + 100)
    a, b = rng.integers(0, 3000, (2, 20000))
    distance = ((phi[a] - phi[b]) ** 2).sum(axis=1)
    same_micro = distance[micro[a] == micro[b]]
    same_genre = distance[(genre[a] == genre[b]) & (micro[a] != micro[b])]
    other = distance[genre[a] != genre[b]]
    # Expected squared distances: 2 d s^2 times the unshared variance share: 0.25, 0.5, 1.
    s2 = latent_scale(8) ** 2
    for group, share in ((same_micro, 0.25), (same_genre, 0.5), (other, 1.0)):
        assert group.mean() < 2 * 8 * s2 * share * 1.6
    assert same_micro.mean() < same_genre.mean() < other.mean()
    assert abs(phi.var() / s2 - 1) < 0.25  # the marginal scale is kept (up to the centres drawn)
    features = catalogue.features(slice(None))
    np.testing.assert_array_equal(features[:, 8:13].argmax(axis=1), genre)
    np.testing.assert_allclose(features[:, 13], np.log(catalogue.prices_ / 10.0))
    assert abs(np.median(catalogue.prices_) / 10.0 - 1) < 0.1


def test_users_mix_genres_and_show_segment_and_affinities():
    users = Users(
        n_users=400,
        n_latent=4,
        history_length=0,
        feature_noise=0.0,
        n_genres=3,
        n_segments=2,
        affinity_noise=0.0,
        individual_share=0.0,
    )
    rng = np.random.default_rng(0)
    users.reset(rng, 1)
    centres = rng.standard_normal((1, 3, 4))
    users.mix_genres(rng, centres)
    np.testing.assert_allclose(users.genre_weights_.sum(axis=1), 1.0)
    np.testing.assert_allclose(users.tastes_, users.genre_weights_ @ centres[0])
    features = users.features(np.arange(400))
    assert features.shape == (400, users.n_features) == (400, 4 + 2 + 3)
    np.testing.assert_array_equal(features[:, 4:6].argmax(axis=1), users.segments_)
    np.testing.assert_allclose(features[:, 6:], users.genre_weights_)


def test_click_drift_matches_clicks_applied_one_by_one():
    users = Users(n_users=3, n_latent=2, history_length=2, feature_noise=0.0, click_drift=0.3)
    users.reset(np.random.default_rng(0), 1)
    before = users.tastes_.copy()
    rows = np.array([0, 2, 0])
    clicked = np.array([[5, -1], [7, 8], [-1, 9]])
    factors = np.arange(12, dtype=float).reshape(3, 2, 2)
    users.record(rows, clicked, factors)
    expected = before.copy()
    for row, user in enumerate(rows):
        for position in range(2):
            if clicked[row, position] != -1:
                expected[user] = 0.7 * expected[user] + 0.3 * factors[row, position]
    np.testing.assert_allclose(users.tastes_, expected)
    np.testing.assert_array_equal(users.histories_, [[9, 5], [-1, -1], [8, 7]])


def test_fatigue_boredom_and_churn_follow_their_formulas():
    fatigue = Fatigue(
        exposure_fatigue=0.5,
        click_fatigue=1.0,
        fatigue_decay=0.5,
        fatigue_weight=2.0,
        boredom_threshold=2.0,
        boredom_duration=3,
        boredom_penalty=10.0,
        churn_probability=1.0,
        mean_absence=1.0,
    )
    fatigue.reset(n_users=2, n_genres=2)
    rng = np.random.default_rng(0)
    # Step 0: user 0 sees genres (0, 1), clicks genre 0: f = (1.5, 0.5).
    fatigue.observe(rng, np.array([0]), np.array([[0, 1]]), np.array([[True, False]]), 0)
    np.testing.assert_allclose(fatigue.levels(np.array([0]), 0), [[1.5, 0.5]])
    np.testing.assert_allclose(fatigue.levels(np.array([0]), 2), [[0.375, 0.125]])
    penalty = fatigue.penalty(np.array([0, 1]), np.array([[0, 1], [0, 1]]), 1)
    np.testing.assert_allclose(penalty, [[1.5, 0.5], [0.0, 0.0]])
    # Step 1: user 0 clicks genre 0 again: 0.75 + 1.5 >= 2: bored with genre 0 for steps 2-4.
    fatigue.observe(rng, np.array([0]), np.array([[0, 0]]), np.array([[True, False]]), 1)
    assert fatigue.bored_until_[0, 0] == 5 and fatigue.levels_[0, 0] == 0.0
    assert fatigue.penalty(np.array([0]), np.array([[0]]), 4)[0, 0] == pytest.approx(10.0)
    assert fatigue.penalty(np.array([0]), np.array([[0]]), 5)[0, 0] == pytest.approx(0.0)
    # Churn certain, absence Geometric(1) = 1 step: away at step 2 only.
    np.testing.assert_array_equal(fatigue.absent(2), [True, False])
    np.testing.assert_array_equal(fatigue.absent(3), [False, False])


def test_absent_users_make_no_request_and_return_with_their_state():
    users = Users(n_users=4, n_latent=1, history_length=1, feature_noise=0.0)
    users.reset(np.random.default_rng(0), 2)
    absent = np.array([True, True, False, True, False, False, False, False])
    arrived = users.arrive(np.random.default_rng(1), np.repeat([0, 1], 500), 0, absent)
    assert set(arrived[:500]) == {2} and set(arrived[500:]) == {4, 5, 6, 7}
    everyone_away = np.ones(8, dtype=bool)
    arrived = users.arrive(np.random.default_rng(1), np.zeros(200, dtype=int), 0, everyone_away)
    assert set(arrived) == {0, 1, 2, 3}


def test_churned_users_of_the_streaming_preset_stop_then_resume():
    env = StreamingServiceEnv(
        n_requests=200, boredom_threshold=1.0, churn_probability=1.0, mean_absence=3.0
    )
    env.reset(seed=0)
    fatigue = env.world.fatigue
    seen_away = False
    for _ in range(8):
        away = np.flatnonzero(fatigue.absent(env._time))
        obs, *_ = env.step(env.action_space.sample())
        requested = obs["user_ids"] + 0  # one world: rows are user ids
        assert not np.isin(requested, np.flatnonzero(fatigue.absent(env._time))).any()
        seen_away |= away.size > 0
    assert seen_away
    returned = (fatigue.away_until_ > 0) & (fatigue.away_until_ <= env._time)
    assert returned.any()


def test_weekday_and_location_signals():
    context = Context(
        n_latent=2, steps_per_day=4, day_of_week=True, n_locations=3, travel_probability=0.2
    )
    rng = np.random.default_rng(0)
    context.reset(rng, 1, n_users=2)
    users = np.zeros(20000, dtype=int)
    signals = context.draw(rng, users, time=9)  # day 2
    names = context.signal_names()
    weekday = signals[:, names.index("weekday_0") : names.index("weekday_0") + 7]
    np.testing.assert_array_equal(weekday.argmax(axis=1), 2)
    location = signals[:, -3:].argmax(axis=1)
    home = context.homes_[0]
    share = (location == home).mean()
    expected = 0.8 + 0.2 / 3
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / users.size)


def test_seasonal_trends_and_popularity_shocks_follow_the_schedule():
    catalogue = Catalogue(n_items=10, n_latent=1, bias_scale=0.0, n_genres=2)
    catalogue.reset(np.random.default_rng(0), 1)
    trends = Trends(
        trend_amplitude=0.5,
        trend_period=8,
        shock_every=3,
        shock_items=2,
        shock_size=2.0,
        shock_decay=0.5,
        shock_duration=2,
    )
    rng = np.random.default_rng(1)
    trends.reset(rng, 1, catalogue)
    np.testing.assert_allclose(
        trends.genre_terms(2), 0.5 * np.cos(2 * np.pi * 2 / 8 - trends.phases_)
    )
    for t in (1, 2):
        assert trends.evolve(rng, t, catalogue, 1).size == 0
    changed = trends.evolve(rng, 3, catalogue, 1)
    assert trends.boosts_.sum() == pytest.approx(4.0) and changed.size in (1, 2)
    trends.evolve(rng, 4, catalogue, 1)
    assert trends.boosts_.sum() == pytest.approx(2.0)  # two shocks at 2 * 0.5
    trends.evolve(rng, 5, catalogue, 1)
    assert trends.boosts_.sum() == 0.0  # over after shock_duration = 2 steps


def test_weighted_reward_expectation_is_exact(stat_seed):
    reward = WeightedReward(
        weights={"click": 0.5, "watch_time": 1.0, "purchase": 2.0, "revenue": 0.1},
        purchase_intercept=1.0,
        price_sensitivity=0.7,
    )
    prices = np.array([1.0, 5.0, 30.0])
    rng = np.random.default_rng(stat_seed)
    reward.reset(rng, 3, prices)
    q = expit(1.0 - 0.7 * np.log(prices))
    assert np.all(np.diff(q) < 0)  # dearer, fewer purchases
    items = np.arange(3)
    np.testing.assert_allclose(
        reward.values(items), 0.5 + reward.mean_watch_time_ + 2.0 * q + 0.1 * prices * q
    )
    n = 40000
    clicks = np.ones((n, 3), dtype=bool)
    rewards, signals = reward.realise(clicks, np.tile(items, (n, 1)), rng)
    error = rewards.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(rewards.mean(axis=0) - reward.values(items)) < 4 * error)
    assert set(signals) == {"click", "watch_time", "purchase", "revenue"}
    np.testing.assert_array_equal(signals["revenue"], signals["purchase"] * prices)
    none, _ = reward.realise(np.zeros((2, 3), dtype=bool), np.tile(items, (2, 1)), rng)
    assert not none.any()


def test_shop_logits_are_the_documented_sum_of_parts():
    env = OnlineShopEnv(n_requests=30, min_candidates=10, max_candidates=10)
    env.reset(seed=3)
    for _ in range(30):  # past a shock (every 24 steps)
        env.step(env.action_space.sample())
    world, batch = env.world, env._current()
    catalogue, t = world.catalogue, batch.time
    taste = world.users.tastes_[batch.users] + world.context.taste_shift(
        batch.signals, batch.worlds
    )
    genres = catalogue.genres_[batch.items]
    logits = (
        world.logit_scale * np.einsum("nd,ncd->nc", taste, catalogue.factors_[batch.items])
        + catalogue.offsets_[batch.items]
        + world.trends.boosts_[batch.items]
        + world.trends.genre_terms(t)[0, genres]
        + (batch.signals[:, :3] @ np.array(world.context.device_attention))[:, None]
        - world.fatigue.penalty(batch.users, genres, t)
        + 0.3 * 0.99 ** (t - catalogue.release_times()[batch.items])  # novelty
        + BASE_LOGIT
    )
    np.testing.assert_allclose(batch.logits, logits, atol=1e-12)
    assert world.trends.boosts_.any()
    attributes = env.item_attributes()
    np.testing.assert_array_equal(attributes["genre"], catalogue.genres_)
    obs = world.observation(batch)
    np.testing.assert_allclose(
        obs["candidate_features"], env.item_table().features[obs["candidate_ids"]]
    )


def test_shop_reports_exact_expected_purchases():
    env = OnlineShopEnv(n_requests=200)
    env.reset(seed=0)
    differences = []
    for _ in range(40):
        _, _, _, _, info = env.step(env.action_space.sample())
        expected = info["expected_signals"]
        differences.append(info["signals"]["purchase"].sum() - expected["purchase"].sum())
        np.testing.assert_allclose(
            info["expected_reward"], 0.1 * expected["click"] + expected["purchase"]
        )
    differences = np.asarray(differences)
    assert abs(differences.mean()) < 4 * differences.std(ddof=1) / np.sqrt(differences.size)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: Catalogue(n_items=5, n_latent=1, bias_scale=0, n_genres=-1),
            InputValueError,
            "'n_genres' .* >= 0; got -1",
        ),
        (
            lambda: Catalogue(
                n_items=5, n_latent=1, bias_scale=0, genre_share=0.8, micro_genre_share=0.5
            ),
            InputValueError,
            "'micro_genre_share'",
        ),
        (lambda: Fatigue(fatigue_decay=0.0), InputValueError, "'fatigue_decay' .* > 0; got 0"),
        (lambda: Fatigue(churn_probability=0.5), InputValueError, "'churn_probability'"),
        (lambda: Fatigue(boredom_threshold=1.0), InputValueError, "'boredom_duration'"),
        (lambda: Fatigue(repeat_click=1.0), InputValueError, "set repeat_memory >= 1"),
        (lambda: Fatigue(repeat_decay=1.5), InputValueError, "'repeat_decay' .* <= 1"),
        (lambda: Context(n_latent=1, day_of_week=True), InputValueError, "'day_of_week'"),
        (
            lambda: Context(n_latent=1, device_attention=(1.0, 0.0, 0.0)),
            InputValueError,
            "'device_attention'",
        ),
        (lambda: Trends(trend_amplitude=1.0), InputValueError, "'trend_period' .* >= 1; got 0"),
        (
            lambda: make_reward({"likes": 1.0}, watch_time_spread=0.5, owner="E"),
            InputValueError,
            "reward component of E 'likes'",
        ),
        (
            lambda: make_reward({"click": -1.0}, watch_time_spread=0.5, owner="E"),
            InputValueError,
            "'reward weight of click' .* >= 0; got -1",
        ),
        (lambda: OnlineShopEnv(price_median=0.0), InputValueError, "price_median > 0"),
        (
            lambda: OnlineShopEnv(reward="click", purchase_intercept=3.0),
            InputValueError,
            "'purchase_intercept' parameter of OnlineShopEnv applies only to rewards with a "
            "purchase.*got 3.0 with reward='click'",
        ),
        (
            lambda: OnlineShopEnv(reward={"click": 1.0, "watch_time": 1.0}, price_sensitivity=0.0),
            InputValueError,
            "'price_sensitivity' .* got 0.0",
        ),
        (
            lambda: make_reward(
                "watch_time", watch_time_spread=0.5, owner="E", purchase_intercept=1
            ),
            InputValueError,
            "'purchase_intercept' parameter of E",
        ),
        (lambda: StreamingServiceEnv(n_genres=0), InputValueError, "n_genres > 0"),
        (
            lambda: StreamingServiceEnv(reward="purchase"),
            InputValueError,
            r"^The 'reward' parameter of StreamingServiceEnv buys items .* but "
            r"StreamingServiceEnv has no prices: choose a reward without them .*"
            r"got reward='purchase'\.$",
        ),
        (
            lambda: LatentFactorEnv(reward="revenue"),
            InputValueError,
            "LatentFactorEnv has no prices",
        ),
        (
            lambda: StreamingServiceEnv(slate_size=60),
            InputValueError,
            r"^The 'slate_size' parameter of StreamingServiceEnv must be <= min_candidates=30 "
            r".*got slate_size=60\.$",
        ),
        (
            lambda: LatentFactorEnv(slate_size=3, min_candidates=2, max_candidates=5),
            InputValueError,
            "'slate_size' parameter of LatentFactorEnv must be <= min_candidates=2",
        ),
        (lambda: StreamingServiceEnv(n_segments=1.5), InputTypeError, "'n_segments'"),
    ],
)
def test_bad_mechanism_settings_are_named(make, error, match):
    with pytest.raises(error, match=match) as caught:
        make()
    if "no prices" in match:  # a preset without prices must not suggest its absent parameter
        assert "price_median" not in str(caught.value)


def test_purchase_parameters_apply_when_the_reward_buys():
    env = OnlineShopEnv(reward="click")  # no purchase settings given: accepted
    assert env.world.reward.name == "click"
    default = OnlineShopEnv().world.reward
    assert (default.purchase_intercept, default.price_sensitivity) == (2.0, 0.8)
    chosen = OnlineShopEnv(reward="revenue", purchase_intercept=1.5).world.reward
    assert (chosen.purchase_intercept, chosen.price_sensitivity) == (1.5, 0.8)


FROZEN = {  # no arrivals: the same seed and step draw the same requests before and after
    "n_users": 300,
    "initial_users": 300,
    "users_per_step": 0,
    "n_items": 300,
    "initial_items": 300,
    "items_per_step": 0,
    "n_requests": 200,
    "min_candidates": 20,
    "max_candidates": 30,
}


def _drift(world):
    world.evolve(np.random.default_rng(0), world.users.drift_every)  # tastes drift
    return 0


def _shock(world):
    world.evolve(np.random.default_rng(0), world.trends.shock_every)  # items get boosts
    return 0


def _season(world):
    return 182 * world.context.steps_per_day  # same hour and weekday, half a year on


@pytest.mark.parametrize(
    ("make", "move"),
    [
        (lambda: StreamingServiceEnv(**FROZEN, drift=0.5, drift_every=10), _drift),
        (lambda: OnlineShopEnv(**FROZEN, shock_items=60, shock_size=3.0), _shock),
        (  # one candidate count at every step, so the two batches match
            lambda: OnlineShopEnv(
                **{**FROZEN, "min_candidates": 30}, trend_amplitude=1.0, shock_every=0
            ),
            _season,
        ),
    ],
    ids=["taste-drift", "popularity-shock", "seasonal-trend"],
)
def test_drift_and_trends_change_the_optimal_slate(make, move):
    """The same frozen requests (users, candidates, context draws: same seed, no arrivals),
    drawn before and after tastes drift, a popularity shock or half a year of seasonal
    trends: the best slates change, and the old best slate earns less than the new best."""
    env = make()
    env.reset(seed=4)
    world = env.world
    before = world.next_batch(np.random.default_rng(9), 0, evolve=False)
    time = move(world)
    after = world.next_batch(np.random.default_rng(9), time, evolve=False)
    np.testing.assert_array_equal(before.users, after.users)
    np.testing.assert_array_equal(before.items, after.items)
    assert not np.allclose(before.logits, after.logits)
    old_best, new_best = world.best_slates(before), world.best_slates(after)
    changed = (old_best != new_best).any(axis=1)
    assert changed.mean() > 0.2
    old_value = world.expected_rewards(after, old_best).sum(axis=1)
    new_value = world.expected_rewards(after, new_best).sum(axis=1)
    assert np.all(old_value <= new_value + 1e-12)
    assert np.all(old_value[changed] < new_value[changed])
