"""Item lengths and the context's short-item preference, novelty after release, live items
only, and candidates tilted by popularity."""

import itertools

import numpy as np
import pytest
import scipy.stats

from bandits.observation import PAD_ID, as_observation
from bandits.validation import InputValueError
from policies.uniform import UniformRandom
from simulator import OnlineShopEnv, StreamingServiceEnv, sampling
from simulator.catalogue import Catalogue
from simulator.context import DEVICES, morning
from simulator.sampling import first_distinct

SMALL = {
    "n_users": 200,
    "initial_users": 200,
    "n_items": 400,
    "initial_items": 100,
    "items_per_step": 2,
    "n_requests": 50,
    "min_candidates": 20,
    "max_candidates": 30,
}


STILL = {  # no state that clicks change: two copies then differ only by the term under test
    "exposure_fatigue": 0.0,
    "click_fatigue": 0.0,
    "boredom_threshold": 0.0,
    "churn_probability": 0.0,
    "click_drift": 0.0,
    "repeat_exposure": 0.0,
    "repeat_click": 0.0,
}


def streaming(**kwargs):
    return StreamingServiceEnv(**SMALL, **kwargs)


def test_phone_and_morning_requests_favour_short_items_by_the_documented_term():
    """Same seed with and without the preferences: the logits differ by exactly
    ``-(w_phone [phone] + w_morning morning(t)) log(length / median)``."""
    plain = streaming(phone_short_preference=0.0, morning_short_preference=0.0, **STILL)
    tilted = streaming(phone_short_preference=0.7, morning_short_preference=0.4, **STILL)
    plain.reset(seed=2)
    tilted.reset(seed=2)
    slates = np.tile(np.arange(5), (50, 1))
    for step in range(30):  # 30 half-hour steps: from midnight into the morning
        a, b = plain._current(), tilted._current()
        catalogue = tilted.world.catalogue
        log_length = np.log(catalogue.lengths_[b.items] / catalogue.length_median)
        phone = b.signals[:, DEVICES.index("phone")]
        weight = 0.7 * phone + 0.4 * morning(step, 48)
        expected = a.logits - weight[:, None] * log_length
        np.testing.assert_allclose(b.logits[b.real], expected[b.real], atol=1e-12)
        plain.step(slates)
        tilted.step(slates)
    assert morning(16, 48) == 1.0 and morning(0, 48) == 0.0  # 8:00 and midnight
    attributes = tilted.item_attributes()
    assert np.all(attributes["length"] > 0)
    np.testing.assert_allclose(
        tilted.item_table().features[:, -1], np.log(attributes["length"] / 45.0)
    )


def test_short_items_win_more_clicks_on_phones_in_the_morning(stat_seed):
    env = streaming(phone_short_preference=1.0, morning_short_preference=1.0, trend_amplitude=0.0)
    env.reset(seed=stat_seed)
    for _ in range(16):  # to 8:00
        env.step(np.tile(np.arange(5), (50, 1)))
    batch = env._current()
    catalogue = env.world.catalogue
    short = np.log(catalogue.lengths_[batch.items] / catalogue.length_median) < 0
    phone = batch.signals[:, DEVICES.index("phone")] == 1
    gap = (
        batch.logits[phone][short[phone] & batch.real[phone]].mean()
        - batch.logits[phone][~short[phone] & batch.real[phone]].mean()
    )
    assert gap > 0


def test_novelty_boost_decays_with_age_since_release():
    plain = streaming(novelty_weight=0.0, **STILL)
    boosted = streaming(novelty_weight=0.8, novelty_decay=0.9, **STILL)
    plain.reset(seed=5)
    boosted.reset(seed=5)
    slates = np.tile(np.arange(5), (50, 1))
    releases = boosted.world.catalogue.release_times()
    for step in range(12):
        a, b = plain._current(), boosted._current()
        age = step - releases[b.items]
        assert age[b.real].min() >= 0
        novelty = 0.8 * 0.9**age
        np.testing.assert_allclose(b.logits[b.real], (a.logits + novelty)[b.real], atol=1e-12)
        plain.step(slates)
        boosted.step(slates)


def test_candidates_are_live_never_released_in_the_future_or_retired():
    env = streaming(item_lifetime=10)
    obs, _ = env.reset(seed=0)
    table = env.item_table()
    rng = np.random.default_rng(0)
    for step in range(60):
        ids = obs["candidate_ids"][obs["candidate_ids"] >= 0]
        assert np.all(table.valid_from[ids] <= step) and np.all(step < table.valid_until[ids])
        assert np.all(env.item_attributes()["release_time"][ids] <= step)
        obs, *_ = env.step(np.argsort(rng.random((50, 20)), axis=1)[:, :5])


