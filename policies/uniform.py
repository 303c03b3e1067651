"""Uniformly random ordered slates: the logging policy of randomised experiments."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.slates import (
    sample_uniform_slates,
    uniform_candidate_position_probability,
    uniform_position_probability,
    uniform_slate_probability,
)
from bandits.validation import check_generator
from policies.base import BasePolicy


class UniformRandom(BasePolicy):
    """Shows an ordered slate of distinct candidates drawn uniformly at random; never learns.

    Exact probabilities: ``1 / (n! / (n - k)!)`` per slate, ``1 / n`` per candidate and
    position.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    """

    spec_name = "uniform"

    def __init__(self, *, rng: np.random.Generator) -> None:
        self.rng = check_generator(rng, type(self).__name__)

    def _draw(
        self, obs: SlateObservation, prepared: None, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act passes self.rng, set by the constructor
        return sample_uniform_slates(obs.n_candidates, obs.slate_size, obs.max_candidates, rng)

    def _slate_probability(
        self, obs: SlateObservation, prepared: None, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return uniform_slate_probability(obs)

    def _position_probability(
        self, obs: SlateObservation, prepared: None, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return uniform_position_probability(obs)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: None
    ) -> NDArray[np.float64]:
        return uniform_candidate_position_probability(obs)
