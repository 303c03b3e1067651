"""Popularity: the smoothed mean reward of each item id, the same for every user."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import check_generator, check_real
from policies.base import GreedyPolicy
from policies.keyed import KeyedValues

MAX_PRIOR_STRENGTH = 1e12
"""Largest prior weight: beyond it no amount of data moves a score."""


class Popularity(GreedyPolicy):
    """Shows the top-k candidates by smoothed click rate (mean reward per showing) of their id.

    ``score(i) = (reward_i + s * mu) / (shows_i + s)``, where ``shows_i`` counts the shown
    positions that held item ``i``, ``reward_i`` sums their rewards (clicks), ``s`` is
    ``prior_strength`` and ``mu`` is the mean reward over every shown position so far (0
    before any update). So an unseen item scores ``mu``, like an average item, and not 0 or 1
    by accident; items the policy has not told apart tie and are ordered at random from
    ``rng``. Rewards are not corrected for the position they were shown at. Needs only the
    candidate ids; ignores context and history. Memory: two numbers per item id shown.

    Parameters
    ----------
    prior_strength : float, default 1.0
        Weight ``s`` of the prior mean, in pseudo-showings, > 0.
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.

    Attributes
    ----------
    counts_ : KeyedValues
        Per item id: shows and reward sum (two columns).
    total_shows_, total_reward_ : float
    """

    spec_name = "popularity"

    def __init__(
        self, *, prior_strength: float = 1.0, rng: np.random.Generator | None = None
    ) -> None:
        owner = type(self).__name__
        self.prior_strength = check_real(
            prior_strength, "prior_strength", owner, low=0.0, low_open=True,
            high=MAX_PRIOR_STRENGTH,
        )  # fmt: skip
        self.rng = None if rng is None else check_generator(rng, owner)
        self.counts_ = KeyedValues(n_columns=2)
        self.total_shows_ = 0.0
        self.total_reward_ = 0.0

    @property
    def prior_mean(self) -> float:
        """``mu``: the mean reward of every shown position so far (0 before any)."""
        return self.total_reward_ / self.total_shows_ if self.total_shows_ else 0.0

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Smoothed click rate of every candidate, shape (n_requests, max_candidates)."""
        counts = self.counts_.get(obs.candidate_ids)
        s = self.prior_strength
        return (counts[..., 1] + s * self.prior_mean) / (counts[..., 0] + s)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        shown = np.take_along_axis(obs.candidate_ids, slates, axis=1).ravel()
        self.counts_.add(shown, np.column_stack([np.ones(shown.size), rewards.ravel()]))
        self.total_shows_ += shown.size
        self.total_reward_ += float(rewards.sum())
