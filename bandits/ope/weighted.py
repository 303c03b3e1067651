"""One pass over a batch for the estimators whose terms are the weighted slate reward ``w r``
(IPS, clipped or not) and the weight ``w`` (SNIPS): weights, their check, the terms, the
terms' co-moments and the weights' diagnostics, in cache-sized blocks of rows.

The general path (:meth:`bandits.ope.base.Estimator.statistics_of`) forms row-sized arrays
of weights, slate rewards and terms and reads each several times; here each block of rows is
read from the log once and everything is computed while it is in cache, into a few
block-sized buffers. The terms are the same numbers, elementwise. Each block's sums and sums
of squares are BLAS dot products (a sum is the dot product with ones: about four times as
fast as numpy's pairwise sum on cached data, and accurate to about 1e-13 relative on a
block); its centred co-moments come from the raw ones unless cancellation would cost more
than two bits (then the block is centred, as the general path centres). The blocks are
combined as batches are (:meth:`Moments.merge`, in one vectorised step), so the moments equal
the general path's up to rounding (tested to 1e-12). The largest weight and whether any
logged probability is 1 are maxima of the bits read as unsigned integers (faster than float
maxima, and in the same order for non-negative floats).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.statistics import EstimatorStatistics, Moments

BLOCK = 1 << 17
"""Rows per block (1 MiB a column: the block's few columns stay in cache while used)."""

ONE_BITS = int(np.array(1.0).view(np.uint64))
"""The bits of 1.0 read as an unsigned integer: a float64 in [+0, 1] has bits at most these,
and among non-negative floats the bits' order is the values' order."""

CANCELLATION = 0.25
"""A block's centred sum of squares is taken from its raw one (one pass fewer) when it is at
least this share of it (at most two bits lost to cancellation); else the block is centred."""


def weighted_reward_statistics(
    log: LoggedBandit,
    chunks: Iterable[tuple[int, NDArray[np.float64]]],
    *,
    clip: float,
    self_normalised: bool,
    weights: NDArray[np.float64] | None,
    max_weight: float,
) -> tuple[EstimatorStatistics, int] | tuple[None, int]:
    """The statistics of terms ``min(w, clip) r`` (and ``w``, ``self_normalised``), with
    ``w = p / mu`` and ``r`` the slate reward, and of the weights ``w`` themselves.

    Parameters
    ----------
    log : LoggedBandit
    chunks : iterable of (int, ndarray of float64, shape (n_chunk,))
        The target's probabilities of the logged slates (checked in [0, 1]) by consecutive
        chunks of rows, each with its first row; used when ``weights`` is None.
    clip : float
        Largest weight in the terms (inf for none).
    self_normalised : bool
        Terms ``(w r, w)`` (SNIPS) rather than ``min(w, clip) r`` (IPS).
    weights : ndarray of float64, shape (n_requests,), optional
        The weights, when already computed (and checked).
    max_weight : float
        The largest weight allowed.

    Returns
    -------
    (EstimatorStatistics, -1), or (None, row)
        None and the first row whose weight is above ``max_weight`` or NaN (the caller
        raises, naming it).
    """
    mu = log.decision.slate_probability
    rewards = log.feedback.rewards  # (n_requests, slate_size)
    width = rewards.shape[1]
    if weights is not None:
        chunks = [(0, weights)]
    m = 2 if self_normalised else 1
    counts: list[int] = []
    tops: list[float] = []
    sums: list[tuple[float, ...]] = []
    comoments: list[tuple[tuple[float, ...], ...]] = []
    weight_sums: list[float] = []
    weight_squares: list[float] = []
    size = min(BLOCK, len(log))
    own = np.empty(size)  # the block's weights, when computed here
    terms = np.empty(size)  # the block's slate rewards, then its terms, then centred
    centred = np.empty(size)  # the block's centred weights
    ones = np.ones(size)  # sums as dot products
    max_bits = int(np.array(max_weight, dtype=np.float64).view(np.uint64))
    deterministic = weights is not None  # whether rows of slate probability 1 may exist
    for first, values in chunks:
        for start in range(0, values.shape[0], BLOCK):
            stop = min(start + BLOCK, values.shape[0])
            k = stop - start
            rows = slice(first + start, first + stop)
            if weights is None:  # the policy is not asked inside: its warnings stay its own
                logged = mu[rows]
                with np.errstate(over="ignore", divide="ignore"):
                    w = np.divide(values[start:stop], logged, out=own[:k])
                # the logged probabilities lie in (0, 1]: one of 1 is a deterministic row
                deterministic |= int(logged.view(np.uint64).max()) >= ONE_BITS
            else:
                w = values[start:stop]
            top_bits = int(w.view(np.uint64).max())  # the largest weight when none is negative
            if top_bits <= max_bits:
                top = float(np.array(top_bits, dtype=np.uint64).view(np.float64))
            else:  # a weight above max_weight, NaN or negative (a sign bit): look closer
                top = w.max()
                if not top <= max_weight:  # NaN fails too
                    bad = ~(np.abs(w) <= max_weight)
                    return None, first + start + int(np.flatnonzero(bad)[0])
            factor = w if clip == np.inf else np.minimum(w, clip, out=centred[:k])
            t = terms[:k]
            if width == 1:
                np.multiply(rewards[rows, 0], factor, out=t)
            elif width:  # the slate reward as sum_last_axis adds it: position by position
                np.add(rewards[rows, 0], rewards[rows, 1], out=t)
                for position in range(2, width):
                    t += rewards[rows, position]
                t *= factor
            else:
                t.fill(0.0)
            weight_sum = float(np.dot(w, ones[:k]))
            term_sum = float(np.dot(t, ones[:k]))
            term_square, weight_square, cross = _comoments(
                t, w, term_sum, weight_sum, self_normalised, centred[:k]
            )
            counts.append(k)
            tops.append(top)
            weight_sums.append(weight_sum)
            weight_squares.append(weight_square)
            if self_normalised:
                sums.append((term_sum, weight_sum))
                comoments.append(((term_square, cross), (cross, weight_square)))
            else:
                sums.append((term_sum,))
                comoments.append(((term_square,),))
    n = np.asarray(counts, dtype=np.float64)
    term_moments = combine(n, np.asarray(sums).reshape(-1, m), np.asarray(comoments))
    if self_normalised:  # the weights are the second term
        weight_moments = Moments(
            term_moments.n,
            term_moments.mean[1:2].copy(),
            term_moments.comoment[1:2, 1:2].copy(),
        )
    else:
        weight_moments = combine(
            n, np.asarray(weight_sums)[:, None], np.asarray(weight_squares)[:, None, None]
        )
    statistics = EstimatorStatistics(
        terms=term_moments,
        weights=weight_moments,
        max_weight=float(max([0.0, *tops])),  # as the general path's max(initial=0)
        n_deterministic=log.decision.n_deterministic if deterministic else 0,
    )
    return statistics, -1


def _comoments(
    t: NDArray[np.float64],
    w: NDArray[np.float64],
    term_sum: float,
    weight_sum: float,
    cross: bool,
    buffer: NDArray[np.float64],
) -> tuple[float, float, float]:
    """A block's centred co-moments of ``t``, of ``w`` and (``cross``) between them.

    From the raw sums of squares, ``sum (x - m)^2 = sum x^2 - k m^2``, when that loses at most
    two bits (the centred part is at least :data:`CANCELLATION` of the raw one); else by
    centring (``t`` is centred in place, ``w`` into ``buffer``), as the general path does.
    """
    k = t.shape[0]
    raw_t, raw_w = float(np.dot(t, t)), float(np.dot(w, w))
    term_square = raw_t - term_sum * term_sum / k
    weight_square = raw_w - weight_sum * weight_sum / k
    if term_square >= CANCELLATION * raw_t and weight_square >= CANCELLATION * raw_w:
        product = float(np.dot(t, w)) - term_sum * weight_sum / k if cross else 0.0
        return term_square, weight_square, product
    c = np.subtract(w, weight_sum / k, out=buffer)
    np.subtract(t, term_sum / k, out=t)
    product = float(np.dot(t, c)) if cross else 0.0
    return float(np.dot(t, t)), float(np.dot(c, c)), product


def combine(
    counts: NDArray[np.float64], sums: NDArray[np.float64], comoments: NDArray[np.float64]
) -> Moments:
    """The moments of blocks together, from each block's count (b,), sums (b, m) and centred
    co-moments (b, m, m): ``mean = sum sums / n`` and ``C = sum C_b + sum n_b d_b d_b'``
    with ``d_b`` the block's mean less the whole mean (what pairwise merges give)."""
    n = int(counts.sum())
    if n == 0:
        m = sums.shape[1]
        return Moments(0, np.zeros(m), np.zeros((m, m)))
    mean = sums.sum(axis=0) / n
    spread = sums / counts[:, None] - mean
    comoment = comoments.sum(axis=0) + np.einsum("b,bi,bj->ij", counts, spread, spread)
    return Moments(n, mean, comoment)
