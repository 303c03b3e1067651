"""The shared part of every off-policy estimator: weights, averaging, errors, intervals."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from bandits._checks import as_array, check_real, check_shape
from bandits.logged import LoggedBandit
from bandits.ope.estimate import Estimate
from bandits.policy import Policy

LOW_ESS_FRACTION = 0.01
"""Warn when the effective sample size falls below this fraction of the rows."""

SUPPORT_TOLERANCE = 4.0
"""Warn when the mean weight is more than this many standard errors away from 1."""


@dataclass(frozen=True, eq=False)
class EstimatorInput:
    """What an estimator sees: the log and the target's probability of each logged slate.

    Estimators that need more of the target (its position probabilities, its whole slate
    distribution for a reward model) ask ``target`` for it; it is None when the target was
    given only as probabilities.

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
        """ndarray of float64, shape (n_requests,): pi(slate | x) / mu(slate | x)."""
        return self.target_probability / self.log.decision.slate_probability

    @property
    def rewards(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): the logged slate rewards."""
        return self.log.slate_rewards


class Estimator(ABC):
    """Estimate a target policy's value on a logged table.

    Subclasses write only :meth:`pseudo_outcomes`: per-row terms whose mean is the estimate
    and whose sample standard deviation over sqrt(n) is its standard error (for
    self-normalised estimators the terms are the delta-method influence terms, shifted so that
    their mean is the estimate). Validation, averaging, standard errors, intervals and
    diagnostics live here.
    """

    name: str = "estimator"

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
    def pseudo_outcomes(self, data: EstimatorInput) -> NDArray[np.float64]:
        """Per-row terms, shape (n_requests,), whose mean is the estimate."""

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
            raise ValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        data = EstimatorInput(
            log, target_probabilities(target, log), target if isinstance(target, Policy) else None
        )
        terms = self.pseudo_outcomes(data)
        n = len(terms)
        value = float(terms.mean())
        stderr = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        half_width = float(stats.norm.ppf(0.5 + self.confidence / 2) * stderr)
        return Estimate(
            estimator=self.name,
            value=value,
            stderr=stderr,
            ci_low=value - half_width,
            ci_high=value + half_width,
            confidence=self.confidence,
            n=n,
            **weight_diagnostics(data.weights, log.decision.slate_probability),
        )


def target_probabilities(
    target: Policy | ArrayLike, log: LoggedBandit, batch_size: int = 65_536
) -> NDArray[np.float64]:
    """The target's probability of each logged slate, shape (n_requests,), checked in [0, 1]."""
    if isinstance(target, Policy):
        parts = [
            target.slate_probability(log.observation.take(rows), log.decision.slates[rows])
            for rows in _row_batches(len(log), batch_size)
        ]
        probabilities = np.concatenate(parts) if parts else np.zeros(0)
    else:
        probabilities = target
    probabilities = as_array(probabilities, "target probabilities", np.float64, 1)
    check_shape(probabilities, (len(log),), "target probabilities")
    bad = ~((probabilities >= 0) & (probabilities <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"target probabilities must lie in [0, 1]; row {row} is {probabilities[row].item()!r}."
        )
    return probabilities


def weight_diagnostics(
    weights: NDArray[np.float64], logged_probability: NDArray[np.float64]
) -> dict[str, object]:
    """Effective sample size, largest and mean weight, and warnings about them.

    The mean weight estimates the share of the target's probability that falls on slates the
    logger could choose; it should be 1, and a mean several standard errors below 1 says the
    target chooses slates the logger (almost) never shows, which IPS cannot see.

    Parameters
    ----------
    weights, logged_probability : ndarray of float64, shape (n_requests,)
    """
    n = len(weights)
    total, squares = weights.sum(), np.square(weights).sum()
    ess = float(total**2 / squares) if squares > 0 else 0.0
    max_weight = float(weights.max(initial=0.0))
    mean_weight = float(weights.mean()) if n else float("nan")
    warnings = []
    if n and np.all(logged_probability == 1.0):
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
        spread = weights.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
        if abs(mean_weight - 1.0) > SUPPORT_TOLERANCE * spread + 1e-12:
            warnings.append(
                f"mean importance weight {mean_weight:.3g} is more than {SUPPORT_TOLERANCE:g} "
                f"standard errors from 1: the target puts probability on slates the logger "
                f"rarely or never chose (missing support), so the estimate is biased"
            )
    return {
        "effective_sample_size": ess,
        "max_weight": max_weight,
        "mean_weight": mean_weight,
        "warnings": tuple(warnings),
    }


def _row_batches(n: int, batch_size: int) -> list[NDArray[np.int64]]:
    return [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
