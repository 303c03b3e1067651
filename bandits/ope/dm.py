"""The direct method."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import EstimatorInput
from bandits.ope.model_based import DoublyRobustFamily


class DM(DoublyRobustFamily):
    """DM: the mean over rows of ``sum_k sum_c pi(c at k | x) q(x, c, k)``.

    Assumption: the reward model is right (``q = E[r_k | x, c, k]``); then it needs no logging
    support and has the smallest variance, but any model error is bias that no amount of data
    removes. The logged rewards enter only through the (cross-fitted) model.
    """

    name = "dm"
    target_uses = frozenset({"marginals"})

    def adjusted_weights(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(weights)

    def affine_terms(self, data: EstimatorInput) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        direct = self.direct_rewards(data)  # the logged slates' model rewards are not used
        return direct, np.zeros_like(direct)

    def importance_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        """The whole-slate weights where the target gives them (diagnostics only: DM weighs
        no row); 1 for every row of a target given as marginals of longer slates."""
        if data.target_probability is None:
            return np.ones(len(data.log))
        return data.weights
