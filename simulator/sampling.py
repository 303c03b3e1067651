"""Draws of distinct integers per row in time independent of the population: uniform ordered
draws (:func:`sample_distinct`) and the first distinct values of any i.i.d. stream
(:func:`first_distinct`, for popularity-weighted candidates), and the inversion of prefix sums
that draws such a stream's values (:class:`GuideTable`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray


def sample_distinct(
    population: int, n_rows: int, width: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw, per row, ``width`` distinct integers from ``[0, population)`` in random order.

    Every ordered tuple of distinct values is equally likely. With ``population >= 2 *
    width``, rejection: draw with replacement, then redraw the repeats (a draw repeats with
    probability below 1/2), looking again only at rows that had one; each round sorts
    ``width`` keys per row, so the expected cost is O(width log width) per row whatever the
    population. Smaller populations sort ``population < 2 * width`` random keys per row.
    Both procedures treat every value alike, so an ordered tuple is as likely as any
    relabelling of it: uniform.

    Parameters
    ----------
    population : int
        At least ``width``.
    n_rows, width : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n_rows, width)
    """
    if width == 0:
        return np.zeros((n_rows, 0), dtype=np.int64)
    if 2 * width > population:
        keys = rng.random((n_rows, population))
        return np.argsort(keys, axis=1)[:, :width].astype(np.int64)

    def draw(rows: NDArray[np.int64], m: int) -> NDArray[np.int64]:
        return rng.integers(0, population, size=(rows.size, m), dtype=np.int64)

    return _by_rejection(draw, population, n_rows, width)


TABLE_LIMIT = 2**23
"""Largest ``n_rows * population`` for which :func:`_by_rejection` checks redraws against a
table of taken values (one byte each) instead of sorting whole rows again."""

Draw = Callable[[NDArray[np.int64], int], NDArray[np.int64]]
"""``draw(rows, m)``: ``m`` more values (int64 in ``[0, population)``) of the i.i.d. streams
of ``rows`` (int64 row numbers), shape (rows.size, m), from its own generator."""


def _by_rejection(draw: Draw, population: int, n_rows: int, width: int) -> NDArray[np.int64]:
    """Draw with replacement, then redraw repeated entries until each row is distinct.

    An entry is kept if no kept entry of its row holds its value and no earlier redrawn entry
    does; the others are redrawn, in the order (row, value, position), one ``draw`` call per
    round (``draw(rows, 1)``, a row once per entry). So a row's values are the first
    ``width`` distinct ones of its stream read in that order (each round reads as many
    values as the row still misses). Repeats are found by sorting one int64 key per entry,
    ``((2 value + redrawn) width + position)``, which orders a row by value, kept entries
    first, then by position. When ``n_rows * population <= TABLE_LIMIT``, rounds after the
    first look only at the redrawn entries, against a table of the values each row holds
    (:func:`_redraw_with_table`): the same draws, without sorting every row again.
    """
    draws = draw(np.arange(n_rows), width)
    positions = np.arange(width)
    keys = draws * (2 * width)
    keys += width + positions  # every entry is new
    rows = np.arange(n_rows)
    if n_rows * population <= TABLE_LIMIT:
        keys.sort(axis=1)
        # All entries are new: keys of one value lie less than width apart, of two values
        # more than width apart. Differences of the flat keys, each key with the one before
        # it (the first of a row with the previous row's last: not a repeat), so that a
        # repeat's flat index is that of its later key, in one contiguous pass.
        flat = keys.reshape(-1)
        repeats = np.empty(flat.size, dtype=np.bool_)
        np.less(flat[1:] - flat[:-1], width, out=repeats[1:])
        repeats[::width] = False
        hits = np.flatnonzero(repeats)
        if hits.size == 0:
            return draws
        hit_rows = hits // width
        hit_positions = np.take(flat, hits) % width
        fresh = draw(hit_rows, 1).reshape(-1)
        return _redraw_with_table(draws, hit_rows, hit_positions, fresh, population, draw)
    while True:
        keys.sort(axis=1)
        values = keys // (2 * width)
        repeat = values[:, 1:] == values[:, :-1]
        again = repeat.any(axis=1)
        if not again.any():
            return draws
        rows, keys, repeat = rows[again], keys[again], repeat[again]
        hit_rows, hit_columns = np.nonzero(repeat)
        hit_positions = keys[hit_rows, hit_columns + 1] % width
        fresh = draw(rows[hit_rows], 1).reshape(-1)
        draws[rows[hit_rows], hit_positions] = fresh
        redrawn = np.zeros(keys.shape, dtype=np.int64)
        redrawn[hit_rows, hit_positions] = 1
        keys = (2 * draws[rows] + redrawn) * width + positions


