"""The shared part of every off-policy estimator: weights, statistics, errors, intervals."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from bandits.logged import LoggedBandit
from bandits.ope.estimate import Estimate
from bandits.ope.statistics import EstimatorStatistics, Moments
from bandits.policy import Policy
from bandits.validation import InputValueError, as_array, check_real, check_shape

LOW_ESS_FRACTION = 0.01
"""Warn when the effective sample size falls below this fraction of the rows."""

MAX_WEIGHT = 1e100
"""Largest importance weight an estimate accepts (its square must stay far inside float64)."""

SUPPORT_TOLERANCE = 4.0
"""Warn when the mean weight is more than this many standard errors away from 1."""


@dataclass(frozen=True, eq=False)
class EstimatorInput:
    """What an estimator sees of one batch: the log and the target's probability of each
    logged slate.

    Estimators that need more of the target (its position probabilities or candidate-position
    marginals, its whole slate distribution for a reward model) ask ``target`` for it; it is
    None when the target was given only as probabilities.

    Attributes
    ----------
    log : LoggedBandit
    target_probability : ndarray of float64, shape (n_requests,)
    target : Policy or None
    """

    log: LoggedBandit
    target_probability: NDArray[np.float64]
    target: Policy | None = None

    @cached_property
    def weights(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): pi(slate | x) / mu(slate | x).

        Raises when a weight is too large for float64 (a logged probability so small, e.g.
        1e-320, that dividing by it overflows), naming the row.
        """
        logged = self.log.decision.slate_probability
        with np.errstate(over="ignore", divide="ignore"):
            weights = self.target_probability / logged
        too_large = ~(np.abs(weights) <= MAX_WEIGHT)
        if too_large.any():
            row = int(np.flatnonzero(too_large)[0])
            raise InputValueError(
                f"The importance weight of row {row} is too large to estimate with (target "
                f"probability {float(self.target_probability[row]):.6g} / logged slate "
                f"probability {float(logged[row]):.6g}, above {MAX_WEIGHT:.0e}); a logged "
                f"probability this small cannot weigh a row: drop such rows."
            )
        return weights

    @property
    def rewards(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): the logged slate rewards."""
        return self.log.slate_rewards


class Estimator(ABC):
    """Estimate a target policy's value on a logged table, in memory or batch by batch.

    An estimate is a smooth function ``value(means)`` of the means of a few per-row terms.
    Subclasses write only :meth:`row_terms` (and, for a ratio or another function of several
    means, :meth:`value` and :meth:`gradient`). The base keeps the terms' sufficient statistics
    per batch (:meth:`statistics`), merges batches exactly, and turns them into the value, the
    delta-method standard error ``sqrt(g' S g / n)`` (``S`` the terms' sample covariance, ``g``
    the gradient), a normal interval and the weight diagnostics (:meth:`finalize`).
    """

    name: ClassVar[str] = "estimator"

    def __init__(self, *, confidence: float = 0.95) -> None:
        self.confidence = check_real(
            confidence,
            "confidence",
            type(self).__name__,
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )

    @abstractmethod
    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        """Per-row terms, shape (n_requests, n_terms), whose means the value is a function of."""

    def value(self, means: NDArray[np.float64]) -> float:
        """The estimate from the terms' means, shape (n_terms,) (default: the first mean)."""
        return float(means[0])

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """d value / d means, shape (n_terms,) (default: the first unit vector)."""
        unit = np.zeros(means.shape[0])
        unit[0] = 1.0
        return unit

    def statistics(self, log: LoggedBandit, target: Policy | ArrayLike) -> EstimatorStatistics:
        """The sufficient statistics of one batch (merge batches with ``merge``)."""
        data = EstimatorInput(
            log, target_probabilities(target, log), target if isinstance(target, Policy) else None
        )
        return self.statistics_of(data)

    def statistics_of(self, data: EstimatorInput) -> EstimatorStatistics:
        """The sufficient statistics of one batch whose target probabilities are known."""
        terms = np.asarray(self.row_terms(data), dtype=np.float64)
        if terms.ndim == 1:
            terms = terms[:, None]
        weights = data.weights
        return EstimatorStatistics(
            terms=Moments.of(terms),
            weights=Moments.of(weights[:, None]),
            max_weight=float(weights.max(initial=0.0)),
            n_deterministic=int(np.count_nonzero(data.log.decision.slate_probability == 1.0)),
        )

    def finalize(self, statistics: EstimatorStatistics) -> Estimate:
        """The estimate, standard error, interval and diagnostics from merged statistics."""
        n = statistics.terms.n
        if n == 0:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        means = statistics.terms.mean
        value = self.value(means)
        if n > 1 and np.isfinite(value):
            gradient = self.gradient(means)
            variance = float(gradient @ statistics.terms.covariance @ gradient) / n
            stderr = float(np.sqrt(max(variance, 0.0)))
        else:
            stderr = float("nan")
        half_width = float(stats.norm.ppf(0.5 + self.confidence / 2) * stderr)
        return Estimate(
            estimator=self.name,
            value=value,
            stderr=stderr,
            ci_low=value - half_width,
            ci_high=value + half_width,
            confidence=self.confidence,
            n=n,
            **weight_diagnostics(statistics)._asdict(),
        )

    def estimate(self, log: LoggedBandit, target: Policy | ArrayLike) -> Estimate:
        """Estimate the value of ``target`` on ``log``.

        Parameters
        ----------
        log : LoggedBandit
            Logged slates with the logging policy's slate probabilities.
        target : Policy or array-like of float64, shape (n_requests,)
            A policy (asked for the probability of each logged slate) or those
            probabilities directly.
        """
        if len(log) == 0:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        return self.finalize(self.statistics(log, target))

    def estimate_batches(self, batches: Iterable[LoggedBandit], target: Policy) -> Estimate:
        """Estimate over a stream of tables (e.g. ``bandits.logs.iter_log_batches``) with
        memory flat in the number of rows; equal to :meth:`estimate` on their concatenation."""
        merged: EstimatorStatistics | None = None
        for batch in batches:
            if len(batch):
                part = self.statistics(batch, target)
                merged = part if merged is None else merged.merge(part)
        if merged is None:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        return self.finalize(merged)


