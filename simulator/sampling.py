"""Uniform ordered draws of distinct integers per row, in time independent of the population."""

from __future__ import annotations

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
    if 2 * width > population:
        keys = rng.random((n_rows, population))
        return np.argsort(keys, axis=1)[:, :width].astype(np.int64)
    return _by_rejection(population, n_rows, width, rng)


def _by_rejection(
    population: int, n_rows: int, width: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw with replacement, then redraw repeated entries until each row is distinct.

    An entry is kept if no kept entry of its row holds its value and no earlier redrawn entry
    does; the others are redrawn. Repeats are found by sorting one int64 key per entry,
    ``((2 value + redrawn) width + position)``, which orders a row by value, kept entries
    first, then by position.
    """
    draws = rng.integers(0, population, size=(n_rows, width), dtype=np.int64)
    positions = np.arange(width)
    keys = draws * (2 * width)
    keys += width + positions  # every entry is new
    rows = np.arange(n_rows)
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
        fresh = rng.integers(0, population, size=hit_rows.size, dtype=np.int64)
        draws[rows[hit_rows], hit_positions] = fresh
        redrawn = np.zeros(keys.shape, dtype=np.int64)
        redrawn[hit_rows, hit_positions] = 1
        keys = (2 * draws[rows] + redrawn) * width + positions
