"""The shared part of linear policies: one ridge model over joint (context, item) features."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits._checks import check_real
from bandits.observation import SlateObservation
from policies.base import GreedyPolicy
from policies.features import interaction_features
from policies.linear_model import RidgeRegression


class LinearPolicy(GreedyPolicy):
    """A greedy policy whose scores come from a ridge model of the reward of a shown item.

    This is the joint (shared-parameter) model: one ``theta`` over
    :func:`~policies.features.interaction_features`, so unseen items get a score. Every shown
    position is a training row whose target is that position's reward. Variants with other
    models (disjoint or hybrid LinUCB) override ``_learn`` and ``_predict``.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.

    Attributes
    ----------
    model_ : RidgeRegression
    """

    def __init__(self, *, ridge: float = 1.0) -> None:
        self.ridge = check_real(ridge, "ridge", type(self).__name__, low=0.0, low_open=True)
        self.model_ = RidgeRegression(ridge=self.ridge)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        x = interaction_features(obs, slates)
        self.model_.update(x.reshape(-1, x.shape[-1]), rewards.ravel())

    def _predict(
        self, obs: SlateObservation, *, with_width: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """Predicted reward and (optionally) confidence width, each (n_requests, max_candidates)."""
        x = interaction_features(obs)
        return self.model_.predict(x), self.model_.width(x) if with_width else None
