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
        """The moments of ``rows``, shape (n_rows, m)."""
        n = rows.shape[0]
        if n == 0:
            m = rows.shape[1]
            return cls(0, np.zeros(m), np.zeros((m, m)))
        mean = rows.mean(axis=0)
        centred = rows - mean
        return cls(n, mean, centred.T @ centred)

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
    """

    terms: Moments
    weights: Moments
    max_weight: float
    n_deterministic: int

    def merge(self, other: EstimatorStatistics) -> EstimatorStatistics:
        """The statistics of both batches together."""
        return EstimatorStatistics(
            self.terms.merge(other.terms),
            self.weights.merge(other.weights),
            max(self.max_weight, other.max_weight),
            self.n_deterministic + other.n_deterministic,
        )
