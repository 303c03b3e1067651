"""The shared part of the slate estimators that weigh each position's reward on its own
(independent IPS, reward-interaction IPS) and their self-normalised variants.

Such an estimator has one weight per row and position, ``w_ik``, and estimates

    V = mean_i sum_k w_ik r_ik                       (plain)
    V = sum_k mean_i(w_ik r_ik) / mean_i(w_ik)       (self-normalised, per position)

Subclasses write only :meth:`PositionwiseEstimator.position_weights`. The diagnostics
(effective sample size, max and mean weight) describe the per-row mean of the position
weights, whose expectation under the logger is 1 when it supports the target.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import (
    MAX_WEIGHT,
    Estimator,
    EstimatorInput,
    unsupported_position_mass,
)
from bandits.validation import InputValueError, first_index


def ratios(
    target: NDArray[np.float64], logged: NDArray[np.float64], what: str
) -> NDArray[np.float64]:
    """``target / logged`` elementwise, shape (n_requests, slate_size), refusing a ratio too
    large for float64 by naming its row and position and the two probabilities."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        weights = target / logged
    too_large = ~(np.abs(weights) <= MAX_WEIGHT)
    if too_large.any():
        row, position = first_index(too_large)
        raise InputValueError(
            f"The {what} weight of row {row}, position {position} is too large to estimate "
            f"with (target {float(target[row, position]):.6g} / logger "
            f"{float(logged[row, position]):.6g}, above {MAX_WEIGHT:.0e}); a logged "
            f"probability this small cannot weigh a row: drop such rows."
        )
    return weights


class PositionwiseEstimator(Estimator):
    """``mean_i sum_k w_ik r_ik`` with per-position weights from :meth:`position_weights`.

    Needs the target policy (its probabilities of parts of the logged slates), not only the
    probability of each whole logged slate.
    """

    needs_policy = True

    @abstractmethod
    def position_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        """``w_ik``, shape (n_requests, slate_size)."""

    def _weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        """The position weights, computed once per batch (terms and diagnostics both ask)."""
        return data.memo(("position weights", id(self)), lambda: self.position_weights(data))

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        return (self._weights(data) * data.log.rewards).sum(axis=1)

    def importance_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        return self._weights(data).mean(axis=1)

    def unsupported_mass(self, data: EstimatorInput) -> NDArray[np.float64] | None:
        return unsupported_position_mass(data)


class SelfNormalisedPositionwise(PositionwiseEstimator):
    """``sum_k sum_i w_ik r_ik / sum_i w_ik``: each position's weights normalised to mean 1,
    so each position's term stays within that position's logged reward range.

    The terms are ``[w_i1 r_i1, ..., w_iK r_iK, w_i1, ..., w_iK]``; the value is
    ``sum_k a_k / b_k`` of their means ``a``, ``b``, with gradient ``[1 / b_k, -a_k / b_k^2]``
    (delta method). NaN when every weight at some position is 0.
    """

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        weights = self._weights(data)
        return np.concatenate([weights * data.log.rewards, weights], axis=1)

    def value(self, means: NDArray[np.float64]) -> float:
        weighted, total = np.split(means, 2)
        if not (total > 0).all():
            return float("nan")
        return float((weighted / total).sum())

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        weighted, total = np.split(means, 2)
        return np.concatenate([1.0 / total, -weighted / total**2])
