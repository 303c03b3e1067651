"""Doubly robust estimation (Dudik, Langford and Li 2011), optionally with clipped weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import check_clip, clipped
from bandits.ope.model_based import DoublyRobustFamily


class DR(DoublyRobustFamily):
    """DR: the mean of ``DM(x) + min(w, clip) (r - q(x, s))`` with ``w = pi(s|x) / mu(s|x)``
    on the whole logged slate ``s``, ``q(x, s) = sum_k q(x, s_k, k)``.

    Assumption: the logger supports the target's slates, or the model is right (either
    suffices with ``clip=inf``); with a cross-fitted model its variance is IPS's with the
    reward replaced by the model's residual, so a good model makes it much tighter. A finite
    ``clip`` trades variance for a bias of ``E[(w - clip)+ (r - q)]``.

    Parameters
    ----------
    clip : float > 0, default inf
    **options
        :class:`~bandits.ope.model_based.ModelBasedEstimator`'s ``model``, ``ridge``,
        ``folds`` and the base's options.
    """

    name = "dr"

    def __init__(self, *, clip: float = math.inf, **options: Any) -> None:
        self.clip = check_clip(clip, type(self).__name__)
        super().__init__(**options)

    def adjusted_weights(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        return clipped(weights, self.clip)
