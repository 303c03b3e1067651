"""Choice models: each against its formula on hand-computed cases, best slates against brute
force, simulated clicks against the exact probabilities (4 standard errors)."""

import itertools

import numpy as np
import pytest
from scipy.special import expit, logit, logsumexp

from bandits.validation import InputValueError
from simulator.choice import (
    CANDIDATE_LOOP_ROWS,
    Cascade,
    MultinomialLogit,
    PositionBased,
    _descending_order,
    _ranked_by_log_scores,
    _read_off_by_candidate,
    _read_off_by_layer,
    log_sum_exp_rows,
    make_choice_model,
    ranked_top_k,
)


def test_position_based_formula():
    model = PositionBased(slate_size=2, examination=[1.0, 0.5])
    np.testing.assert_allclose(model.click_probabilities(logit([[0.5, 0.2]])), [[0.5, 0.1]])
    values = np.array([[2.0, 1.0, 3.0]])
    rewards = model.candidate_rewards(logit([[0.5, 0.2, 0.1]]), values)
    np.testing.assert_allclose(rewards[0], [[1.0, 0.5], [0.2, 0.1], [0.3, 0.15]])


def test_cascade_formula_and_clicks_stop_the_scan():
    model = Cascade(slate_size=3)
    attraction = logit([[0.5, 0.2, 0.4]])
    np.testing.assert_allclose(model.click_probabilities(attraction), [[0.5, 0.1, 0.16]])
    uniforms = np.array([[0.7, 0.1, 0.1], [0.9, 0.9, 0.9], [0.1, 0.1, 0.1]])
    clicks, examined = model.simulate(np.repeat(attraction, 3, axis=0), uniforms)
    np.testing.assert_array_equal(clicks, [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(examined, [[1, 1, 0], [1, 1, 1], [1, 0, 0]])
    assert model.candidate_rewards(attraction, np.ones((1, 3))) is None


def test_mnl_formula_and_at_most_one_click():
    model = MultinomialLogit(slate_size=2, examination=[1.0, 0.5], no_click_logit=0.0)
    logits = np.log([[1.0, 3.0]])  # weights 1 and 3, position weights 1 and 0.5, w0 = 1
    np.testing.assert_allclose(model.click_probabilities(logits), [[1 / 3.5, 1.5 / 3.5]])
    uniforms = np.array([[0.2, 0.99], [0.5, 0.0], [0.9, 0.0]])
    clicks, examined = model.simulate(np.repeat(logits, 3, axis=0), uniforms)
    np.testing.assert_array_equal(clicks, [[1, 0], [0, 1], [0, 0]])
    assert examined is None
    lone = MultinomialLogit(slate_size=1, examination=[1.0], no_click_logit=0.0)
    np.testing.assert_allclose(lone.click_probabilities(logit([[0.3]])), [[0.3]])
    shifted = MultinomialLogit(slate_size=1, examination=[1.0], no_click_logit=np.log(3.0))
    np.testing.assert_allclose(shifted.click_probabilities(np.log([[1.0]])), [[0.25]])


MODELS = [
    PositionBased(slate_size=3, examination=[1.0, 0.6, 0.3]),
    Cascade(slate_size=3),
    MultinomialLogit(slate_size=3, examination=[1.0, 0.7, 0.4], no_click_logit=0.5),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("reward", ["click", "values"])
def test_best_slates_beat_every_slate(model, reward):
    rng = np.random.default_rng(7)
    n, width = 40, 6
    logits = rng.normal(-0.5, 1.5, (n, width))
    values = np.ones((n, width)) if reward == "click" else rng.lognormal(0, 1, (n, width))
    counts = rng.integers(3, width + 1, n)
    real = np.arange(width) < counts[:, None]
    values = np.where(real, values, 0.0)

    best = model.best_slates(logits, values, real)
    assert np.take_along_axis(real, best, axis=1).all()
    assert all(len(set(row)) == 3 for row in best.tolist())
    _assert_brute_force_best(model, logits, values, real, best)


def _assert_brute_force_best(model, logits, values, real, best):
    """``best``'s expected rewards equal the best over every slate of real candidates."""
    n, width = logits.shape

    def expected(slates):
        shown = np.take_along_axis(logits, slates, axis=1)
        worth = np.take_along_axis(values, slates, axis=1)
        return model.expected_rewards(shown, worth).sum(axis=1)

    brute = np.full(n, -np.inf)
    for slate in itertools.permutations(range(width), best.shape[1]):
        slates = np.tile(slate, (n, 1))
        allowed = np.take_along_axis(real, slates, axis=1).all(axis=1)
        brute = np.where(allowed, np.maximum(brute, expected(slates)), brute)
    np.testing.assert_allclose(expected(best), brute, rtol=1e-12)


def test_cascade_best_slate_for_clicks_is_the_top_k_by_attraction_in_order():
    logits = logit([[0.1, 0.5, 0.3, 0.7]])
    best = Cascade(slate_size=2).best_slates(logits, np.ones((1, 4)), np.ones((1, 4), bool))
    np.testing.assert_array_equal(best, [[3, 1]])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_simulated_clicks_match_the_exact_probabilities(model):
    """Per position, the click rate over many draws of one slate lies within 4 standard errors
    of the exact probability; at most one click per slate for cascade and mnl."""
    rng = np.random.default_rng(3)
    n = 40_000
    logits = np.tile(logit([0.4, 0.25, 0.6]), (n, 1))
    clicks, examined = model.simulate(logits, rng.random((n, 3)))
    p = model.click_probabilities(logits[:1])[0]
    standard_error = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(clicks.mean(axis=0) - p) < 4 * standard_error)
    if model.name != "position":
        assert clicks.sum(axis=1).max() == 1
    if examined is not None:  # examined exactly up to the first click
        last = np.where(clicks.any(axis=1), clicks.argmax(axis=1), 2)
        np.testing.assert_array_equal(examined, np.arange(3) <= last[:, None])


def test_ranked_top_k_orders_the_highest():
    scores = np.array([[0.1, 0.9, -np.inf, 0.5, 0.7], [3.0, 2.0, 1.0, 0.0, -1.0]])
    np.testing.assert_array_equal(ranked_top_k(scores, 3), [[1, 4, 3], [0, 1, 2]])
    np.testing.assert_array_equal(ranked_top_k(scores[:, :3], 3), [[1, 0, 2], [0, 1, 2]])


@pytest.mark.parametrize("width", [3, 8, 100])
def test_ranked_top_k_equals_a_stable_full_sort_with_and_without_ties(width):
    rng = np.random.default_rng(width)
    distinct = rng.normal(size=(200, width))
    tied = rng.integers(0, 4, size=(200, width)).astype(np.float64)  # many ties at the k-th place
    tied[rng.random(tied.shape) < 0.1] = -np.inf
    tied[:, :3] = np.maximum(tied[:, :3], 0.0)  # at least 3 finite scores per row
    for scores in (distinct, tied):
        for k in {1, 3, width}:
            expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            np.testing.assert_array_equal(ranked_top_k(scores, k), expected)


@pytest.mark.parametrize("width", [12, 100, 3000])
def test_ranked_top_k_keys_separate_near_ties_signed_zeros_and_infinities(width):
    # Scores one ulp apart share their truncated sort keys, -0.0 equals 0.0, and negative
    # scores order by their flipped bits; every row must still be the stable sort's.
    rng = np.random.default_rng(width)
    base = rng.normal(size=(300, width))
    base[::2, 1] = np.nextafter(base[::2, 0], np.inf)  # one ulp above its neighbour
    base[1::4, 2] = base[1::4, 3]  # exact ties
    base[::3, 4], base[::3, 5] = -0.0, 0.0
    base[::5, 6], base[::5, 7] = np.inf, -np.inf
    base[::7] *= 1e-300  # subnormal and tiny scores
    for k in (1, 5, 11):
        expected = np.argsort(-base, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(ranked_top_k(base, k), expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "logit"}, "Unknown 'choice_model' of Env 'logit'"),
        ({"name": "cascade", "examination": [1.0, 0.5]}, "'examination' .* 'cascade'"),
        ({"name": "position", "no_click_logit": 1.0}, "'no_click_logit' .* only to .*mnl"),
        ({"name": "mnl", "no_click_logit": float("inf")}, "'no_click_logit' .* finite"),
        ({"name": "mnl", "no_click_logit": 800}, "'no_click_logit' .* <= 700; got 800"),
        ({"name": "mnl", "examination": [1.0, 1.2]}, "'examination' .* row 1 is 1.2"),
    ],
)
def test_bad_choice_settings_are_named(kwargs, match):
    params = {"slate_size": 2, "examination": None, "no_click_logit": 0.0, "owner": "Env"}
    params |= kwargs
    with pytest.raises(InputValueError, match=match):
        make_choice_model(params.pop("name"), **params)


