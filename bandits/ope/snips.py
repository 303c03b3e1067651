"""Self-normalised inverse propensity scoring over whole slates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import Estimator, EstimatorInput


class SNIPS(Estimator):
    """SNIPS: sum(w * r) / sum(w), which stays within the range of the logged rewards.

    The value is the ratio of the means of the terms ``w r`` and ``w``; its standard error is
    the delta-method one (gradient ``[1 / mean(w), -V / mean(w)]``), the same as the sample
    deviation of the influence terms ``V + w (r - V) / mean(w)`` over sqrt(n). NaN when every
    weight is 0.
    """

    name = "snips"
    weights_term = 1

    def weighted_reward_form(self) -> tuple[float, bool] | None:
        return (np.inf, True) if self.interval == "normal" else None

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        weights = self.importance_weights(data)
        return np.stack([weights * data.rewards, weights]).T  # columns contiguous

    def value(self, means: NDArray[np.float64]) -> float:
        weighted_reward, weight = means
        return float(weighted_reward / weight) if weight > 0 else float("nan")

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        weighted_reward, weight = means
        return np.array([1.0 / weight, -weighted_reward / weight**2])
