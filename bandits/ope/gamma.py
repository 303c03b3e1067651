"""The pseudo-inverse estimator's exact weights for any logging policy, from its ``Gamma``
(Swaminathan et al. 2017) built by enumerating the slates it can show.

``Gamma = E_mu[1_s 1_s']`` over the (candidate, position) indicator vectors ``1_s`` of the
logger's slates needs the logger's *pairwise* probabilities of (candidate, position) pairs,
which no log holds (a log carries the shown slate's probability and, at best, the
candidate-position marginals). Given the logging policy itself, every ordered slate of a
row's candidates is asked for its probability, and

    Gamma = sum_s mu(s | x) 1_s 1_s',     w_PI = q_pi' Gamma^+ 1_s

exactly (up to the pseudo-inverse's rounding), whatever the logger.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.policy import Policy
from bandits.slates import count_ordered_slates
from bandits.validation import InputValueError

MAX_ENUMERATED_SLATES = 20_000
"""Most ordered slates a row may have for ``Gamma`` to be enumerated (e.g. 20 candidates and
3 positions: 6,840)."""

PINV_TOLERANCE = 1e-10
"""Relative cut-off of ``Gamma``'s eigenvalues in its pseudo-inverse (``Gamma`` is singular
by construction: each position's indicators sum to 1)."""

ROW_CHUNK_BYTES = 64 * 2**20
"""Rough bound on the memory of one chunk of rows' ``Gamma`` matrices and slate lists."""


@cache
def ordered_slates(n: int, size: int) -> NDArray[np.int64]:
    """Every ordered slate of ``size`` distinct items among ``n``, shape (n!/(n-size)!, size)."""
    slates = np.array(list(itertools.permutations(range(n), size)), dtype=np.int64)
    return slates.reshape(-1, size)


def exact_pseudo_inverse_weights(
    log: LoggedBandit,
    target_marginals: NDArray[np.float64],
    logging_policy: Policy,
    rows: NDArray[np.int64],
) -> NDArray[np.float64]:
    """``q_pi' Gamma^+ 1_s`` for the given rows of ``log``, shape (len(rows),), with
    ``Gamma`` enumerated from ``logging_policy`` over the row's real candidates.

    Refuses a row with more than :data:`MAX_ENUMERATED_SLATES` ordered slates, naming it.
    Costs, per row, one probability per ordered slate and the pseudo-inverse of an
    ``(n K) x (n K)`` matrix (``n`` candidates, ``K`` positions).
    """
    obs, size = log.observation, log.slate_size
    counts = obs.n_candidates[rows]
    sizes = count_ordered_slates(counts, size)
    too_many = sizes > MAX_ENUMERATED_SLATES
    if too_many.any():
        first = int(np.flatnonzero(too_many)[0])
        raise InputValueError(
            f"The pseudo-inverse estimator's exact Gamma enumerates the logger's ordered slates; "
            f"row {int(rows[first])} has {int(counts[first])} candidates and "
            f"{sizes[first]:.0f} ordered slates of {size}, above {MAX_ENUMERATED_SLATES:,}. "
            f"Use iips (it needs no joint probabilities) or drop the logging policy (the "
            f"product-form approximation)."
        )
    weights = np.empty(rows.size)
    for n in np.unique(counts):
        group = np.flatnonzero(counts == n)
        slates = ordered_slates(int(n), size)
        # (slate, pair) indicators: candidate c at position k is pair c * size + k
        pairs = slates * size + np.arange(size)
        dimension = int(n) * size
        per_row = slates.shape[0] * (dimension + size) * 8 + dimension**2 * 8
        chunk = max(1, ROW_CHUNK_BYTES // per_row)
        for start in range(0, group.size, chunk):
            part = group[start : start + chunk]
            weights[part] = _weights(log, target_marginals, logging_policy, rows[part], slates,
                                     pairs, dimension)  # fmt: skip
    return weights


def _weights(
    log: LoggedBandit,
    target_marginals: NDArray[np.float64],
    logging_policy: Policy,
    rows: NDArray[np.int64],
    slates: NDArray[np.int64],
    pairs: NDArray[np.int64],
    dimension: int,
) -> NDArray[np.float64]:
    """The exact weights of rows that all have ``dimension / K`` candidates."""
    size = log.slate_size
    n_slates = slates.shape[0]
    asked = log.observation.take(np.repeat(rows, n_slates))
    probability = np.asarray(
        logging_policy.slate_probability(asked, np.tile(slates, (rows.size, 1))), dtype=np.float64
    ).reshape(rows.size, n_slates)
    indicators = np.zeros((n_slates, dimension))
    indicators[np.arange(n_slates)[:, None], pairs] = 1.0
    gamma = np.einsum("rs,sa,sb->rab", probability, indicators, indicators)
    inverse = np.linalg.pinv(gamma, rtol=PINV_TOLERANCE, hermitian=True)
    n = dimension // size
    q = target_marginals[rows, :n, :].reshape(rows.size, dimension)
    logged = log.slates[rows] * size + np.arange(size)
    # q' Gamma^+ 1_s: the sum over the logged slate's pairs of (q' Gamma^+) at those pairs
    row_vectors = np.einsum("ra,rab->rb", q, inverse)
    return np.take_along_axis(row_vectors, logged, axis=1).sum(axis=1)