def _cascade_programme_loop(attraction, values, real, k):
    """The cascade's dynamic programme as a loop over the candidates (the former code)."""
    n, width = attraction.shape
    order = np.lexsort((-attraction, -values, ~real), axis=1)
    a = np.take_along_axis(attraction, order, axis=1)
    gain = a * np.take_along_axis(values, order, axis=1)
    usable = np.take_along_axis(real, order, axis=1)
    best = np.full((n, k + 1), -np.inf)
    best[:, 0] = 0.0
    take = np.zeros((n, width, k + 1), dtype=np.bool_)
    for i in range(width - 1, -1, -1):
        with np.errstate(invalid="ignore"):
            with_i = gain[:, i, None] + (1.0 - a[:, i, None]) * best[:, :-1]
        better = usable[:, i, None] & (with_i > best[:, 1:])
        take[:, i, 1:] = better
        best[:, 1:] = np.where(better, with_i, best[:, 1:])
    slates = np.empty((n, k), dtype=np.int64)
    rows = np.arange(n)
    left = np.full(n, k)
    for i in range(width):
        chosen = take[rows, i, left] & (left > 0)
        slates[rows[chosen], k - left[chosen]] = order[chosen, i]
        left -= chosen
    return slates


@pytest.mark.parametrize("density", [0.05, 0.3, 0.9])
def test_one_pass_read_off_equals_the_read_off_by_layer(density):
    """Any table of starts, most of whose requests have no complete path (those fall back to
    the read-off by layer, whose argmax gives slot 0 when nothing is left): the same slots."""
    rng = np.random.default_rng(int(density * 100))
    width, k, n = 30, 6, 500
    take = rng.random((width, k + 1, n)) < density
    take[:, 0] = False  # layer 0 starts nothing
    by_layer = _read_off_by_layer(np.ascontiguousarray(take.transpose(1, 0, 2)))
    np.testing.assert_array_equal(_read_off_by_candidate(take, k), by_layer)


