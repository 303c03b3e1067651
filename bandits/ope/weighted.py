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
maxima, and in the same order for non-negative floats); the latter only when the log's
validation did not find every logged probability below 1
(:attr:`~bandits.decision.SlateDecision.probability_bound`).

A block's target probabilities ``p`` are checked in [0, 1] without a pass over them when its
weights prove it: weights without a sign bit or NaN come from ``p >= 0``, and
``p <= w mu / (1 - 2^-53) <= max(w) B / (1 - 2^-53) < 1`` when ``max(w) <= (1 - 2^-40) / B``
with ``B`` the largest logged probability (found by the log's validation); otherwise the bits
of ``p`` are read (in cache, after the division). The sums of weights, and of terms when the
rewards are known to be non-negative (:attr:`~bandits.feedback.SlateFeedback.known_nonnegative`),
are BLAS sums of absolute values (one array read instead of two), on buffers aligned to 64
bytes (``dasum``'s order of summation depends on where its array starts; results repeat
exactly from run to run only with a fixed alignment).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dasum

from bandits.logged import LoggedBandit
from bandits.ope.statistics import EstimatorStatistics, Moments
from bandits.validation import ONE_BITS, check_unit_interval

BLOCK = 1 << 17
"""Rows per block (1 MiB a column: the block's few columns stay in cache while used)."""

ALIGNMENT = 64
"""Bytes the block buffers are aligned to (a cache line; above any SIMD width)."""

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
    check: bool = False,
) -> tuple[EstimatorStatistics, int] | tuple[None, int]:
    """The statistics of terms ``min(w, clip) r`` (and ``w``, ``self_normalised``), with
    ``w = p / mu`` and ``r`` the slate reward, and of the weights ``w`` themselves.

    Parameters
    ----------
    log : LoggedBandit
    chunks : iterable of (int, ndarray of float64, shape (n_chunk,))
        The target's probabilities of the logged slates by consecutive chunks of rows, each
        with its first row; used when ``weights`` is None.
    clip : float
        Largest weight in the terms (inf for none).
    self_normalised : bool
        Terms ``(w r, w)`` (SNIPS) rather than ``min(w, clip) r`` (IPS).
    weights : ndarray of float64, shape (n_requests,), optional
        The weights, when already computed (and checked).
    max_weight : float
        The largest weight allowed.
    check : bool, default False
        Check the chunks' probabilities in [0, 1] here, block by block while in cache (raises
        naming the row); False when they were checked before.

    Returns
    -------
    (EstimatorStatistics, -1), or (None, row)
        None and the first row whose weight is above ``max_weight`` or NaN (the caller
        raises, naming it).
    """
    decision = log.decision
    mu = decision.slate_probability
    rewards = log.feedback.rewards  # (n_requests, slate_size)
    width = rewards.shape[1]
    if weights is not None:
        chunks, check = [(0, weights)], False
    bound = decision.probability_bound  # of the logged probabilities (NaN: unknown)
    # rows of slate probability 1 are looked for only where the log's validation did not
    # rule them out; given weights leave the count to the decision
    scan = weights is None and not bound < 1.0
    deterministic = weights is not None
    # weights >= 0 whose largest is at most this (bits) prove p in [0, 1] (module notes)
    proof_bits = _bits((1.0 - 2.0**-40) / bound) if check and bound > 0 else -1
    # every term >= 0 when the weights and the rewards are: then its sum is the BLAS |sum|
    nonnegative_terms = log.feedback.known_nonnegative
    blocks: list[tuple[float, ...]] = []  # per block: count, sums, co-moments
    top_bits = 0  # the bits of the largest weight (>= 0) so far
    size = min(BLOCK, len(log))
    own = _aligned(size)  # the block's weights, when computed here
    terms = _aligned(size)  # the block's slate rewards, then its terms, then centred
    centred = np.empty(size)  # the block's centred weights
    ones = None  # sums as dot products with ones, when a term or weight may be negative
    max_bits = _bits(max_weight)
    for first, values in chunks:
        with np.errstate(over="ignore", divide="ignore"):  # the policy is asked outside
            for start in range(0, values.shape[0], BLOCK):
                p = values[start : start + BLOCK]
                k = p.shape[0]
                row = first + start
                if weights is None:
                    logged = mu[row : row + k]
                    w = np.divide(p, logged, out=own[:k])
                    # the logged probabilities lie in (0, 1]: one of 1 is a deterministic row
                    if scan and logged.view(np.uint64).max() >= ONE_BITS:
                        deterministic, scan = True, False
                else:
                    w = p
                bits = int(w.view(np.uint64).max())  # the largest weight when none is negative
                if check and not bits <= proof_bits and p.view(np.uint64).max() > ONE_BITS:
                    check_unit_interval(p, "target probabilities", row)  # p now in cache
                signed = bits > max_bits  # a weight above max_weight, NaN or below 0
                if signed:  # look closer
                    top = w.max()
                    if not top <= max_weight:  # NaN fails too
                        bad = ~(np.abs(w) <= max_weight)
                        return None, row + int(np.flatnonzero(bad)[0])
                    bits = _bits(max(top, 0.0) + 0.0)  # +0.0, not -0.0
                if signed or weights is not None:  # not in our aligned buffer: see _aligned
                    ones = np.ones(size) if ones is None else ones
                    weight_sum = float(np.dot(w, ones[:k]))
                else:  # no weight is negative: the sum of |w|
                    weight_sum = float(dasum(w))
                top_bits = max(top_bits, bits)
                factor = w if clip == np.inf else np.minimum(w, clip, out=centred[:k])
                t = terms[:k]
                if width == 1:
                    np.multiply(rewards[row : row + k, 0], factor, out=t)
                elif width:  # the slate reward as sum_last_axis adds it: position by position
                    np.add(rewards[row : row + k, 0], rewards[row : row + k, 1], out=t)
                    for position in range(2, width):
                        t += rewards[row : row + k, position]
                    t *= factor
                else:
                    t.fill(0.0)
                if nonnegative_terms and not signed:  # every term >= 0: the sum of |t|
                    term_sum = float(dasum(t))
                else:
                    ones = np.ones(size) if ones is None else ones
                    term_sum = float(np.dot(t, ones[:k]))
                blocks.append(
                    (
                        k,
                        term_sum,
                        weight_sum,
                        *_comoments(t, w, term_sum, weight_sum, self_normalised, centred[:k]),
                    )
                )
    table = np.array(blocks, dtype=np.float64).reshape(-1, 6)
    n, sums = table[:, 0], table[:, 1:3]  # per block: count, sums of the terms and weights
    squares, cross = table[:, 3:5], table[:, 5]  # centred: of terms and weights, and across
    # the terms and the weights combined as two terms (their co-moment is kept for SNIPS,
    # whose weights are its second term, and dropped for IPS)
    comoments = np.zeros((len(table), 2, 2))
    comoments[:, 0, 0], comoments[:, 1, 1] = squares[:, 0], squares[:, 1]
    if self_normalised:
        comoments[:, 0, 1] = comoments[:, 1, 0] = cross
    both = combine(n, sums, comoments)
    weight_moments = Moments(both.n, both.mean[1:].copy(), both.comoment[1:, 1:].copy())
    term_moments = (
        both if self_normalised else Moments(both.n, both.mean[:1], both.comoment[:1, :1])
    )
    statistics = EstimatorStatistics(
        terms=term_moments,
        weights=weight_moments,
        max_weight=float(np.array(top_bits, dtype=np.uint64).view(np.float64)),
        n_deterministic=decision.n_deterministic if deterministic else 0,
    )
    return statistics, -1


def _aligned(size: int) -> NDArray[np.float64]:
    """An uninitialised buffer of ``size`` float64 starting on a 64-byte boundary: OpenBLAS's
    ``dasum`` sums in an order that depends on where its array starts (``ddot`` does not),
    so only such buffers (and blocks from their start) give sums that repeat from run to
    run."""
    raw = np.empty(size + ALIGNMENT // 8)
    skip = (-raw.ctypes.data % ALIGNMENT) // 8
    return raw[skip : skip + size]


def _bits(value: float) -> int:
    """The bits of a float64 read as an unsigned integer (for a value >= +0: in the values'
    order)."""
    return int(np.array(value, dtype=np.float64).view(np.uint64))


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
