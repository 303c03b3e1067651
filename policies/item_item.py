"""Item-to-item collaborative filtering: candidates similar to what the user clicked."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import check_generator, check_real
from policies.base import GreedyPolicy
from policies.cooccurrence import CoOccurrence

MAX_SHRINKAGE = 1e12
"""Largest shrinkage of a similarity's denominator."""


class ItemItem(GreedyPolicy):
    """Shows the top-k candidates by co-click similarity to the request's history
    ("bought this, also bought").

    ``score(c) = sum over the request's distinct history items h of cosine(c, h)`` with
    ``cosine(c, h) = co(c, h) / (sqrt(n_c n_h) + shrinkage)`` over co-click counts learned
    online from baskets (a request with a click: its clicked items plus its history; see
    :class:`~policies.cooccurrence.CoOccurrence`). Needs the observation's ``history`` and
    candidate ids; a request without history, or candidates never co-clicked with it, score
    0 and tie (ordered at random from ``rng``). Memory: one count per item and per co-clicked
    pair seen.

    Parameters
    ----------
    shrinkage : float, default 0.0
        Added to the cosine's denominator, >= 0: favours pairs seen in many baskets.
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.

    Attributes
    ----------
    cooccurrence_ : CoOccurrence
    """

    spec_name = "item-item"

    def __init__(self, *, shrinkage: float = 0.0, rng: np.random.Generator | None = None) -> None:
        owner = type(self).__name__
        self.shrinkage = check_real(shrinkage, "shrinkage", owner, low=0.0, high=MAX_SHRINKAGE)
        self.rng = None if rng is None else check_generator(rng, owner)
        self.cooccurrence_ = CoOccurrence(shrinkage=self.shrinkage)

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Summed similarity to the history of every candidate, shape (n_requests,
        max_candidates)."""
        return self.cooccurrence_.history_scores(obs)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        self.cooccurrence_.learn(obs, slates, rewards)
