"""Ridge regression kept as sufficient statistics, learned in batches, with confidence widths."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import cho_solve, cholesky

from bandits.validation import (
    InputValueError,
    as_array,
    check_finite,
    check_real,
    check_shape,
)

WOODBURY_REFRESH = 1000
"""Rank-k updates the inverse takes before it is recomputed from the Gram matrix."""

RIDGE_RANGE = (1e-12, 1e12)
"""Allowed L2 penalties: outside it the Gram matrix's inverse over- or underflows."""


def check_ridge(ridge: object, owner: str) -> float:
    """``ridge`` as a float in ``RIDGE_RANGE``, or an error naming ``owner``."""
    return check_real(ridge, "ridge", owner, low=RIDGE_RANGE[0], high=RIDGE_RANGE[1])


class RidgeRegression:
    """Ridge regression as sufficient statistics ``A = ridge * I + sum x x^T``, ``b = sum r x``.

    The number of features is inferred from the first batch. ``theta_ = A^-1 b`` and the
    widths ``sqrt(x^T A^-1 x)`` use ``A^-1``. Once it exists, a batch of m < p / 8 rows updates
    it by the Woodbury identity in O(m p^2) instead of refactoring ``A`` (O(p^3)); it is
    recomputed from ``A`` through a Cholesky factor after larger batches and every
    ``WOODBURY_REFRESH`` rows, so it stays symmetric positive definite. The Cholesky factor
    itself (for posterior draws) is computed lazily when asked for. Before any update the
    model is its prior (``A = ridge * I``, ``b = 0``), so predictions are 0 and widths
    ``|x| / sqrt(ridge)``.

    Parameters
    ----------
    ridge : float, default 1.0
        The L2 penalty (prior precision), > 0.

    Attributes
    ----------
    A_ : ndarray of float64, shape (n_features, n_features) or None
        Regularised Gram matrix; None before the first update.
    b_ : ndarray of float64, shape (n_features,) or None
        Reward-weighted feature sum; None before the first update.
    n_samples_ : int
        Rows learned from.
    """

    def __init__(self, *, ridge: float = 1.0) -> None:
        self.ridge = check_ridge(ridge, type(self).__name__)
        self.A_: NDArray[np.float64] | None = None
        self.b_: NDArray[np.float64] | None = None
        self.n_samples_ = 0
        self._factor: NDArray[np.float64] | None = None
        self._inverse_cache: NDArray[np.float64] | None = None
        self._since_refresh = 0

    @property
    def n_features_(self) -> int | None:
        """Features per row, or None before the first update."""
        return None if self.b_ is None else int(self.b_.shape[0])

    def update(self, x: ArrayLike, y: ArrayLike) -> None:
        """Add a batch of rows to the statistics.

        Parameters
        ----------
        x : array-like of float64, shape (n_rows, n_features)
        y : array-like of float64, shape (n_rows,)
        """
        x = as_array(x, "'x' passed to RidgeRegression.update", np.float64, 2)
        y = as_array(y, "'y' passed to RidgeRegression.update", np.float64, 1)
        check_shape(y, (x.shape[0],), "'y' passed to RidgeRegression.update")
        check_finite(x, "'x' passed to RidgeRegression.update")
        check_finite(y, "'y' passed to RidgeRegression.update")
        self._check_width(x)
        with np.errstate(over="ignore", invalid="ignore"):
            gram, moment = x.T @ x, x.T @ y
        if not (np.isfinite(gram).all() and np.isfinite(moment).all()):
            raise InputValueError(
                "'x' passed to RidgeRegression.update is too large: its squares leave float64 "
                f"(largest |x| is {float(np.abs(x).max()):.3g}); scale the features down."
            )
        if self.A_ is None or self.b_ is None:
            self.A_ = self.ridge * np.eye(x.shape[1])
            self.b_ = np.zeros(x.shape[1])
        self.A_ += gram
        self.b_ += moment
        self.n_samples_ += x.shape[0]
        self._factor = None
        self._since_refresh += x.shape[0]
        small = 8 * x.shape[0] < x.shape[1] and self._since_refresh < WOODBURY_REFRESH
        if self._inverse_cache is not None and small:
            self._inverse_cache = _woodbury(self._inverse_cache, x)
        else:
            self._inverse_cache = None

    def merge(self, other: RidgeRegression) -> None:
        """Add the rows ``other`` learned (its sums, less its prior) to this model's, as if
        this model had learned them too (partitions of a log learned apart)."""
        if other.A_ is None or other.b_ is None:
            return
        if self.A_ is None or self.b_ is None:
            self.A_ = self.ridge * np.eye(other.b_.shape[0])
            self.b_ = np.zeros(other.b_.shape[0])
        if other.b_.shape != self.b_.shape:
            raise InputValueError(
                f"Cannot merge a ridge model of {other.b_.shape[0]} features into one of "
                f"{self.b_.shape[0]}."
            )
        self.A_ += other.A_ - other.ridge * np.eye(other.b_.shape[0])
        self.b_ += other.b_
        self.n_samples_ += other.n_samples_
        self._factor = None
        self._inverse_cache = None
        self._since_refresh = 0

    @property
    def theta_(self) -> NDArray[np.float64] | None:
        """ndarray of float64, shape (n_features,): ``A^-1 b``; None before the first update."""
        if self.b_ is None:
            return None
        inverse = self.inverse()
        assert inverse is not None
        return inverse @ self.b_

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Predicted rewards ``theta . x``.

        Parameters
        ----------
        x : ndarray of float64, shape (..., n_features)
            E.g. (n_requests, n_candidates, n_features).

        Returns
        -------
        ndarray of float64, shape (...)
        """
        self._check_width(x)
        theta = self.theta_
        return np.zeros(x.shape[:-1]) if theta is None else x @ theta

    def width(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Confidence widths ``sqrt(x^T A^-1 x)``.

        Uses ``A^-1`` from the cached Cholesky factor, so a batch costs one matrix product.

        Parameters
        ----------
        x : ndarray of float64, shape (..., n_features)

        Returns
        -------
        ndarray of float64, shape (...)
        """
        self._check_width(x)
        inverse = self.inverse()
        if inverse is None:
            return np.linalg.norm(x, axis=-1) / np.sqrt(self.ridge)
        rows = x.reshape(-1, x.shape[-1])
        quadratic = np.einsum("nd,nd->n", rows @ inverse, rows)
        return np.sqrt(np.maximum(quadratic, 0.0)).reshape(x.shape[:-1])

    def inverse(self) -> NDArray[np.float64] | None:
        """``A_^-1`` (the posterior covariance up to the noise scale), from the Cholesky
        factor, cached until the next update; None before the first update."""
        if self.A_ is None:
            return None
        if self._inverse_cache is None:
            identity = np.eye(self.A_.shape[0])
            inverse = cho_solve((self._cholesky(), True), identity)
            self._inverse_cache = (inverse + inverse.T) / 2.0
            self._since_refresh = 0
        return self._inverse_cache

    def _cholesky(self) -> NDArray[np.float64]:
        """Lower Cholesky factor of ``A_``, cached until the next update."""
        if self.A_ is None:
            raise RuntimeError("RidgeRegression has no Gram matrix before its first update.")
        if self._factor is None:
            self._factor = cholesky(self.A_, lower=True, check_finite=False)
        return self._factor

    def check_n_features(self, n_features: int) -> None:
        """Raise unless rows of ``n_features`` features fit the fitted model (any do before
        the first update)."""
        if self.n_features_ is not None and n_features != self.n_features_:
            raise InputValueError(
                f"RidgeRegression was fitted on {self.n_features_} features; got rows of "
                f"{n_features}."
            )

    def _check_width(self, x: NDArray[np.float64]) -> None:
        self.check_n_features(x.shape[-1])


def _woodbury(inverse: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(A + x' x)^-1`` from ``A^-1`` (p, p) and rows ``x`` (m, p):
    ``A^-1 - A^-1 x' (I + x A^-1 x')^-1 x A^-1``, O(m p^2 + m^3)."""
    ax = x @ inverse  # (m, p)
    middle = np.eye(x.shape[0]) + ax @ x.T
    updated = inverse - ax.T @ np.linalg.solve(middle, ax)
    return (updated + updated.T) / 2.0
