"""Doubly robust estimation with optimistic shrinkage (Su, Dimakopoulou, Krishnamurthy and
Dudik 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.ope.slope import GridTuned


class DRos(GridTuned):
    """DRos: the mean of ``DM(x) + w_hat (r - q(x, s))`` with the shrunk weight
    ``w_hat = lambda w / (w^2 + lambda)``, which minimises a bound on the mean squared error
    that assumes the model's error is as large as it can be ("optimistic" shrinkage).

    Assumption: as DR, less a bias of ``E[(w - w_hat)(r - q)]`` that is small where the
    model is good. ``lambda = inf`` is DR, ``lambda = 0`` DM; ``w_hat <= min(w,
    sqrt(lambda) / 2)``. ``shrinkage="auto"`` (the default) chooses ``lambda`` by SLOPE
    (:mod:`bandits.ope.slope`) from ``0, 1, 16, 256, ..., 16^10, inf``.

    Parameters
    ----------
    shrinkage : float >= 0, inf or "auto", default "auto"
    **options
        ``model``, ``ridge``, ``folds`` and the base's options.
    """

    name = "dros"
    parameter = "shrinkage"
    grid = (0.0, *(16.0**j for j in range(11)), float("inf"))

    def __init__(self, *, shrinkage: float | str = "auto", **options: Any) -> None:
        self.shrinkage = shrinkage
        super().__init__(setting=shrinkage, **options)

    def adjust(self, weights: NDArray[np.float64], setting: float) -> NDArray[np.float64]:
        if setting == np.inf:
            return weights
        if setting == 0:
            return np.zeros_like(weights)
        return setting * weights / (weights**2 + setting)
