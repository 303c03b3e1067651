"""The shared part of linear policies: one ridge model over joint (context, item) features."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.models import (
    RidgeRegression,
    interaction_features,
    interaction_quadratic,
    interaction_scores,
    n_interaction_features,
)
from bandits.observation import SlateObservation
from bandits.validation import check_generator, check_real
from policies.base import GreedyPolicy


class LinearPolicy(GreedyPolicy):
    """A greedy policy whose scores come from a ridge model of the reward of a shown item.

    This is the joint (shared-parameter) model: one ``theta`` over
    :func:`~bandits.models.interaction_features`, so unseen items get a score. Every shown
    position is a training row whose target is that position's reward. Scores and widths use
    the features' outer-product structure and never materialise them per candidate.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    rng : numpy.random.Generator, optional
        Breaks exact ties between scores at random (see
        :class:`~policies.base.GreedyPolicy`); without one, ties go to the lower index.

    Attributes
    ----------
    model_ : RidgeRegression
    """

    def __init__(self, *, ridge: float = 1.0, rng: np.random.Generator | None = None) -> None:
        owner = type(self).__name__
        self.ridge = check_real(ridge, "ridge", owner, low=0.0, low_open=True)
        self.rng = None if rng is None else check_generator(rng, owner)
        self.model_ = RidgeRegression(ridge=self.ridge)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        x = interaction_features(obs, slates)
        self.model_.update(x.reshape(-1, x.shape[-1]), rewards.ravel())

    def predicted_reward(self, obs: SlateObservation) -> NDArray[np.float64]:
        """The model's mean reward of every candidate, shape (n_requests, max_candidates)."""
        self._check_widths(obs)
        theta = self.model_.theta_
        if theta is None:
            return np.zeros(obs.candidate_ids.shape)
        return interaction_scores(obs, theta)

    def confidence_width(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(x' A^-1 x)`` of every candidate, shape (n_requests, max_candidates)."""
        self._check_widths(obs)
        inverse = self.model_.inverse()
        if inverse is None:
            p = n_interaction_features(obs.n_context_features, obs.n_item_features)
            inverse = np.eye(p) / self.ridge
        return np.sqrt(np.maximum(interaction_quadratic(obs, inverse), 0.0))

    def _check_widths(self, obs: SlateObservation) -> None:
        """The model's error when the observation's feature widths changed since it learned."""
        self.model_.check_n_features(
            n_interaction_features(obs.n_context_features, obs.n_item_features)
        )
