"""A linear bandit over content features plus collaborative signals: cold items are scored by
their features, warm ones also by co-occurrence."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import check_real
from policies.base import MAX_EXPLORATION
from policies.content import Content
from policies.cooccurrence import CoOccurrence
from policies.keyed import KeyedValues


class CFHybrid(Content):
    """Shows the top-k candidates by ``theta . x + alpha sqrt(x' A^-1 x)``, LinUCB's upper
    confidence bound over one ridge model, with

    ``x = [content features, co-occurrence score, seen]``:

    - the content features of :class:`~policies.content.Content` (``[item, 1]``, or with
      ``interactions`` the joint context x item features);
    - the item-item score of the candidate, the sum over the request's distinct history items
      ``h`` of ``cosine(candidate, h)`` over co-click counts (as in ``item-item``, without
      shrinkage);
    - 1.0 if the candidate's id was shown by this policy before, else 0.0.

    A cold item has co-occurrence 0 and seen 0, so it is scored by its content (and the
    bonus); for a warm item the model also weighs its co-occurrence with the history. The
    features of a shown item are computed as they stood when it was chosen: each update first
    learns the ridge model, then the co-occurrence counts and the seen set. Needs the
    candidates' features and ids and the history (and the context with ``interactions``).
    Memory: the ridge statistics, one count per item and per co-clicked pair, one entry per
    shown item id.

    Parameters
    ----------
    alpha : float, default 1.0
        Width of the confidence bonus, >= 0 (0 is greedy).
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    interactions : bool, default False
        Also use the products of the context and the item features.
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.

    Attributes
    ----------
    model_ : RidgeRegression
    cooccurrence_ : CoOccurrence
    shown_ : KeyedValues
        Times each item id was shown.
    """

    spec_name = "cf-hybrid"

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        interactions: bool = False,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(ridge=ridge, interactions=interactions, rng=rng)
        self.alpha = check_real(alpha, "alpha", type(self).__name__, low=0.0, high=MAX_EXPLORATION)
        self.cooccurrence_ = CoOccurrence()
        self.shown_ = KeyedValues()

    def features(
        self, obs: SlateObservation, slates: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """The content features with the co-occurrence score and the seen indicator appended,
        shape (n_requests, max_candidates or slate_size, n_content_features + 2)."""
        ids = obs.candidate_ids
        if slates is not None:
            ids = np.take_along_axis(ids, slates, axis=1)
        collaborative = np.stack(
            [self.cooccurrence_.history_scores(obs, ids), self.shown_.contains(ids)], axis=2
        )
        return np.concatenate([super().features(obs, slates), collaborative], axis=2)

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Upper confidence bound of every candidate, shape (n_requests, max_candidates)."""
        x = self.features(obs)
        mean = self.model_.predict(x)
        if self.alpha == 0.0:
            return mean
        return mean + self.alpha * self.model_.width(x)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        super()._learn(obs, slates, rewards)
        self.cooccurrence_.learn(obs, slates, rewards)
        shown = np.take_along_axis(obs.candidate_ids, slates, axis=1).ravel()
        self.shown_.add(shown, np.ones((shown.size, 1)))
