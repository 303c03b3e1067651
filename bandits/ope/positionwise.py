"""The shared part of the slate estimators that weigh each position's reward on its own
(independent IPS, reward-interaction IPS, cascade DR, adaptive IPS) and their
self-normalised variants.

Such an estimator has one weight per row and position, ``w_ik``, and estimates

    V = mean_i sum_k w_ik r_ik                       (plain)
    V = sum_k mean_i(w_ik r_ik) / mean_i(w_ik)       (self-normalised, per position)

More generally a position's term is a sum of weighted parts, ``sum_j w^j_ik v^j_ik`` (cascade
DR: the prefix weight times the model's residual, plus the shorter prefix's weight times the
model's baseline), and the self-normalised form divides each part's mean by its weight's
mean. Subclasses write :meth:`PositionwiseEstimator.position_weights` and, when a position's
term is not ``w_ik r_ik``, :meth:`PositionwiseEstimator.weighted_parts`. The diagnostics
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
        return data.memo(("position weights", self), lambda: self.position_weights(data))

    def weighted_parts(
        self, data: EstimatorInput
    ) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64]], ...]:
        """The ``(weights, values)`` pairs, each shape (n_requests, slate_size), whose products
        sum to a position's term: ``((w, r),)`` unless the estimator adds a model's terms."""
        return ((self._weights(data), data.log.rewards),)

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        return sum(
            ((weights * values).sum(axis=1) for weights, values in self.weighted_parts(data)),
            start=np.zeros(len(data.log)),
        )

    def importance_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        return self._weights(data).mean(axis=1)

    def unsupported_mass(self, data: EstimatorInput) -> NDArray[np.float64] | None:
        return unsupported_position_mass(data)


class SelfNormalisedPositionwise(PositionwiseEstimator):
    """``sum_k sum_i w_ik r_ik / sum_i w_ik``: each position's weights normalised to mean 1,
    so each position's term stays within that position's logged reward range (with several
    parts, ``sum_j sum_k sum_i w^j_ik v^j_ik / sum_i w^j_ik``).

    The terms are ``[w_i1 r_i1, ..., w_iK r_iK, w_i1, ..., w_iK]`` (each part's products,
    then each part's weights); the value is ``sum a / b`` of their means ``a``, ``b``, with
    gradient ``[1 / b, -a / b^2]`` (delta method). NaN when every weight at some position is 0.
    """

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        parts = self.weighted_parts(data)
        products = [weights * values for weights, values in parts]
        return np.concatenate([*products, *(weights for weights, _ in parts)], axis=1)

    def value(self, means: NDArray[np.float64]) -> float:
        weighted, total = np.split(means, 2)
        if not (total > 0).all():
            return float("nan")
        return float((weighted / total).sum())

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        weighted, total = np.split(means, 2)
        return np.concatenate([1.0 / total, -weighted / total**2])
