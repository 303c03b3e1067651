"""The shared part of linear policies: one ridge model over joint (context, item) features."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.models import JointRidge, check_ridge
from bandits.observation import SlateObservation
from bandits.validation import check_generator
from policies.base import GreedyPolicy


class LinearPolicy(GreedyPolicy):
    """A greedy policy whose scores come from the joint linear model of a shown item's reward
    (:class:`~bandits.models.JointRidge`: one ``theta`` over the joint features, so unseen
    items get a score, learned from every shown position).

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    rng : numpy.random.Generator, optional
        Breaks exact ties between scores at random (see
        :class:`~policies.base.GreedyPolicy`); without one, ties go to the lower index.

    Attributes
    ----------
    model_ : JointRidge
    """

    def __init__(self, *, ridge: float = 1.0, rng: np.random.Generator | None = None) -> None:
        owner = type(self).__name__
        self.ridge = check_ridge(ridge, owner)
        self.rng = None if rng is None else check_generator(rng, owner)
        self.model_ = JointRidge(ridge=self.ridge)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        self.model_.learn(obs, slates, rewards)

    def predicted_reward(self, obs: SlateObservation) -> NDArray[np.float64]:
        """The model's mean reward of every candidate, shape (n_requests, max_candidates)."""
        return self.model_.candidate_means(obs)

    def confidence_width(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(x' A^-1 x)`` of every candidate, shape (n_requests, max_candidates)."""
        return self.model_.candidate_widths(obs)
