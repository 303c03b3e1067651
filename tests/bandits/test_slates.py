"""Slate arithmetic of the stochastic slate policies against independent references: full
enumeration of every ordered slate on small problems, an exact DP over groups of equal logits on
large ones, and the sampling frequencies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bandits.slates import (
    PLACKETT_LUCE_GAP,
    per_position_epsilon_greedy_marginals,
    per_position_epsilon_greedy_probability,
    plackett_luce_log_probability,
    plackett_luce_marginals,
    plackett_luce_position_probability,
    rank_scores,
    sample_per_position_epsilon_greedy,
    sample_plackett_luce,
    sample_uniform_slates,
    softmax_logits,
    strict_ranking,
    tie_marginals,
    tie_probabilities,
)
from bandits.validation import InputValueError

# --- references ---------------------------------------------------------------------------


def enumerate_plackett_luce(logits, k):
    """Every ordered slate of ``k`` of the finite logits with its probability, multiplying
    position by position ``w_i / sum of remaining w`` (weights relative to the largest
    remaining logit), and the marginals summed from them."""
    real = np.flatnonzero(np.isfinite(logits))
    slates = np.array(list(itertools.permutations(real, k)), dtype=np.int64)
    probability = np.ones(len(slates))
    for index, slate in enumerate(slates):
        remaining = list(real)
        for item in slate:
            top = max(logits[i] for i in remaining)
            weights = {i: np.exp(logits[i] - top) for i in remaining}
            probability[index] *= weights[item] / sum(weights.values())
            remaining.remove(item)
    marginals = np.zeros((len(logits), k))
    for position in range(k):
        np.add.at(marginals[:, position], slates[:, position], probability)
    return slates, probability, marginals


def grouped_plackett_luce(levels, sizes, k):
    """Exact marginals of a Plackett-Luce race whose items come in groups of equal logits:
    members of a group are exchangeable, so a DP over how many of each group are shown gives
    every position's probability (float64 sums of positive terms)."""
    weights = np.exp(np.asarray(levels, float) - max(levels))
    sizes = np.asarray(sizes)
    states = {(0,) * len(sizes): 1.0}
    marginals = np.zeros((len(sizes), k))
    for position in range(k):
        following: dict[tuple[int, ...], float] = {}
        for state, probability in states.items():
            left = sizes - np.asarray(state)
            total = float((left * weights).sum())
            for group in np.flatnonzero(left):
                chance = probability * left[group] * weights[group] / total
                marginals[group, position] += chance / sizes[group]
                after = list(state)
                after[group] += 1
                following[tuple(after)] = following.get(tuple(after), 0.0) + chance
        states = following
    return marginals


def enumerate_per_position(scores, k, epsilon, strict):
    """Every slate's probability under per-position epsilon-greedy, by following the process
    itself: at each position every remaining candidate has probability epsilon / remaining,
    plus (1 - epsilon) shared by the best remaining ones (the next in index order if
    ``strict``)."""
    n = len(scores)
    probability: dict[tuple[int, ...], float] = {}

    def follow(prefix, chance):
        if len(prefix) == k:
            probability[tuple(prefix)] = chance
            return
        remaining = [c for c in range(n) if c not in prefix]
        top = max(scores[c] for c in remaining)
        best = [c for c in remaining if scores[c] == top]
        if strict:
            best = best[:1]
        for c in remaining:
            step = epsilon / len(remaining) + (1 - epsilon) * (c in best) / len(best)
            follow([*prefix, c], chance * step)

    follow([], 1.0)
    slates = np.array(list(probability), dtype=np.int64)
    values = np.array(list(probability.values()))
    marginals = np.zeros((n, k))
    for position in range(k):
        np.add.at(marginals[:, position], slates[:, position], values)
    return slates, values, marginals


# --- Plackett-Luce ------------------------------------------------------------------------

EXTREME_LOGITS = [
    [0.0, 0.0, 0.0, 0.0],  # all tied
    [0.0, 0.0, -1e4, -1e4, -3.0],  # two tied pairs, far apart
    [0.0, -30.0, -60.0, -90.0, -120.0],  # a chain of large gaps below the split
    [0.0, -0.999 * PLACKETT_LUCE_GAP, -1.998 * PLACKETT_LUCE_GAP, -1.0],  # just below it
    [0.0, -1.001 * PLACKETT_LUCE_GAP, -2.2 * PLACKETT_LUCE_GAP, -5.0, -5.0],  # split
    [-2000.0, 0.0, -1000.0, -1000.0, -1e300],  # split everywhere, a tie, a huge gap
    [0.0, -1e-12, -2e-12, 0.0, -1e-12],  # near ties
    [0.0, -700.0, -745.0, -746.0, -800.0],  # weights below float64's range
]


