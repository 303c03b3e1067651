"""The joint (shared-parameter) linear model of the reward of a shown item, over the joint
(context x item) features: one part that the linear policies (LinUCB, ridge-greedy, linear
Thompson sampling) and, later, DM/DR reward models compose."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from bandits.models.features import (
    interaction_features,
    interaction_quadratic,
    interaction_scores,
    n_interaction_features,
)
from bandits.models.ridge import RidgeRegression
from bandits.observation import SlateObservation


class JointRidge(RidgeRegression):
    """Ridge regression over :func:`~bandits.models.interaction_features`, learned from shown
    slates and asked about every candidate of an observation.

    Every shown position is a training row whose target is that position's reward. Means,
    confidence widths and posterior samples of every candidate use the features'
    outer-product structure and never materialise them per candidate.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty (prior precision), > 0.
    """

    def learn(
        self,
        obs: SlateObservation,
        slates: NDArray[np.int64],
        rewards: NDArray[np.float64],
        *,
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Add the shown items of ``slates`` (n_requests, slate_size) with their rewards,
        each position's squared error weighed by ``weights`` (same shape; default 1)."""
        x = interaction_features(obs, slates)
        x = x.reshape(-1, x.shape[-1])
        y = np.asarray(rewards, dtype=np.float64).ravel()
        if weights is not None:
            root = np.sqrt(np.asarray(weights, dtype=np.float64).ravel())
            x, y = x * root[:, None], y * root
        self.update(x, y)

    def candidate_means(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``theta . x`` of every candidate, shape (n_requests, max_candidates)."""
        self._check_observation(obs)
        theta = self.theta_
        if theta is None:
            return np.zeros(obs.candidate_ids.shape)
        return interaction_scores(obs, theta)

    def candidate_widths(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(x' A^-1 x)`` of every candidate, shape (n_requests, max_candidates)."""
        p = self._check_observation(obs)
        inverse = self.inverse()
        if inverse is None:
            inverse = np.eye(p) / self.ridge
        return np.sqrt(np.maximum(interaction_quadratic(obs, inverse), 0.0))

    def sample_candidate_scores(
        self, obs: SlateObservation, scale: float, rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """Scores of every candidate under one posterior draw per request.

        Each request draws ``theta_i = theta + scale * L^-T z_i`` with ``A = L L^T`` (so
        ``theta_i ~ N(theta, scale^2 A^-1)``) and ``z_i ~ N(0, I)`` from ``rng``; the same
        draws on every BLAS.

        Returns
        -------
        ndarray of float64, shape (n_requests, max_candidates)
        """
        p = self._check_observation(obs)
        z = rng.standard_normal((obs.n_requests, p))
        if self.A_ is None or self.b_ is None:  # the prior: N(0, I / ridge)
            thetas = scale * z / np.sqrt(self.ridge)
        else:
            factor = self._cholesky()
            thetas = self.theta_ + scale * solve_triangular(factor.T, z.T, lower=False).T
        return interaction_scores(obs, thetas)

    def _check_observation(self, obs: SlateObservation) -> int:
        """The joint width of ``obs``, checked against what the model learned from."""
        p = n_interaction_features(obs.n_context_features, obs.n_item_features)
        self.check_n_features(p)
        return p
