"""sample_distinct: distinct values in range, every ordered tuple equally likely, both paths;
the guide table's search equals searchsorted."""

import itertools

import numpy as np
import pytest

from simulator import sampling
from simulator.sampling import (
    GuideTable,
    _lowest_in_buckets,
    group_newest_first,
    random_permutations,
    sample_distinct,
)


@pytest.mark.parametrize(("population", "width"), [(5, 3), (1_000_000, 50), (40, 20), (7, 7)])
def test_rows_are_distinct_and_in_range(population, width):
    draws = sample_distinct(population, 300, width, np.random.default_rng(0))
    assert draws.shape == (300, width) and draws.dtype == np.int64
    assert draws.min() >= 0 and draws.max() < population
    assert all(len(set(row)) == width for row in draws.tolist())


@pytest.mark.parametrize("population", [4, 9], ids=["sorting", "rejection"])
def test_every_ordered_tuple_is_equally_likely(population):
    """Counts of each ordered pair within 4 standard errors of n / (N (N - 1))."""
    n = 60_000
    draws = sample_distinct(population, n, 2, np.random.default_rng(1))
    counts = np.zeros((population, population))
    np.add.at(counts, (draws[:, 0], draws[:, 1]), 1)
    p = 1 / (population * (population - 1))
    off_diagonal = ~np.eye(population, dtype=bool)
    assert np.all(counts[~off_diagonal] == 0)
    assert np.all(np.abs(counts[off_diagonal] - n * p) < 4 * np.sqrt(n * p * (1 - p)))


def test_rejection_with_many_repeats_stays_uniform_over_positions():
    """Width 4 of 8: many redraws; each value is equally likely at each position."""
    n = 40_000
    draws = sample_distinct(8, n, 4, np.random.default_rng(2))
    for position in range(4):
        counts = np.bincount(draws[:, position], minlength=8)
        assert np.all(np.abs(counts - n / 8) < 4 * np.sqrt(n * (1 / 8) * (7 / 8)))
    pairs = {tuple(pair) for pair in draws[:, :2].tolist()}
    assert pairs == set(itertools.permutations(range(8), 2))


def test_same_generator_state_same_draws():
    first = sample_distinct(1000, 50, 30, np.random.default_rng(5))
    second = sample_distinct(1000, 50, 30, np.random.default_rng(5))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(("population", "width"), [(300, 100), (60, 30), (50, 1)])
def test_the_table_of_taken_values_gives_the_draws_of_sorting(population, width, monkeypatch):
    """Redraw rounds checked against a table (small populations) give the draws of sorting
    every round, and leave the generator in the same state."""
    fast_rng, slow_rng = np.random.default_rng(3), np.random.default_rng(3)
    fast = sample_distinct(population, 200, width, fast_rng)
    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    slow = sample_distinct(population, 200, width, slow_rng)
    np.testing.assert_array_equal(fast, slow)
    assert fast_rng.bit_generator.state == slow_rng.bit_generator.state


@pytest.mark.parametrize("width", [1, 7, 100, 1024, 1500])
def test_random_permutations_are_the_argsort_of_the_same_uniforms(width):
    fast = random_permutations(np.random.default_rng(8), 50, width)
    slow = np.argsort(np.random.default_rng(8).random((50, width)), axis=1)
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("high", [1, 5, 2**40, 2**62])
def test_grouping_newest_first_equals_lexsort_and_unique(high):
    """Owners beyond the int64 key range (2**62) take the lexsort path; the answer is the same."""
    owners = np.random.default_rng(3).integers(0, high, 500) if high > 1 else np.zeros(500, int)
    owners[:50] = owners[50:100]  # repeated owners even in a wide range
    order, touched, start, counts = group_newest_first(owners)
    expected = np.lexsort((-np.arange(owners.size), owners))
    np.testing.assert_array_equal(order, expected)
    unique = np.unique(owners[expected], return_index=True, return_counts=True)
    for got, want in zip((touched, start, counts), unique, strict=True):
        np.testing.assert_array_equal(got, want)
    assert [a.size for a in group_newest_first(np.zeros(0, dtype=np.int64))] == [0, 0, 0, 0]


@pytest.mark.parametrize("exponent", [0.0, 1.0, 3.0, 40.0])
def test_the_guide_table_finds_what_searchsorted_finds(exponent):
    """Zipf weights in random order (40: most weights underflow to 0, long flat runs of the
    prefix sums), values drawn at random and placed exactly on prefix sums, bucket bounds,
    one ulp either side of them, 0 and past the end."""
    rng = np.random.default_rng(3)
    weights = np.exp(-exponent * np.log1p(rng.permutation(500)))
    cumulative = np.concatenate([[0.0], np.cumsum(weights)])
    table = GuideTable(cumulative)
    edges = np.concatenate([cumulative, np.arange(table.last + 1) / table.scale])
    values = np.concatenate(
        [
            rng.random(20_000) * cumulative[-1],
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, 0.0),
            [0.0, cumulative[-1] * 1.5],
        ]
    )
    expected = np.searchsorted(cumulative, values, side="right") - 1
    np.testing.assert_array_equal(table.search(values), expected)


@pytest.mark.parametrize("density", [1, 2, 5])
def test_the_guide_table_starts_each_bucket_at_its_smallest_value(density):
    """Each bucket's start is the answer at the smallest float64 that lands in it, so no
    value of a bucket (as numpy rounds ``v * scale``) has a smaller answer; the search agrees
    with searchsorted on random values and one ulp around every bucket's lowest value."""
    rng = np.random.default_rng(density)
    cumulative = np.concatenate([[0.0], np.cumsum(rng.lognormal(0.0, 2.0, 300))])
    table = GuideTable(cumulative, density=density)
    assert table.starts.size == 300 * density
    lowest = _lowest_in_buckets(table.starts.size, table.scale)
    buckets = np.arange(lowest.size)
    assert ((lowest * table.scale).astype(np.int64) >= buckets).all()
    below = np.nextafter(lowest[1:], 0.0)
    assert ((below * table.scale).astype(np.int64) < buckets[1:]).all()
    assert lowest[0] == 0.0
    values = np.concatenate(
        [rng.random(5_000) * cumulative[-1], lowest, np.nextafter(lowest, np.inf), below]
    )
    expected = np.searchsorted(cumulative, values, side="right") - 1
    np.testing.assert_array_equal(table.search(values), expected)


def test_no_width_draws_nothing():
    draws = sample_distinct(1000, 5, 0, np.random.default_rng(0))
    assert draws.shape == (5, 0) and draws.dtype == np.int64