def target_probabilities(
    target: Policy | ArrayLike, log: LoggedBandit, *, chunk_bytes: int = 64 * 2**20
) -> NDArray[np.float64]:
    """The target's probability of each logged slate, shape (n_requests,), checked in [0, 1].

    A policy is asked in chunks of rows whose looked-up candidate features take about
    ``chunk_bytes``, so a large in-memory log is not expanded whole.
    """
    given: ArrayLike
    if isinstance(target, Policy):
        obs = log.observation
        chunk = max(1, chunk_bytes // obs.bytes_per_row)
        parts = [
            target.slate_probability(obs.take(rows), log.decision.slates[rows])
            for rows in (
                np.arange(start, min(start + chunk, len(log)))
                for start in range(0, len(log), chunk)
            )
        ]
        given = np.concatenate(parts) if parts else np.zeros(0)
    else:
        given = target
    probabilities = as_array(given, "target probabilities", np.float64, 1)
    check_shape(probabilities, (len(log),), "target probabilities")
    bad = ~((probabilities >= 0) & (probabilities <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputValueError(
            f"target probabilities must lie in [0, 1]; row {row} is {probabilities[row].item()!r}."
        )
    return probabilities


class WeightDiagnostics(NamedTuple):
    """What the importance weights say about an estimate (see :class:`Estimate`)."""

    effective_sample_size: float
    max_weight: float
    mean_weight: float
    warnings: tuple[str, ...]


def weight_diagnostics(statistics: EstimatorStatistics) -> WeightDiagnostics:
    """Effective sample size, largest and mean weight, and warnings about them.

    The mean weight estimates the share of the target's probability that falls on slates the
    logger could choose; it should be 1, and a mean several standard errors below 1 says the
    target chooses slates the logger (almost) never shows, which IPS cannot see.
    """
    weights = statistics.weights
    n = weights.n
    total = float(weights.mean[0]) * n
    squares = float(weights.sum_of_squares[0, 0])
    ess = total**2 / squares if squares > 0 else 0.0
    mean_weight = float(weights.mean[0]) if n else float("nan")
    max_weight = statistics.max_weight
    warnings = []
    if n and statistics.n_deterministic == n:
        warnings.append(
            "the logging policy was deterministic (every logged probability is 1): only "
            "targets that always agree with it can be evaluated on this log"
        )
    if squares == 0:
        warnings.append(
            "every importance weight is 0: the target never chooses a logged slate "
            "(no support), so the estimate says nothing about it"
        )
    else:
        if ess < LOW_ESS_FRACTION * n:
            warnings.append(
                f"effective sample size {ess:.1f} is below {LOW_ESS_FRACTION:.0%} of the {n} "
                f"rows: the estimate rests on a few heavy weights (max {max_weight:.3g})"
            )
        spread = float(np.sqrt(weights.covariance[0, 0] / n)) if n > 1 else 0.0
        if abs(mean_weight - 1.0) > SUPPORT_TOLERANCE * spread + 1e-12:
            warnings.append(
                f"mean importance weight {mean_weight:.3g} is more than {SUPPORT_TOLERANCE:g} "
                f"standard errors from 1: the target puts probability on slates the logger "
                f"rarely or never chose (missing support), so the estimate is biased"
            )
    return WeightDiagnostics(ess, max_weight, mean_weight, tuple(warnings))