def small_cases():
    rng = np.random.default_rng(0)
    cases = [(np.array(logits), k) for logits in EXTREME_LOGITS for k in (1, 2, 3, 4)]
    for trial in range(60):
        n = int(rng.integers(1, 7))
        scale = [0.1, 1.0, 3.0, 10.0, 30.0, 100.0][trial % 6]
        logits = rng.normal(size=n) * scale
        if trial % 4 == 0 and n > 1:
            logits[1] = logits[0]
        cases.append((logits - logits.max(), int(rng.integers(1, n + 1))))
    return [(logits, min(k, len(logits))) for logits, k in cases]


@pytest.mark.parametrize(("logits", "k"), small_cases())
def test_plackett_luce_probabilities_equal_full_enumeration(logits, k):
    """Every ordered slate's probability, every shown item's position probability and every
    candidate-position marginal, with padding, against enumeration (1e-12 absolute)."""
    padded = np.r_[logits - logits.max(), [-np.inf] * 2][None, :]
    slates, expected, expected_marginals = enumerate_plackett_luce(padded[0], k)
    rows = np.zeros(len(slates), dtype=np.int64)
    many = padded[rows]
    probability = np.exp(plackett_luce_log_probability(many, slates).sum(axis=1))
    np.testing.assert_allclose(probability, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(probability.sum(), 1.0, rtol=1e-12)
    marginals = plackett_luce_marginals(padded, k)[0]
    np.testing.assert_allclose(marginals, expected_marginals, rtol=0, atol=1e-12)
    assert np.all(marginals[-2:] == 0) and np.all(marginals >= 0)
    np.testing.assert_allclose(marginals.sum(axis=0), 1.0, rtol=0, atol=1e-12)
    position = plackett_luce_position_probability(many, slates)
    shown = expected_marginals[slates, np.arange(k)]
    np.testing.assert_allclose(position, shown, rtol=0, atol=1e-12)


def test_plackett_luce_on_twelve_candidates_equals_enumeration():
    """12 candidates with continuous logits, slates of 4: all 11,880 slates enumerated."""
    logits = np.random.default_rng(3).normal(size=12) * 2.0
    logits -= logits.max()
    slates, expected, expected_marginals = enumerate_plackett_luce(logits, 4)
    np.testing.assert_allclose(
        plackett_luce_marginals(logits[None], 4)[0], expected_marginals, rtol=0, atol=1e-13
    )
    many = np.tile(logits, (len(slates), 1))
    probability = np.exp(plackett_luce_log_probability(many, slates).sum(axis=1))
    np.testing.assert_allclose(probability, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("levels", "sizes", "k"),
    [
        ([0.0], [1000], 10),
        ([0.0, -1.0, -3.0], [5, 50, 945], 10),
        ([3.0, 0.0], [20, 980], 10),
        ([0.0, -0.2], [500, 500], 10),
        ([0.0, -10.0, -20.0, -30.0], [3, 3, 3, 991], 10),
        ([0.0, -59.0, -118.0, -150.0], [3, 3, 3, 991], 10),  # gaps just below the split
        ([0.0, -700.0], [30, 970], 10),  # split
        ([0.0, -2.0], [5, 295], 50),
        ([0.0, -0.5, -4.0], [10, 40, 250], 30),
        ([0.0, -1.0], [30, 170], 100),
    ],
)
def test_plackett_luce_error_bound_at_scale(levels, sizes, k):
    """Up to 1,000 candidates and slates of 100: every marginal within 1e-13 of the exact
    grouped DP, and within 1e-11 relative for all marginals above 1e-100."""
    exact = np.repeat(grouped_plackett_luce(levels, sizes, k), sizes, axis=0)
    logits = np.repeat(levels, sizes).astype(float)
    order = np.random.default_rng(len(logits) + k).permutation(len(logits))
    logits, exact = logits[order], exact[order]
    marginals = plackett_luce_marginals((logits - logits.max())[None], k)[0]
    error = np.abs(marginals - exact)
    assert error.max() < 1e-13, error.max()
    sizable = exact > 1e-100
    assert (error[sizable] / exact[sizable]).max() < 1e-11
    normalised = (logits - logits.max())[None]
    slates = sample_plackett_luce(np.repeat(normalised, 3, axis=0), k, np.random.default_rng(k))
    position = plackett_luce_position_probability(np.repeat(normalised, 3, axis=0), slates)
    np.testing.assert_allclose(position, exact[slates, np.arange(k)], rtol=1e-11)


def test_plackett_luce_batches_mix_widths_and_match_one_row_at_a_time():
    """A batch with padding, different candidate counts and logit scales gives each row what it
    gets alone (rows never leak into each other through the shared quadrature chunks)."""
    rng = np.random.default_rng(5)
    counts = np.array([3, 40, 7, 40, 12])
    logits = np.full((5, 40), -np.inf)
    for row, count in enumerate(counts):
        logits[row, :count] = rng.normal(size=count) * [0.5, 3.0, 30.0, 1.0, 200.0][row]
        logits[row] -= logits[row].max()
    together = plackett_luce_marginals(logits, 3)
    for row in range(5):
        alone = plackett_luce_marginals(logits[row : row + 1, : counts[row]], 3)[0]
        np.testing.assert_allclose(together[row, : counts[row]], alone, rtol=1e-13, atol=1e-16)
        assert np.all(together[row, counts[row] :] == 0)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, rtol=1e-13)


