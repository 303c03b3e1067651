"""Self-normalised inverse propensity scoring over whole slates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import Estimator, EstimatorInput


class SNIPS(Estimator):
    """SNIPS: sum(w * r) / sum(w), which stays within the range of the logged rewards.

    Its standard error is the delta-method one: the per-row terms are
    V + w (r - V) / mean(w), whose mean is V.
    """

    name = "snips"

    def pseudo_outcomes(self, data: EstimatorInput) -> NDArray[np.float64]:
        weights, rewards = data.weights, data.rewards
        mean_weight = weights.mean()
        if mean_weight <= 0:
            return np.full_like(rewards, np.nan)
        value = float((weights * rewards).sum() / weights.sum())
        return value + weights * (rewards - value) / mean_weight
