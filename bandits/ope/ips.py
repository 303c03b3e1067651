"""Inverse propensity scoring over whole slates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import Estimator, EstimatorInput


class IPS(Estimator):
    """Slate IPS: the mean of w * r with w = pi(slate | x) / mu(slate | x).

    Unbiased when the logging policy gives every slate the target may choose a positive
    probability; its variance grows with the weights (the number of possible slates).
    """

    name = "ips"

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        return data.weights * data.rewards