@pytest.mark.parametrize("n", [300, 40], ids=["by-candidate", "by-layer"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_vectorised_cascade_programme_equals_the_loop_and_brute_force(k, n):
    """Both programmes (candidate by candidate from CANDIDATE_LOOP_ROWS requests, layer by
    layer below) against a plain loop and brute force: ties of ``v`` and of ``a``, certain
    clicks, padding."""
    assert n >= CANDIDATE_LOOP_ROWS or n < CANDIDATE_LOOP_ROWS // 2
    rng = np.random.default_rng(11)
    width = 12
    logits = rng.normal(0.0, 2.0, (n, width))
    logits[5:20] = np.round(logits[5:20], 1)  # ties of a
    logits[:5, :3] = np.inf  # certain clicks: (1 - a) g = 0 * -inf must not break the programme
    attraction = expit(logits)
    values = rng.lognormal(0.0, 1.0, (n, width))
    values[:50] = np.round(values[:50])  # ties of v
    counts = rng.integers(k, width + 1, n)
    real = np.arange(width) < counts[:, None]
    model = Cascade(slate_size=k)
    fast = model._programme(logits, values, real)
    np.testing.assert_array_equal(fast, _cascade_programme_loop(attraction, values, real, k))
    if k <= 3:
        small = slice(0, 40)
        finite = np.clip(logits[small], -30.0, 30.0)
        worth = np.where(real[small], values[small], 0.0)

        def expected(slates):
            shown = np.take_along_axis(finite, slates, axis=1)
            return model.expected_rewards(shown, np.take_along_axis(worth, slates, axis=1)).sum(
                axis=1
            )

        brute = np.full(40, -np.inf)
        for slate in itertools.permutations(range(width), k):
            slates = np.tile(slate, (40, 1))
            allowed = np.take_along_axis(real[small], slates, axis=1).all(axis=1)
            brute = np.where(allowed, np.maximum(brute, expected(slates)), brute)
        np.testing.assert_allclose(expected(fast[small]), brute, rtol=1e-9)


def _dominators(logits, values, real):
    """Per candidate, the real candidates with v at least its own and a logit (so a) above
    its own."""
    return (
        (values[:, None, :] >= values[:, :, None])
        & (logits[:, None, :] > logits[:, :, None])
        & real[:, None, :]
    ).sum(axis=2)


@pytest.mark.parametrize(("width", "k"), [(12, 3), (40, 5), (100, 10)])
def test_pruned_cascade_programme_drops_only_dominated_candidates_and_finds_the_same_slates(
    width, k
):
    rng = np.random.default_rng(width + k)
    n = 300
    logits = rng.normal(-1.0, 1.5, (n, width))
    values = rng.lognormal(0.0, 1.0, (n, width))
    counts = rng.integers(k, width + 1, n)
    counts[:100] = width
    real = np.arange(width) < counts[:, None]
    model = Cascade(slate_size=k)
    # _undominated keeps every candidate with fewer than k dominators, drops only real
    # candidates with at least k (and all padding), and keeps the order.
    order = np.lexsort((-logits, np.where(real, -values, np.inf)), axis=1)
    in_order = np.take_along_axis(logits, order, axis=1)
    kept, kept_counts = model._undominated(order, in_order, counts)
    dominators = _dominators(logits, values, real)
    for row in range(n):
        chosen = kept[row, : kept_counts[row]]
        assert list(chosen) == [i for i in order[row] if i in set(chosen)]
        assert real[row, chosen].all()
        dropped = np.setdiff1d(np.flatnonzero(real[row]), chosen)
        assert (dominators[row, dropped] >= k).all()
        assert (dominators[row, chosen] < k).sum() == (dominators[row, real[row]] < k).sum()
    assert kept.shape[1] < width or width <= 12  # it does drop candidates
    # Without ties the optimum is unique: the same slates as the full programme.
    np.testing.assert_array_equal(
        model._programme(logits, values, real, prune=True),
        model._programme(logits, values, real),
    )


def test_pruned_cascade_programme_keeps_the_best_reward_with_ties_and_certain_clicks():
    rng = np.random.default_rng(3)
    n, width, k = 400, 20, 4
    logits = np.round(rng.normal(0.0, 1.5, (n, width)), 1)
    logits[:20, :3] = 40.0  # expit rounds these to exactly 1: certain clicks
    logits[20:40, 5:8] = [36.8, 36.9, 37.0]  # different logits, one attraction (1.0)
    values = np.round(rng.lognormal(0.0, 1.0, (n, width)))
    counts = rng.integers(k, width + 1, n)
    real = np.arange(width) < counts[:, None]
    model = Cascade(slate_size=k)
    worth = np.where(real, values, 0.0)

    def expected(slates):
        shown = np.take_along_axis(logits, slates, axis=1)
        return model.expected_rewards(shown, np.take_along_axis(worth, slates, axis=1)).sum(axis=1)

    pruned = model._programme(logits, values, real, prune=True)
    assert np.take_along_axis(real, pruned, axis=1).all()
    assert all(len(set(row)) == k for row in pruned.tolist())
    full = model._programme(logits, values, real)
    np.testing.assert_allclose(expected(pruned), expected(full), rtol=1e-12, atol=1e-12)


def test_log_sum_exp_rows_is_scipys_bit_for_bit():
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 3.0, (500, 10))
    x[:50, 3] = x[:50, 7]  # the maximum twice in some rows
    x[50:60] = 2.5  # constant rows
    x[60:70, 0] = 800.0  # exp would overflow
    np.testing.assert_array_equal(log_sum_exp_rows(x), logsumexp(x, axis=1))
    x[70, 2] = np.inf
    np.testing.assert_array_equal(log_sum_exp_rows(x), logsumexp(x, axis=1))


@pytest.mark.parametrize("width", [1, 9, 100, 3000])
def test_descending_order_sorts_real_values_first_and_flags_ties(width):
    rng = np.random.default_rng(width)
    n = 200
    values = rng.lognormal(0.0, 1.0, (n, width))
    values[:20, 0] = 0.0  # v = 0 still comes before padding
    if width > 1:
        values[20:40, 1] = values[20:40, 0]  # exact ties
        values[40:60, 1] = np.nextafter(values[40:60, 0], np.inf)  # ties but for the last bit
    counts = rng.integers(1, width + 1, n)
    real = np.arange(width) < counts[:, None]
    values[60:80] = -0.0 * values[60:80]  # the sign bit: the argsort path
    order, flagged = _descending_order(np.where(real, values, 0.0), real)
    key = np.where(real, -values, np.inf)
    for row in np.flatnonzero(~flagged):
        real_part = order[row, : counts[row]]
        assert sorted(real_part) == list(range(counts[row]))
        ranked = -key[row, real_part]
        assert (ranked[:-1] > ranked[1:]).all()  # strictly descending: no tie unflagged
    if width > 1:
        tied = (values[20:40, 1] == values[20:40, 0]) & real[20:40, 1]
        assert flagged[20:40][tied].all()


def test_mnl_best_slate_is_exact_when_the_single_item_start_is_above_the_optimum():
    """One valuable item and worthless others: a slate of 3 must show two of the others, so the
    Dinkelbach start (the best single item alone) is above the optimum; the iterations still
    end at the brute-force best slate."""
    model = MultinomialLogit(slate_size=3, examination=[1.0, 0.8, 0.5], no_click_logit=0.2)
    logits = np.array([[2.0, -1.0, 0.5, 1.5, -0.3, 0.0]])
    values = np.array([[5.0, 0.1, 0.3, 0.05, 0.2, 0.0]])
    real = np.ones((1, 6), dtype=bool)

    def value(slate):
        w = np.exp(logits[0, list(slate)]) * model.examination
        return float((w * values[0, list(slate)]).sum() / (np.exp(0.2) + w.sum()))

    start = np.exp(2.0) * 5.0 / (np.exp(0.2) + np.exp(2.0))
    brute = max(itertools.permutations(range(6), 3), key=value)
    assert value(brute) < start
    best = model.best_slates(logits, values, real)
    assert value(tuple(best[0])) == pytest.approx(value(brute), rel=1e-12)
    np.testing.assert_array_equal(best[0], brute)


def test_mnl_best_slates_skip_padding_when_the_no_click_weight_underflows():
    """With the no-click logit 700 below the items' (allowed), exp of its difference is 0, so
    a padded candidate's start ratio is 0 / 0: the slates must still show real candidates
    only, and the best of them (brute force)."""
    model = MultinomialLogit(slate_size=2, no_click_logit=-700.0)
    rng = np.random.default_rng(0)
    n, width = 200, 6
    logits = rng.normal(size=(n, width)) * 3 + 50
    values = rng.random((n, width))
    real = np.arange(width) < rng.integers(2, width + 1, size=n)[:, None]
    best = model.best_slates(logits, values, real)  # no 0 / 0 warning either
    assert np.take_along_axis(real, best, axis=1).all()
    _assert_brute_force_best(model, logits, values, real, best)


def test_mnl_best_slate_when_one_weight_dwarfs_the_rest_beyond_float64():
    """Logit 800 against 0 and the no-click 0: from one shift the small weights and the
    no-click one underflow to 0, and a score w (v - lambda) of 0 tied the best item's at the
    start (found at logit scales of 100 and more). The best slate leaves the dominant but
    poor item out: its value is about 1, the others' 1.6 (hand: items 1 and 2 alone)."""
    model = MultinomialLogit(slate_size=2)
    logits = np.array([[800.0, 0.0, 0.5, -1.0]])
    values = np.array([[1.0, 3.0, 2.0, 0.5]])
    real = np.ones((1, 4), dtype=bool)
    best = model.best_slates(logits, values, real)
    hand = {(1, 2): (3.0 + 2.0 * np.exp(0.5)) / (2.0 + np.exp(0.5))}
    hand[(2, 1)] = hand[(1, 2)]
    assert tuple(best[0]) in hand
    _assert_brute_force_best(model, logits, values, real, best)


@pytest.mark.parametrize("examination", [None, [1.0, 0.7, 0.4]])
def test_mnl_best_slates_with_logits_spanning_thousands(examination):
    """Rows whose logits span far more than float64's exponent (as logit_scale up to 1e6
    makes them), some padded: the slates are the brute-force best."""
    model = MultinomialLogit(slate_size=3, examination=examination, no_click_logit=0.3)
    rng = np.random.default_rng(5)
    n, width = 300, 6
    logits = rng.normal(size=(n, width)) * rng.choice([1.0, 300.0, 3000.0], size=(n, 1))
    values = rng.lognormal(0, 1, (n, width))
    real = np.arange(width) < rng.integers(3, width + 1, size=n)[:, None]
    values = np.where(real, values, 0.0)
    best = model.best_slates(logits, values, real)
    assert np.take_along_axis(real, best, axis=1).all()
    _assert_brute_force_best(model, logits, values, real, best)


@pytest.mark.parametrize(
    ("logits", "values", "no_click_logit", "hand"),
    [  # the log path: item 2 (logit 1061) dwarfs the rest; [5, 1, 0] is worth 2.52
        ([518, 270, 1061, 237, 184, 926], [0.71, 1.3, 1.48, 0.19, 3.56, 2.52], 0.0, 2.52),
        # the weight path: item 1 dwarfs the rest; a slate led by item 3 is worth 2.84
        ([-50, 50, 0, 10, 0, 0], [6.8, 1.4, 1.09, 2.84, 0.72, 0.63], -60.0, 2.84),
        # the best slate at one step, [1, 0, 4], is worth 0.88 + e^-36 0.06: rounded, the
        # value equals item 1's and item 1's score is above 0; [0, 4, 3] is worth 0.94
        ([54, 90, 63, 15, 6, 35], [0.94, 0.88, 0.84, 0.41, 2.15, 0.6], 0.0, 0.94),
    ],
)
def test_mnl_best_slate_leaves_out_a_dominant_item_whose_value_the_slate_rounds_to(
    logits, values, no_click_logit, hand
):
    """A slate whose value rounds to its dominant item's own value gives that item a
    Dinkelbach score of 0 (or a sliver above), which kept it in every later slate and ended
    the search early; the search now steps its level past the rounding and finds the best
    slate (hand: about the value of the best slate's own dominant item, to 1e-4)."""
    model = MultinomialLogit(slate_size=3, no_click_logit=no_click_logit)
    logits, values = np.array([logits], dtype=float), np.array([values])
    real = np.ones((1, 6), dtype=bool)
    best = model.best_slates(logits, values, real)
    shown = np.take_along_axis(logits, best, axis=1)
    worth = model.expected_rewards(shown, np.take_along_axis(values, best, axis=1)).sum()
    assert worth == pytest.approx(hand, abs=1e-4)
    _assert_brute_force_best(model, logits, values, real, best)


@pytest.mark.parametrize("spread", [100.0, 1000.0])
@pytest.mark.parametrize("examination", [None, [1.0, 0.7, 0.4]])
def test_mnl_best_slates_with_rounded_logits_and_values(spread, examination):
    """Whole-number logits over a wide range and values of two decimals (so slate values
    often round to one item's value): every slate is the brute-force best (the search
    before this missed about 6 rows in 1,000 at spread 100, 40 at 1,000)."""
    model = MultinomialLogit(slate_size=3, examination=examination)
    rng = np.random.default_rng(int(spread))
    logits = np.round(rng.uniform(0, spread, (3000, 6)))
    values = np.round(rng.lognormal(0, 1, (3000, 6)), 2)
    real = np.ones((3000, 6), dtype=bool)
    _assert_brute_force_best(model, logits, values, real, model.best_slates(logits, values, real))


def test_mnl_rounding_margin_covers_a_slate_of_four():
    """A rounded row (found among 4,000 with slates of 4) where item 0's value 2.63 and the
    slate [1, 6, 3, 0] worth 2.63 + 2e-15 stall the search: a nudge of 1 or 2 ulps relative
    to the level keeps item 0's score above 0 in the weight path, which then misses [1, 6,
    3, 4], worth 2.646; the margin of (4k + 16) eps finds it (the log-domain path too)."""
    model = MultinomialLogit(slate_size=4)
    logits = np.array([[77.0, 40.0, 94.0, 1.0, 42.0, 48.0, 40.0]])
    values = np.array([[2.63, 9.06, 0.49, 0.23, 0.44, 0.99, 5.1]])
    real = np.ones((1, 7), dtype=bool)
    for best in (
        model.best_slates(logits, values, real),
        model._best_from_logs(logits, values, real),
    ):
        np.testing.assert_array_equal(best, [[1, 6, 3, 4]])
        _assert_brute_force_best(model, logits, values, real, best)


def test_mnl_weights_near_the_bottom_of_float64_take_the_log_domain_path():
    """A dominant item 742 above the others: from one shift their weights are subnormal
    (5e-323, a few bits), not 0, and their scores lose the digits that rank them (171 rows
    of these 2,000 missed the best with the floor at -745); LOG_WEIGHT_FLOOR sends such
    rows to the log-domain path."""
    model = MultinomialLogit(slate_size=2)
    rng = np.random.default_rng(0)
    n = 2000
    logits = rng.uniform(-3, 3, (n, 5))
    logits[:, 0] = 742.0
    values = np.round(rng.lognormal(0, 1, (n, 5)), 2)
    values[:, 0] = rng.uniform(0, 1, n)
    real = np.ones((n, 5), dtype=bool)
    _assert_brute_force_best(model, logits, values, real, model.best_slates(logits, values, real))


def test_mnl_padding_far_above_the_real_logits_raises_no_overflow():
    """Padding entries hold some item's logit: 800 above the real one, exp of it overflowed
    (a RuntimeWarning, an error here) before the padding was masked."""
    best = MultinomialLogit(slate_size=1).best_slates(
        np.array([[0.0, 800.0]]), np.ones((1, 2)), np.array([[True, False]])
    )
    np.testing.assert_array_equal(best, [[0]])


def test_mnl_log_domain_path_finds_the_weight_paths_values_on_ordinary_rows():
    """The two Dinkelbach paths agree where both apply (values to 1e-12; slates may differ
    only between equally good ones)."""
    model = MultinomialLogit(slate_size=3, examination=[1.0, 0.8, 0.6], no_click_logit=-0.5)
    rng = np.random.default_rng(11)
    n, width = 500, 12
    logits = rng.normal(0, 2, (n, width))
    values = rng.lognormal(0, 1, (n, width))
    real = np.arange(width) < rng.integers(3, width + 1, size=n)[:, None]
    values = np.where(real, values, 0.0)
    fast = model.best_slates(logits, values, real)
    logs = model._best_from_logs(logits, values, real)

    def expected(slates):
        shown = np.take_along_axis(logits, slates, axis=1)
        return model.expected_rewards(shown, np.take_along_axis(values, slates, axis=1))

    np.testing.assert_allclose(expected(logs).sum(1), expected(fast).sum(1), rtol=1e-12)


def test_log_domain_ranking_equals_a_stable_sort_of_the_products():
    """_ranked_by_log_scores against the stable sort of ``exp(l) (v - level)`` where the
    products are representable: logits and values from small sets, so that equal products
    are exact ties (to the lower index) and unequal ones far apart; rows with at least k
    candidates above their level (a selection) and rows with fewer (sorted whole: zeros,
    then the negative products, then padding)."""
    rng = np.random.default_rng(3)
    n, width, k = 600, 12, 4
    logits = rng.choice([0.0, 1.0, 2.0], (n, width))
    values = rng.choice([0.5, 1.0, 1.5, 2.0], (n, width))
    level = rng.choice([1.0, 1.25, 1.75], n)
    real = np.arange(width) < rng.integers(k, width + 1, n)[:, None]
    products = np.where(real, np.exp(logits) * (values - level[:, None]), -np.inf)
    expected = np.argsort(-products, axis=1, kind="stable")[:, :k]
    above = (real & (values > level[:, None])).sum(axis=1)
    assert 100 < (above >= k).sum() < 500  # both ways are taken
    np.testing.assert_array_equal(_ranked_by_log_scores(logits, values, real, level, k), expected)
    many = above >= k  # every row by selection
    np.testing.assert_array_equal(
        _ranked_by_log_scores(logits[many], values[many], real[many], level[many], k),
        expected[many],
    )
