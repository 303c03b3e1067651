"""Epsilon-greedy slates: the greedy ridge slate, or with probability epsilon a uniform one."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits._checks import check_generator, check_real
from bandits.observation import SlateObservation, as_observation
from bandits.slates import (
    sample_uniform_slates,
    uniform_position_probability,
    uniform_slate_probability,
)
from policies.base import (
    Observation,
    greedy_position_probability,
    greedy_slate_probability,
)
from policies.linear import LinearPolicy


class EpsilonGreedy(LinearPolicy):
    """Per request: the greedy top-k slate of a ridge scorer with probability ``1 - epsilon``,
    else a uniformly random ordered slate.

    Exact probabilities: ``P(s) = (1 - eps) 1[s = greedy] + eps / (n! / (n - k)!)`` and, at
    position k, ``(1 - eps) 1[s_k = greedy_k] + eps / n``.

    Parameters
    ----------
    epsilon : float, default 0.1
        Exploration probability, in [0, 1].
    ridge : float, default 1.0
        L2 penalty of the ridge scorer, > 0.
    rng : numpy.random.Generator, optional
        Source of randomness; a fresh ``default_rng()`` when None.
    """

    spec_name = "epsilon-greedy"

    def __init__(
        self, *, epsilon: float = 0.1, ridge: float = 1.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(ridge=ridge)
        self.epsilon = check_real(epsilon, "epsilon", type(self).__name__, low=0.0, high=1.0)
        self.rng = check_generator(rng, type(self).__name__)

    def scores(self, obs: Observation) -> NDArray[np.float64]:
        """Predicted reward of every candidate, shape (n_requests, max_candidates), float64."""
        return self._predict(as_observation(obs))[0]

    def _draw(self, obs: SlateObservation, prepared: NDArray[np.int64]) -> NDArray[np.int64]:
        explore = self.rng.random(obs.n_requests) < self.epsilon
        slates = prepared.copy()
        slates[explore] = sample_uniform_slates(
            obs.n_candidates[explore], obs.slate_size, obs.max_candidates, self.rng
        )
        return slates

    def _slate_probability(
        self, obs: SlateObservation, prepared: NDArray[np.int64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        greedy = greedy_slate_probability(prepared, slates)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform_slate_probability(obs)

    def _position_probability(
        self, obs: SlateObservation, prepared: NDArray[np.int64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        greedy = greedy_position_probability(prepared, slates)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform_position_probability(obs)