def test_plackett_luce_sampling_frequencies(stat_seed):
    """The sampler's slate frequencies match the exact probabilities within 4 standard errors,
    including a tie far below the top that Gumbel-top-k keys would lose (-1e20 + noise is
    -1e20) and near ties."""
    rng = np.random.default_rng(stat_seed)
    for logits in ([0.0, -1e20, -1e20, -1e20], [0.0, -0.5, -1e-13, -2.0, 0.0]):
        logits = np.asarray(logits)
        slates, expected, _ = enumerate_plackett_luce(logits, 3)
        draws = 20_000
        drawn = sample_plackett_luce(np.tile(logits, (draws, 1)), 3, rng)
        frequency = (drawn[:, None, :] == slates[None]).all(axis=2).mean(axis=0)
        spread = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-12
        assert np.all(np.abs(frequency - expected) <= spread), (frequency, expected)


def test_plackett_luce_sampler_never_shows_padding_or_repeats():
    rng = np.random.default_rng(0)
    logits = np.full((500, 6), -np.inf)
    counts = rng.integers(3, 7, size=500)
    for row, count in enumerate(counts):
        logits[row, :count] = rng.normal(size=count) * 50
    slates = sample_plackett_luce(logits, 3, rng)
    assert np.all(slates < counts[:, None])
    assert all(len(set(row)) == 3 for row in slates.tolist())


def test_softmax_logits_subtract_the_maximum_and_refuse_overflow_and_non_finite_scores():
    scores = np.array([[1.0, 3.0, 2.0, 99.0], [5.0, 5.0, 0.0, 0.0]])
    logits = softmax_logits(scores, np.array([3, 2]), 0.5)
    np.testing.assert_array_equal(logits, [[-4.0, 0.0, -2.0, -np.inf], [0, 0, -np.inf, -np.inf]])
    with pytest.raises(InputValueError, match=r"row 1 span 5, .* temperature 1e-308 overflows"):
        softmax_logits(scores, np.array([1, 3]), 1e-308)
    with pytest.raises(InputValueError, match=r"finite scores; row 0, candidate 2 scores nan"):
        softmax_logits(np.array([[0.0, 1.0, np.nan, np.inf]]), np.array([3]), 1.0)
    # non-finite padding is ignored
    softmax_logits(np.array([[0.0, 1.0, np.nan]]), np.array([2]), 1.0)


# --- per-position epsilon-greedy ----------------------------------------------------------


def per_position_cases():
    rng = np.random.default_rng(1)
    cases = []
    for trial in range(60):
        n = int(rng.integers(1, 7))
        scores = rng.integers(0, 3, size=n).astype(float) if trial % 2 else rng.normal(size=n)
        k = int(rng.integers(1, n + 1))
        cases.append((scores, k, [0.0, 0.1, 0.5, 1.0, 0.3][trial % 5], trial % 3 == 0))
    cases.append((np.zeros(6), 4, 0.2, False))  # one group of six ties
    cases.append((np.zeros(6), 4, 0.2, True))
    return cases