def _redraw_with_table(
    draws: NDArray[np.int64],
    rows: NDArray[np.int64],
    positions: NDArray[np.int64],
    fresh: NDArray[np.int64],
    population: int,
    draw: Draw,
) -> NDArray[np.int64]:
    """The rounds of :func:`_by_rejection` after the first, from its first redraw (``fresh``
    for the entries at ``rows``, ``positions``), with a table of the values each row holds.

    A round's redrawn entries are repeats if their row holds the value in a kept entry (the
    table) or in a redrawn entry at an earlier position; in (row, value, position) order, the
    order the sorted keys give them, they are redrawn again by one ``draw`` call.
    """
    n_rows, width = draws.shape
    # The rows' values before the redraw are those of their kept entries (a repeat repeats one).
    taken = np.zeros(n_rows * population, dtype=np.bool_)
    taken[draws + (np.arange(n_rows) * population)[:, None]] = True
    flat = draws.reshape(-1)  # a view: draws is contiguous
    while True:
        flat[rows * width + positions] = fresh
        # One sorted key per entry, (row * population + value) * width + position (below
        # 2**63: n_rows * population <= TABLE_LIMIT, width <= population), decoded after
        # the sort: cheaper than an argsort and three gathers.
        keys = rows * population
        keys += fresh
        keys *= width
        keys += positions
        keys.sort()
        cells = keys // width
        repeat = np.take(taken, cells)
        repeat[1:] |= cells[1:] == cells[:-1]
        taken[cells] = True  # a repeat's value is taken already, or by an earlier entry now
        again = keys[repeat]
        if again.size == 0:
            return draws
        rows, positions = np.divmod(again, width * population)
        positions %= width
        fresh = draw(rows, 1).reshape(-1)


