"""Confidence intervals of an estimate from its merged statistics: normal, Poisson bootstrap
(percentile and BCa) and empirical Bernstein.

Which one is valid when:

- ``normal``: ``value +- z * stderr`` with the delta-method standard error. Asymptotic: right
  when the per-row terms have finite variance and n is large enough for the central limit
  theorem, which heavy importance weights (a small effective sample size) delay.
- ``bootstrap-percentile``: quantiles of the estimate over ``B`` Poisson bootstrap replicates
  (Hanley and MacGibbon 2006; Chamandy et al. 2012): replicate ``b`` weighs row ``i`` by
  ``p_bi ~ Poisson(1)`` drawn from a counter-based stream keyed by the row's request id and
  time (:mod:`bandits.ope.rowkeys`), so a replicate is a sum over rows and streams: each
  batch adds ``sum_i p_bi`` and ``sum_i p_bi z_i`` per replicate (memory ``B x n_terms``).
  Asymptotically valid for smooth functions of means; it does not fix heavy weights either.
- ``bootstrap`` (BCa, Efron 1987): the percentile interval with the bias correction
  ``z0 = Phi^-1(share of replicates below the estimate)`` and the acceleration
  ``a = sum U_i^3 / (6 (sum U_i^2)^(3/2))`` from the empirical influence values
  ``U_i = g . (z_i - mean)`` (``g`` the gradient of the value in the terms' means); the sums of
  cubes come from the terms' third centred co-moments, which merge across batches.
  Second-order accurate for smooth functions of means; skewed (weighted) terms are its use.
- ``bernstein``: the empirical Bernstein bound of Maurer and Pontil (2009, Theorem 4) applied
  on each side at ``(1 - confidence) / 2``: for i.i.d. terms in ``[a, b]``,
  ``mean +- (sqrt(2 V ln(4 / alpha) / n) + 7 (b - a) ln(4 / alpha) / (3 (n - 1)))`` with ``V``
  the sample variance, cut to ``[a, b]``. Valid in finite samples for estimators that are a
  mean of one per-row term (IPS, DM, DR, Switch-DR and DRos with a fixed hyperparameter) when
  ``[a, b]`` bounds every possible term. ``[a, b]`` is taken as the smallest and largest term
  any logged row could have had with a slate reward anywhere in the estimator's
  ``reward_range``: a priori exact when the weights and reward-model predictions are bounded
  in advance (a uniform logger, a probability floor, ``clip``), approximate otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from bandits.ope.statistics import BootstrapSums, Moments

INTERVALS = ("normal", "bootstrap", "bootstrap-percentile", "bernstein")
"""Interval methods an estimator takes (``interval=``)."""


def normal_interval(value: float, stderr: float, confidence: float) -> tuple[float, float]:
    """``value +- Phi^-1((1 + confidence) / 2) * stderr``."""
    # special.ndtri is stats.norm.ppf without the distribution machinery (~0.5 ms a call)
    half = float(special.ndtri(0.5 + confidence / 2) * stderr)
    return value - half, value + half


def replicate_values(
    bootstrap: BootstrapSums, value_of: Callable[[NDArray[np.float64]], float]
) -> NDArray[np.float64]:
    """The estimate of each replicate, shape (n_replicates,): ``value_of`` the replicate's
    weighted means (NaN for a replicate that drew no row)."""
    values = np.full(bootstrap.counts.shape[0], np.nan)
    for b, (count, sums) in enumerate(zip(bootstrap.counts, bootstrap.sums, strict=True)):
        if count > 0:
            values[b] = value_of(sums / count)
    return values


def bca_acceleration(
    terms: Moments, third: NDArray[np.float64], gradient: NDArray[np.float64]
) -> float:
    """``sum U^3 / (6 (sum U^2)^1.5)`` with ``U_i = gradient . (z_i - mean)``."""
    squares = float(gradient @ terms.comoment @ gradient)
    cubes = float(np.einsum("abc,a,b,c->", third, gradient, gradient, gradient))
    return cubes / (6.0 * squares**1.5) if squares > 0 else 0.0


def bootstrap_interval(
    value: float,
    replicates: NDArray[np.float64],
    confidence: float,
    acceleration: float | None,
) -> tuple[float, float]:
    """Percentile interval of ``replicates`` (``acceleration`` None) or the BCa interval."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 2 or not np.isfinite(value):
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    levels = np.array([alpha, 1 - alpha])
    if acceleration is not None:
        below = (np.count_nonzero(finite < value) + 0.5 * np.count_nonzero(finite == value)) / (
            finite.size
        )
        if 0 < below < 1:
            z0 = float(stats.norm.ppf(below))
            z = stats.norm.ppf(levels)
            shifted = z0 + (z0 + z) / (1 - acceleration * (z0 + z))
            levels = stats.norm.cdf(shifted)
    low, high = np.quantile(finite, levels)
    return float(low), float(high)


def bernstein_interval(
    mean: float, variance: float, n: int, term_range: tuple[float, float], confidence: float
) -> tuple[float, float]:
    """Maurer and Pontil's empirical Bernstein interval for a mean of terms in ``term_range``."""
    low, high = term_range
    if n < 2:
        return low, high
    log_term = np.log(4.0 / (1 - confidence))
    half = np.sqrt(2 * max(variance, 0.0) * log_term / n) + 7 * (high - low) * log_term / (
        3 * (n - 1)
    )
    return max(mean - float(half), low), min(mean + float(half), high)