@pytest.mark.parametrize(("scores", "k", "epsilon", "strict"), per_position_cases())
def test_per_position_epsilon_greedy_equals_enumeration(scores, k, epsilon, strict):
    """Slate probabilities of every ordered slate and the marginals, with ties broken at
    random or to the lower index, against the process followed step by step (1e-13)."""
    slates, expected, expected_marginals = enumerate_per_position(scores, k, epsilon, strict)
    n = len(scores)
    ranked = rank_scores(np.tile(scores, (len(slates), 1)), np.full(len(slates), n))
    ranked = strict_ranking(ranked) if strict else ranked
    probability = per_position_epsilon_greedy_probability(ranked, slates, epsilon)
    np.testing.assert_allclose(probability, expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(probability.sum(), 1.0, rtol=1e-13)
    one = rank_scores(scores[None], np.array([n]))
    marginals = per_position_epsilon_greedy_marginals(
        strict_ranking(one) if strict else one, k, epsilon
    )[0]
    np.testing.assert_allclose(marginals, expected_marginals, rtol=0, atol=1e-13)


def test_per_position_epsilon_greedy_with_padding_and_many_candidates():
    """Rows of different widths: padding gets 0, each position sums to 1, and epsilon = 0 is
    top-k with random ties."""
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, size=(4, 30)).astype(float)
    counts = np.array([30, 12, 5, 9])
    ranked = rank_scores(scores, counts)
    marginals = per_position_epsilon_greedy_marginals(ranked, 5, 0.25)
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, rtol=1e-13)
    assert np.all(marginals[np.arange(30)[None, :] >= counts[:, None]] == 0)
    greedy = per_position_epsilon_greedy_marginals(ranked, 5, 0.0)
    np.testing.assert_allclose(greedy, tie_marginals(ranked, 5), rtol=0, atol=1e-15)


def test_per_position_epsilon_greedy_sampling_frequencies(stat_seed):
    rng = np.random.default_rng(stat_seed)
    scores = np.array([1.0, 1.0, 0.0, 2.0, 0.0])
    for strict in (False, True):
        slates, expected, _ = enumerate_per_position(scores, 3, 0.3, strict)
        draws = 20_000
        ranked = rank_scores(np.tile(scores, (draws, 1)), np.full(draws, 5))
        ranked = strict_ranking(ranked) if strict else ranked
        drawn = sample_per_position_epsilon_greedy(ranked, 3, 0.3, rng)
        frequency = (drawn[:, None, :] == slates[None]).all(axis=2).mean(axis=0)
        spread = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-12
        assert np.all(np.abs(frequency - expected) <= spread)


@pytest.mark.parametrize(
    ("scores", "k"),
    [([1.0, 1.0, 1.0, 0.0], 2), ([2.0, 1.0, 1.0, 1.0, 0.5], 3), ([0.0, 0.0, 0.0], 3)],
)
def test_tie_probabilities_equal_the_frequency_of_every_ordered_slate(scores, k):
    """Top-k with random tie-breaking: every member of the best tied groups equally likely,
    taken without replacement; enumerated over every ordered slate of the candidates."""
    values = np.asarray([scores])
    n = values.shape[1]
    ranked = rank_scores(values, np.array([n]))
    slates = np.array(list(itertools.permutations(range(n), k)))
    slate_p, position_p = tie_probabilities(
        rank_scores(np.repeat(values, len(slates), axis=0), np.full(len(slates), n)), slates
    )
    assert slate_p.sum() == pytest.approx(1.0)
    # by hand: fill position by position from the best remaining group, uniformly
    for slate, probability in zip(slates, slate_p, strict=True):
        expected, left = 1.0, list(range(n))
        for item in slate:
            best = max(values[0, j] for j in left)
            group = [j for j in left if values[0, j] == best]
            expected *= (item in group) / len(group)
            left.remove(item)
        assert probability == pytest.approx(expected)
    marginals = tie_marginals(ranked, k)[0]
    for position in range(k):  # the position probabilities agree with the marginals
        np.testing.assert_allclose(
            position_p[:, position], marginals[slates[:, position], position]
        )


@pytest.mark.parametrize("max_candidates", [1, 7, 100, 512, 1000, 1500])
def test_uniform_slates_are_the_argsort_of_the_same_uniforms(max_candidates):
    """The int64-key sort gives what np.argsort of the uniforms (inf past the count) gives
    (1000: keys of 10 column bits, where the padding key once overflowed to the front)."""
    counts = np.random.default_rng(1).integers(1, max_candidates + 1, 300)
    k = 1
    slates = sample_uniform_slates(counts, k, max_candidates, np.random.default_rng(5))
    uniforms = np.random.default_rng(5).random((300, max_candidates))
    uniforms[np.arange(max_candidates) >= counts[:, None]] = np.inf
    np.testing.assert_array_equal(slates, np.argsort(uniforms, axis=1)[:, :k])
    full = np.full(300, max_candidates)
    slates = sample_uniform_slates(full, max_candidates, max_candidates, np.random.default_rng(6))
    expected = np.argsort(np.random.default_rng(6).random((300, max_candidates)), axis=1)
    np.testing.assert_array_equal(slates, expected)
    assert slates.dtype == np.int64 and slates.flags.c_contiguous
