"""The direct method."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.model_based import DoublyRobustFamily


class DM(DoublyRobustFamily):
    """DM: the mean over rows of ``sum_k sum_c pi(c at k | x) q(x, c, k)``.

    Assumption: the reward model is right (``q = E[r_k | x, c, k]``); then it needs no logging
    support and has the smallest variance, but any model error is bias that no amount of data
    removes. The logged rewards enter only through the (cross-fitted) model.
    """

    name = "dm"

    def adjusted_weights(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(weights)
