"""Switch-DR (Wang, Agarwal and Dudik 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.ope.slope import GridTuned


class SwitchDR(GridTuned):
    """Switch-DR: the mean of ``DM(x) + w 1{w <= tau} (r - q(x, s))``: DR where the slate
    weight is at most ``tau``, the model alone where it is larger (obp's form).

    Assumption: DR's where ``w <= tau``; elsewhere the model must be right (bias
    ``E[w 1{w > tau} (r - q)]``). ``tau = inf`` is DR, ``tau = 0`` DM. ``threshold="auto"``
    (the default) chooses ``tau`` by SLOPE (:mod:`bandits.ope.slope`) from
    ``0, 1, 4, 16, ..., 4^10, inf``.

    Parameters
    ----------
    threshold : float >= 0, inf or "auto", default "auto"
    **options
        ``model``, ``ridge``, ``folds`` and the base's options.
    """

    name = "switch-dr"
    parameter = "threshold"
    grid = (0.0, *(4.0**j for j in range(11)), float("inf"))

    def __init__(self, *, threshold: float | str = "auto", **options: Any) -> None:
        self.threshold = threshold
        super().__init__(setting=threshold, **options)

    def adjust(self, weights: NDArray[np.float64], setting: float) -> NDArray[np.float64]:
        return np.where(weights <= setting, weights, 0.0)