def first_distinct(
    draw: Draw, population: int, n_rows: int, width: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Per row, the first ``width`` distinct values of an i.i.d. stream, in random order.

    The first ``width`` distinct values of an i.i.d. stream with probabilities ``w`` are a
    draw without replacement proportional to ``w`` (successive sampling: each next value
    ``proportional to w`` among those not yet taken). Rows read ``width`` values of their
    stream, then one more for each repeat, round by round, until distinct
    (:func:`_by_rejection`: a table of taken values when ``n_rows * population`` is small,
    else sorted keys); the set is then shuffled with one uniform key per entry, so a row's
    first ``n`` entries are a uniformly random ``n``-subset of it. The expected cost is
    O(width log width) per row when no value holds much of the mass (e.g. ``w`` a mixture
    with a uniform part).

    Parameters
    ----------
    draw : callable
        ``draw(rows, m)``: ``m`` more values (int64 in ``[0, population)``) of the streams of
        ``rows`` (int64 row numbers), shape (rows.size, m); its own generator.
    population : int
        Values are below it (at most ``2**40``).
    n_rows, width : int
        Every stream must have at least ``width`` values of positive probability.
    rng : numpy.random.Generator
        Draws the shuffle.

    Returns
    -------
    ndarray of int64, shape (n_rows, width)
    """
    result = _by_rejection(draw, population, n_rows, width)
    return _take_rows(result, random_permutations(rng, n_rows, width))


def random_permutations(rng: np.random.Generator, n_rows: int, width: int) -> NDArray[np.int64]:
    """Per row, ``np.argsort`` of ``rng.random((n_rows, width))``: a uniformly random
    permutation, from the same uniforms.

    A float64 uniform of numpy's generators is ``j / 2**53`` for an integer ``j``; sorting
    the int64 keys ``j * 2**b + column`` (``2**b >= width``) gives the same order as sorting
    the uniforms (ties, about one row in ``2**54 / width**2``, fall to the lower column) with
    one int64 sort, several times faster than ``np.argsort``. Widths beyond ``2**10`` use
    ``np.argsort``.
    """
    uniforms = rng.random((n_rows, width))
    bits = max(int(width - 1).bit_length(), 1)
    if bits > 10:
        return np.argsort(uniforms, axis=1).astype(np.int64)
    uniforms *= 2.0 ** (53 + bits)  # j 2**bits exactly (a power of two, no overflow)
    keys = uniforms.astype(np.int64)
    keys |= np.arange(width)
    keys.sort(axis=1)
    keys &= (1 << bits) - 1
    return keys


def _take_rows(values: NDArray[np.int64], columns: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.take_along_axis(values, columns, axis=1)`` by one flat take (faster)."""
    n_rows, width = values.shape
    return np.take(values, columns + (np.arange(n_rows) * width)[:, None])


GUIDE_DENSITY = 2
"""Buckets per prefix sum in a :class:`GuideTable`: with two, about four values in five need
no step forward in the popularity-tilted catalogue draw (one: three in four)."""


class GuideTable:
    """``np.searchsorted(cumulative, values, side="right") - 1`` in expected O(1) per value
    whatever the table's size: the index-table (cutpoint) method of Chen and Asau (1974).

    ``cumulative`` is non-decreasing and non-negative, ``cumulative[0] = 0``; a value ``v``
    falls in bucket ``min(int(v * scale), B - 1)`` of ``B = density K`` (``K =
    cumulative.size - 1``, ``scale = B / cumulative[-1]``), each bucket stores the answer
    at the smallest float64 that falls in it (found exactly at build time, so the rounding
    of ``v * scale`` cannot put a value below its bucket's answer), and a value's search
    starts from its bucket's and steps forward while the next prefix sum is at most the
    value. A bucket holds the mass of ``1 / density`` values on average, so most values take
    no step, and the steps are vectorised over the values still moving. The answer is
    exactly ``searchsorted``'s; values at or beyond ``cumulative[-1]`` give ``K``, values
    below 0 are not allowed. Built once, O(density K).

    Parameters
    ----------
    cumulative : ndarray of float64, shape (K + 1,)
    density : int
        Buckets per prefix sum, at least 1.
    """

    def __init__(self, cumulative: NDArray[np.float64], density: int = GUIDE_DENSITY) -> None:
        n_buckets = max((cumulative.size - 1) * density, 1)
        self.scale = n_buckets / cumulative[-1] if cumulative[-1] > 0 else 0.0
        self.last = n_buckets - 1
        # following[i] = cumulative[i + 1]; every value stops at the end.
        self.following = np.append(cumulative[1:], np.inf)
        lowest = np.zeros(n_buckets)
        if self.scale > 0:
            lowest = _lowest_in_buckets(n_buckets, self.scale)
        self.starts = np.searchsorted(cumulative, lowest, side="right") - 1

    def search(self, values: NDArray[np.float64]) -> NDArray[np.int64]:
        """``np.searchsorted(cumulative, values, side="right") - 1`` for 1-d ``values >= 0``."""
        buckets = (values * self.scale).astype(np.int64)
        np.minimum(buckets, self.last, out=buckets)
        found = np.take(self.starts, buckets)
        moving = np.flatnonzero(np.take(self.following, found) <= values)
        while moving.size:
            found[moving] += 1
            moving = moving[np.take(self.following, found[moving]) <= values[moving]]
        return found


def _lowest_in_buckets(n_buckets: int, scale: float) -> NDArray[np.float64]:
    """Per bucket ``j``, the smallest float64 ``v >= 0`` with ``int(v * scale) >= j`` (the
    product rounded as numpy rounds it; it is non-decreasing in ``v``), shape (n_buckets,).

    Starts from ``j / scale``, within a few ulps, and steps one ulp down while the value
    below still reaches bucket ``j``, then up while the value does not.
    """
    bucket = np.arange(n_buckets)
    lowest = bucket / scale
    while True:
        below = np.nextafter(lowest, 0.0)
        down = np.flatnonzero((lowest > 0) & ((below * scale).astype(np.int64) >= bucket))
        if down.size == 0:
            break
        lowest[down] = below[down]
    while True:
        up = np.flatnonzero((lowest * scale).astype(np.int64) < bucket)
        if up.size == 0:
            return lowest
        lowest[up] = np.nextafter(lowest[up], np.inf)


def group_newest_first(
    owners: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Entries grouped by owner, the latest entry of each owner first.

    The same as ``np.lexsort((-np.arange(n), owners))`` then ``np.unique(sorted owners,
    return_index=True, return_counts=True)``, from one sort of distinct int64 keys ``owner *
    n + (n - 1 - position)`` (owners non-negative, ``owners.max() * n`` below ``2**63``; else
    the lexsort) and the group boundaries of the sorted owners.

    Parameters
    ----------
    owners : ndarray of int64, shape (n,)

    Returns
    -------
    order : ndarray of int64, shape (n,)
        Positions, by owner ascending, then position descending.
    touched, start, counts : ndarray of int64, shape (n_owners,)
        Each owner, where its run starts in ``order``, its entries.
    """
    n = owners.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    if int(owners.max()) < np.iinfo(np.int64).max // max(n, 1) - 1:
        keys = owners * n
        keys += np.arange(n - 1, -1, -1)
        keys.sort()
        order = n - 1 - keys % n
    else:
        order = np.lexsort((-np.arange(n), owners))
    grouped = owners[order]
    first = np.empty(n, dtype=np.bool_)
    first[0] = True
    np.not_equal(grouped[1:], grouped[:-1], out=first[1:])
    start = np.flatnonzero(first)
    counts = np.diff(np.append(start, n))
    return order, grouped[start], start, counts