def test_cold_start_items_and_users_appear_and_a_policy_sees_them():
    """Titles released after the start (valid_from > 0) become candidates, users who join
    after the start (ids from initial_users on) make requests with all-padding histories,
    and both are in what a policy receives: the observation's ids, the new items' features
    (equal to the item table's) and, once a policy shows new titles, their clicks in
    histories."""
    initial_users = 40
    env = StreamingServiceEnv(
        **{**SMALL, "n_users": 400, "initial_users": initial_users, "users_per_step": 6}
    )
    obs, _ = env.reset(seed=3)
    table = env.item_table()
    policy = UniformRandom(rng=np.random.default_rng(3))
    seen_users: set[int] = set()
    new_items_offered: set[int] = set()
    new_items_shown = new_users_asking = new_items_clicked = 0
    for _ in range(40):
        view = as_observation(obs)
        ids = view.candidate_ids
        real = ids != PAD_ID
        new = real & (table.valid_from[np.where(real, ids, 0)] > 0)
        new_items_offered.update(ids[new].tolist())
        np.testing.assert_array_equal(view.candidate_features[new], table.features[ids[new]])
        for row, user in enumerate(view.user_ids.tolist()):
            if user >= initial_users and user not in seen_users:
                new_users_asking += 1
                assert np.all(view.history[row] == PAD_ID)  # joined: nothing clicked yet
            seen_users.add(user)
        slates = policy.act(view).slates
        new_items_shown += int(np.take_along_axis(new, slates, axis=1).sum())
        obs, _, _, _, info = env.step(slates)
        clicked = np.take_along_axis(ids, slates, axis=1)[info["signals"]["click"] > 0]
        new_items_clicked += int((table.valid_from[clicked] > 0).sum())
    assert len(new_items_offered) >= 20 and new_items_shown > 0 and new_items_clicked > 0
    assert new_users_asking >= 20
    assert max(seen_users) >= initial_users + 100  # users who joined late still ask


def test_first_distinct_is_sampling_without_replacement_in_random_order():
    """Width 2 from 5 values with weights w: the ordered pair (i, j) has probability
    ``(w_i w_j / (1 - w_i) + w_j w_i / (1 - w_j)) / 2`` (the set by successive sampling,
    then a random order)."""
    weights = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    stream_rng = np.random.default_rng(0)

    def draw(rows, m):
        return stream_rng.choice(5, size=(rows.size, m), p=weights)

    pairs = first_distinct(draw, 5, 40_000, 2, np.random.default_rng(1))
    assert np.all(pairs[:, 0] != pairs[:, 1])
    ordered = list(itertools.permutations(range(5), 2))
    seen = np.zeros(len(ordered))
    index = {pair: k for k, pair in enumerate(ordered)}
    for pair, count in zip(*np.unique(pairs, axis=0, return_counts=True), strict=True):
        seen[index[tuple(pair)]] = count
    w = weights
    expected = np.array(
        [(w[i] * w[j] / (1 - w[i]) + w[j] * w[i] / (1 - w[j])) / 2 for i, j in ordered]
    )
    assert scipy.stats.chisquare(seen, expected * seen.sum()).pvalue > 0.001


def test_popularity_tilted_candidates_follow_the_mixture():
    """One candidate per request: its item is drawn from (1 - rho) uniform + rho popularity
    over the live items (initial ones plus a run of later ones)."""
    catalogue, live = _live_popularity_catalogue(0.6)
    time = 7  # later items 8 .. 27 are live (arrived at steps 3 .. 7)
    worlds = np.ones(60_000, dtype=np.int64)  # the second world
    drawn = catalogue.draw_candidates(np.random.default_rng(1), worlds, 1, time)[:, 0]
    assert np.isin(drawn, live).all()
    popularity = np.exp(catalogue.popularity_[60 + live])
    mixture = 0.4 / live.size + 0.6 * popularity / popularity.sum()
    seen = np.bincount(drawn, minlength=60)[live]
    assert scipy.stats.chisquare(seen, mixture * seen.sum()).pvalue > 0.001
    many = catalogue.draw_candidates(np.random.default_rng(2), worlds[:500], 25, time)
    assert all(len(set(row)) == 25 for row in many.tolist())
    assert np.isin(many, live).all()


def _live_popularity_catalogue(candidate_popularity):
    """60 items, 20 initial, a live run of later ones at step 7 (later items 8 .. 27)."""
    catalogue = Catalogue(
        n_items=60,
        n_latent=2,
        bias_scale=0.0,
        initial_items=20,
        items_per_step=4,
        item_lifetime=5,
        popularity_exponent=1.0,
        candidate_popularity=candidate_popularity,
    )
    catalogue.reset(np.random.default_rng(0), 2)
    live = np.flatnonzero((catalogue.valid_from() <= 7) & (7 < catalogue.valid_until()))
    return catalogue, live


