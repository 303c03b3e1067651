"""Self-normalised doubly robust estimation."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import EstimatorInput
from bandits.ope.model_based import ModelBasedEstimator


class SNDR(ModelBasedEstimator):
    """SNDR: ``mean(DM(x)) + sum w (r - q(x, s)) / sum w``, the DR correction self-normalised
    as SNIPS normalises IPS.

    Assumption: as DR (support or a right model); consistent, with a bias of order 1/n, and
    steadier than DR when weights are heavy. Terms ``[DM, w (r - q), w]``; value
    ``m0 + m1 / m2`` with the delta-method gradient ``[1, 1 / m2, -m1 / m2^2]``. NaN when
    every weight is 0.
    """

    name = "sndr"
    weights_term = 2

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        direct, logged = self.model_terms(data)
        weights = data.weights
        # columns contiguous (Moments.of reads them without a copy)
        return np.stack([direct, weights * (data.rewards - logged), weights]).T

    def value(self, means: NDArray[np.float64]) -> float:
        direct, correction, weight = means
        return float(direct + correction / weight) if weight > 0 else float("nan")

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        _, correction, weight = means
        return np.array([1.0, 1.0 / weight, -correction / weight**2])
