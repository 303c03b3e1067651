"""Sufficient statistics of per-row terms that combine across batches and partitions.

An estimator's value is a smooth function of the means of a few per-row terms (IPS: the mean
of ``w r``; SNIPS: the ratio of the means of ``w r`` and ``w``). Count, mean and centred
co-moments of those terms are enough for the value, its delta-method standard error and the
weight diagnostics, and two sets of them merge exactly (Chan, Golub and LeVeque's pairwise
update), so an estimate over Parquet record batches or Dask partitions equals the in-memory
one up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SMALL_TERMS = 4
"""Up to this many terms, co-moments are dot products of column pairs (else one matmul)."""

CENTRING_BLOCK = 1 << 15
"""Rows centred at once while summing co-moments (256 KiB a term)."""


@dataclass(frozen=True)
class Moments:
    """Count, mean and centred co-moments of a vector observed once per row.

    Attributes
    ----------
    n : int
    mean : ndarray of float64, shape (m,)
    comoment : ndarray of float64, shape (m, m)
        ``sum_i (z_i - mean)(z_i - mean)^T``.
    """

    n: int
    mean: NDArray[np.float64]
    comoment: NDArray[np.float64]

    @classmethod
    def of(cls, rows: NDArray[np.float64]) -> Moments:
        """The moments of ``rows``, shape (n_rows, m).

        Computed on contiguous columns (``rows.T``: a view when ``rows`` has one column or is
        Fortran-ordered, as ``numpy.stack(columns).T`` is; a copy otherwise): the means, then
        the co-moments of the centred columns, centred block by block into one small buffer
        (no array as large as the rows is allocated, and the buffer stays in cache).
        """
        n, m = rows.shape
        if n == 0:
            return cls(0, np.zeros(m), np.zeros((m, m)))
        columns = np.ascontiguousarray(rows.T)
        mean = columns.mean(axis=1)
        comoment = np.zeros((m, m))
        buffer = np.empty((m, min(n, CENTRING_BLOCK)))
        for start in range(0, n, CENTRING_BLOCK):
            centred = buffer[:, : min(n - start, CENTRING_BLOCK)]
            np.subtract(columns[:, start : start + CENTRING_BLOCK], mean[:, None], out=centred)
            if m > SMALL_TERMS:
                comoment += centred @ centred.T
                continue
            for a in range(m):  # a few dot products beat a thin matrix product
                for b in range(a, m):
                    comoment[a, b] += np.dot(centred[a], centred[b])
        upper = np.triu_indices(m, 1)
        comoment[upper[1], upper[0]] = comoment[upper]
        return cls(n, mean, comoment)

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of rows together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        comoment = self.comoment + other.comoment + np.outer(delta, delta) * (self.n * other.n / n)
        return Moments(n, mean, comoment)

    @property
    def covariance(self) -> NDArray[np.float64]:
        """Sample covariance (ddof 1), shape (m, m); NaN for fewer than two rows."""
        if self.n < 2:
            return np.full_like(self.comoment, np.nan)
        return self.comoment / (self.n - 1)

    @property
    def sum_of_squares(self) -> NDArray[np.float64]:
        """``sum_i z_i z_i^T``, shape (m, m)."""
        return self.comoment + self.n * np.outer(self.mean, self.mean)


def third_comoment(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sum_i c_i (x) c_i (x) c_i`` of the centred ``rows`` (n_rows, m), shape (m, m, m)."""
    centred = rows - rows.mean(axis=0) if rows.shape[0] else rows
    return np.einsum("ia,ib,ic->abc", centred, centred, centred)


def merge_third(
    left: Moments, right: Moments, third_left: NDArray[np.float64], third_right: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The third centred co-moment of two sets of rows together, from each set's moments
    (the multivariate form of Pebay's 2008 update)."""
    if right.n == 0:
        return third_left
    if left.n == 0:
        return third_right
    n = left.n + right.n
    delta = right.mean - left.mean
    cross = left.n * right.comoment - right.n * left.comoment
    spread = (
        np.einsum("a,bc->abc", delta, cross)
        + np.einsum("b,ac->abc", delta, cross)
        + np.einsum("c,ab->abc", delta, cross)
    )
    cube = np.einsum("a,b,c->abc", delta, delta, delta)
    return (
        third_left
        + third_right
        + cube * (left.n * right.n * (left.n - right.n) / n**2)
        + spread / n
    )


@dataclass(frozen=True)
class BootstrapSums:
    """Per-replicate sums of a Poisson bootstrap: replicate ``b`` weighs row ``i`` by
    ``p_bi ~ Poisson(1)``; sums add across batches.

    Attributes
    ----------
    counts : ndarray of float64, shape (n_replicates,)
        ``sum_i p_bi``.
    sums : ndarray of float64, shape (n_replicates, m)
        ``sum_i p_bi z_i`` of the per-row terms ``z_i``.
    """

    counts: NDArray[np.float64]
    sums: NDArray[np.float64]

    def merge(self, other: BootstrapSums) -> BootstrapSums:
        return BootstrapSums(self.counts + other.counts, self.sums + other.sums)


@dataclass(frozen=True)
class EstimatorStatistics:
    """What one estimator keeps of a batch of rows for one target.

    Attributes
    ----------
    terms : Moments
        Of the estimator's per-row terms.
    weights : Moments
        Of the importance weights (one column), for the diagnostics.
    max_weight : float
    n_deterministic : int
        Rows whose logged slate probability is 1.
    third : ndarray of float64, shape (m, m, m), optional
        Third centred co-moment of the terms (BCa bootstrap intervals).
    bootstrap : BootstrapSums, optional
    term_range : tuple of float, optional
        Smallest and largest value any row's term could take with a reward anywhere in the
        estimator's ``reward_range`` (empirical Bernstein intervals).
    unsupported : Moments, optional
        Of each row's target mass on (candidate, position) pairs the logger never shows.
    """

    terms: Moments
    weights: Moments
    max_weight: float
    n_deterministic: int
    third: NDArray[np.float64] | None = None
    bootstrap: BootstrapSums | None = None
    term_range: tuple[float, float] | None = None
    unsupported: Moments | None = None

    def merge(self, other: EstimatorStatistics) -> EstimatorStatistics:
        """The statistics of both batches together."""
        third = None
        if self.third is not None and other.third is not None:
            third = merge_third(self.terms, other.terms, self.third, other.third)
        bootstrap = None
        if self.bootstrap is not None and other.bootstrap is not None:
            bootstrap = self.bootstrap.merge(other.bootstrap)
        term_range = None
        if self.term_range is not None and other.term_range is not None:
            term_range = (
                min(self.term_range[0], other.term_range[0]),
                max(self.term_range[1], other.term_range[1]),
            )
        unsupported = None
        if self.unsupported is not None and other.unsupported is not None:
            unsupported = self.unsupported.merge(other.unsupported)
        return EstimatorStatistics(
            self.terms.merge(other.terms),
            self.weights.merge(other.weights),
            max(self.max_weight, other.max_weight),
            self.n_deterministic + other.n_deterministic,
            third,
            bootstrap,
            term_range,
            unsupported,
        )