@pytest.mark.parametrize("n_worlds", [1, 2])
def test_popularity_tilted_frequencies_are_within_4_standard_errors(n_worlds):
    """Per item, how often it is a request's candidate matches the probability of
    successive sampling from the mixture ``q = (1 - rho) uniform + rho popularity`` within
    4 standard errors: one candidate, ``q_i``; two, ``q_i + sum_(j != i) q_j q_i / (1 -
    q_j)``. Both the one-world path and the per-draw world lookup; every request's
    candidates distinct and live."""
    catalogue, live = _live_popularity_catalogue(0.5)
    n = 40_000
    worlds = np.arange(n) % n_worlds  # the one-world path takes world 0 only
    rng = np.random.default_rng(5)
    for world in range(n_worlds):
        popularity = np.exp(catalogue.popularity_[world * 60 + live])
        q = 0.5 / live.size + 0.5 * popularity / popularity.sum()
        pair = q + q * ((q / (1 - q)).sum() - q / (1 - q))
        for width, probability in ((1, q), (2, pair)):
            drawn = catalogue.draw_candidates(rng, worlds, width, 7)[worlds == world]
            assert np.isin(drawn, live).all()
            if width == 2:
                assert np.all(drawn[:, 0] != drawn[:, 1])
            rows = drawn.shape[0]
            frequency = np.bincount(drawn.ravel(), minlength=60)[live] / rows
            standard_error = np.sqrt(probability * (1 - probability) / rows)
            assert np.all(np.abs(frequency - probability) < 4 * standard_error)


@pytest.mark.parametrize("n_worlds", [1, 2])
def test_popularity_tilted_draws_are_the_same_with_or_without_the_table(n_worlds, monkeypatch):
    """Redraw rounds checked against a table of taken items give the candidates of sorting
    every round, and leave the generator in the same state."""
    catalogue, _ = _live_popularity_catalogue(0.8)
    worlds = np.arange(300) % n_worlds
    fast_rng, slow_rng = np.random.default_rng(4), np.random.default_rng(4)
    fast = catalogue.draw_candidates(fast_rng, worlds, 25, 7)
    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    slow = catalogue.draw_candidates(slow_rng, worlds, 25, 7)
    np.testing.assert_array_equal(fast, slow)
    assert fast_rng.bit_generator.state == slow_rng.bit_generator.state


@pytest.mark.parametrize("n_worlds", [1, 2])
@pytest.mark.parametrize("time", [3, 7])
def test_popularity_tilted_draws_are_the_documented_stream(n_worlds, time):
    """The stream entries equal a plain reading of the documented draw (``np.where`` over
    the two live segments, ``np.searchsorted`` on the prefix sums, the round-off clipped):
    the same uniforms give the same candidates, with (time 7) and without (time 3) retired
    items, in one world and in several."""
    catalogue, _ = _live_popularity_catalogue(0.7)
    rho, n_items, initial = 0.7, catalogue.n_items, catalogue.initial_items
    first, stop = catalogue._run(time)
    n_live = catalogue.n_live(time)
    cumulative = catalogue.cumulative_
    worlds = np.arange(400) % n_worlds
    stream_rng = np.random.default_rng(9)

    def draw(rows, m):
        uniforms = stream_rng.random((rows.size, m))
        ranks = np.minimum(((uniforms - rho) * (n_live / (1 - rho))).astype(np.int64), n_live - 1)
        out = np.where(ranks < initial, ranks, ranks + first)
        base = (worlds[rows] * n_items)[:, None]
        start, initial_mass = cumulative[base], cumulative[base + initial] - cumulative[base]
        run_start = cumulative[base + initial + first]
        total = initial_mass + cumulative[base + initial + stop] - run_start
        target = uniforms * (total / rho)
        early = target < initial_mass
        value = np.where(early, start + target, run_start + target - initial_mass)
        found = np.searchsorted(cumulative, value, side="right") - 1 - base
        found = np.where(
            early,
            np.clip(found, 0, initial - 1),
            np.clip(found, initial + first, initial + stop - 1),
        )
        return np.where(uniforms < rho, found, out)

    if n_worlds == 1:  # the one-world path needs a one-world catalogue: world 0 of it alone
        catalogue.cumulative_ = cumulative[: n_items + 1]
        catalogue.guide_ = sampling.GuideTable(catalogue.cumulative_)
    expected = first_distinct(draw, n_items, worlds.size, 20, stream_rng)
    drawn = catalogue.draw_candidates(np.random.default_rng(9), worlds, 20, time)
    np.testing.assert_array_equal(drawn, expected)


def test_the_shop_offers_popular_products_more_often():
    tilted = OnlineShopEnv(n_requests=100)
    uniform = OnlineShopEnv(n_requests=100, candidate_popularity=0.0)
    shown = []
    for env in (tilted, uniform):
        obs, _ = env.reset(seed=0)
        popularity = env.item_attributes()["popularity"]
        ids = obs["candidate_ids"][obs["candidate_ids"] >= 0]
        shown.append(popularity[ids].mean())
    assert shown[0] > shown[1] + 0.1


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: streaming(length_median=0.0), "short-item preferences .* length_median > 0"),
        (lambda: streaming(devices=False), "'phone_short_preference' .* devices=True"),
        (
            lambda: streaming(steps_per_day=0, day_of_week=False, phone_short_preference=0.0),
            "'morning_short_preference' .* steps_per_day > 0",
        ),
        (lambda: OnlineShopEnv(candidate_popularity=0.99), "'candidate_popularity' .* <= 0.95"),
        (lambda: streaming(novelty_decay=0.0), "'novelty_decay' .* > 0"),
    ],
)
def test_bad_length_novelty_and_popularity_settings_are_named(make, match):
    with pytest.raises(InputValueError, match=match):
        make()
