"""Greedy slates of a ridge-regression reward model: exploitation only."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from policies.linear import LinearPolicy


class RidgeGreedy(LinearPolicy):
    """Shows the top-k candidates by predicted reward ``theta . x`` of a ridge model.

    The model (joint or disjoint, see :class:`~policies.linear.LinearPolicy`) learns from
    every shown position. Never explores on its own, beyond random tie-breaking (wrap it in
    :class:`~policies.epsilon_greedy.EpsilonGreedy` to explore).

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    model : {"joint", "disjoint", "hybrid"}, default "joint"
        The linear model (see :class:`~policies.linear.LinearPolicy`).
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.
    """

    spec_name = "ridge-greedy"

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Predicted reward of every candidate, shape (n_requests, max_candidates), float64."""
        return self.predicted_reward(obs)
