"""Inverse propensity scoring over whole slates, optionally with clipped weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import EstimatorInput, LinearEstimator, check_clip, clipped


class IPS(LinearEstimator):
    """Slate IPS: the mean of ``min(w, clip) * r`` with ``w = pi(slate | x) / mu(slate | x)``
    and ``r`` the slate reward (summed over positions).

    Assumption: the logger gives every slate the target may choose a positive probability
    (then unbiased with ``clip=inf``); its variance grows with the weights (the number of
    possible slates). A finite ``clip`` trades variance for a bias of
    ``E[(w - clip)+ r]`` (downward for non-negative rewards).

    Parameters
    ----------
    clip : float > 0, default inf
        Largest weight used.
    **options
        The base's ``confidence``, ``interval``, ``bootstrap_samples``, ``reward_range``,
        ``rng``.
    """

    name = "ips"

    def __init__(self, *, clip: float = math.inf, **options: Any) -> None:
        self.clip = check_clip(clip, type(self).__name__)
        super().__init__(**options)

    def weighted_reward_form(self) -> tuple[float, bool] | None:
        return (self.clip, False) if self.interval == "normal" else None

    def affine_terms(self, data: EstimatorInput) -> tuple[float, NDArray[np.float64]]:
        weights = clipped(data.weights, self.clip)
        return 0.0, weights
