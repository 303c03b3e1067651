"""Uniformly random ordered slates: the logging policy of randomised experiments."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits._checks import check_generator
from bandits.observation import SlateObservation
from bandits.slates import (
    sample_uniform_slates,
    uniform_position_probability,
    uniform_slate_probability,
)
from policies.base import BasePolicy


class UniformRandom(BasePolicy):
    """Shows an ordered slate of distinct candidates drawn uniformly at random; never learns.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    """

    spec_name = "uniform"

    def __init__(self, *, rng: np.random.Generator) -> None:
        self.rng = check_generator(rng, type(self).__name__)

    def _draw(self, obs: SlateObservation, prepared: None) -> NDArray[np.int64]:
        return sample_uniform_slates(obs.n_candidates, obs.slate_size, obs.max_candidates, self.rng)

    def _slate_probability(
        self, obs: SlateObservation, prepared: None, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return uniform_slate_probability(obs)

    def _position_probability(
        self, obs: SlateObservation, prepared: None, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return uniform_position_probability(obs)
