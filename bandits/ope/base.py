"""The shared part of every off-policy estimator: weights, averaging, errors, intervals."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from bandits._checks import as_array, check_real, check_shape
from bandits.logged import LoggedBandit
from bandits.ope.estimate import Estimate
from bandits.policy import Policy

LOW_ESS_FRACTION = 0.01
"""Warn when the effective sample size falls below this fraction of the rows."""


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
    def pseudo_outcomes(
        self, weights: NDArray[np.float64], rewards: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Per-row terms (n_requests,) from weights and slate rewards, each (n_requests,)."""

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
        probabilities = target_probabilities(target, log)
        weights = probabilities / log.decision.slate_probability
        terms = self.pseudo_outcomes(weights, log.slate_rewards)
        n = len(terms)
        if n == 0:
            raise ValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        value = float(terms.mean())
        stderr = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        half_width = stats.norm.ppf(0.5 + self.confidence / 2) * stderr
        diagnostics = weight_diagnostics(weights)
        return Estimate(
            estimator=self.name,
            value=value,
            stderr=stderr,
            ci_low=value - half_width,
            ci_high=value + half_width,
            confidence=self.confidence,
            n=n,
            **diagnostics,
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


def weight_diagnostics(weights: NDArray[np.float64]) -> dict[str, object]:
    """Effective sample size, largest and mean weight, and warnings about them."""
    n = len(weights)
    total, squares = weights.sum(), np.square(weights).sum()
    ess = float(total**2 / squares) if squares > 0 else 0.0
    max_weight = float(weights.max(initial=0.0))
    mean_weight = float(weights.mean()) if n else float("nan")
    warnings = []
    if squares == 0:
        warnings.append(
            "every importance weight is 0: the target never chooses a logged slate "
            "(no support), so the estimate says nothing about it"
        )
    elif ess < LOW_ESS_FRACTION * n:
        warnings.append(
            f"effective sample size {ess:.1f} is below {LOW_ESS_FRACTION:.0%} of the {n} rows: "
            f"the estimate rests on a few heavy weights (max {max_weight:.3g})"
        )
    return {
        "effective_sample_size": ess,
        "max_weight": max_weight,
        "mean_weight": mean_weight,
        "warnings": tuple(warnings),
    }


def _row_batches(n: int, batch_size: int) -> list[NDArray[np.int64]]:
    return [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
