"""Content-based scoring: a ridge model of the reward over the candidate's item features."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.models import RidgeRegression, check_ridge, interaction_features
from bandits.observation import SlateObservation
from bandits.validation import InputTypeError, check_generator, shown
from policies.base import GreedyPolicy


def check_flag(value: object, name: str, owner: str) -> bool:
    """``value`` if it is a bool (numpy's included), or an error naming ``owner``."""
    if not isinstance(value, bool | np.bool_):
        raise InputTypeError(
            f"The {name!r} parameter of {owner} must be true or false; got {shown(value)} of "
            f"type {type(value).__name__}."
        )
    return bool(value)


class Content(GreedyPolicy):
    """Shows the top-k candidates by a ridge model's predicted reward ``theta . x``.

    ``x = [item, 1]``, the candidate's item features and an intercept, or, with
    ``interactions``, ``[outer(context, item), item, 1]`` (the joint features of
    :func:`~bandits.models.interaction_features`, so the user's context reweights the item
    features; the model is then the same as ``ridge-greedy``'s). The score depends on the
    item's features, never on its id, so an item nobody has seen (a cold item) gets a score.
    Every shown position is a training row whose target is its reward. Needs the candidates'
    features (and the context with ``interactions``). Memory: the ridge statistics,
    n_features^2; features are built per batch, (n_requests x max_candidates x n_features).

    Subclasses add feature columns by overriding :meth:`features`.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    interactions : bool, default False
        Also use the products of the context and the item features.
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.

    Attributes
    ----------
    model_ : RidgeRegression
    """

    spec_name = "content"

    def __init__(
        self,
        *,
        ridge: float = 1.0,
        interactions: bool = False,
        rng: np.random.Generator | None = None,
    ) -> None:
        owner = type(self).__name__
        self.ridge = check_ridge(ridge, owner)
        self.interactions = check_flag(interactions, "interactions", owner)
        self.rng = None if rng is None else check_generator(rng, owner)
        self.model_ = RidgeRegression(ridge=self.ridge)

    def features(
        self, obs: SlateObservation, slates: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """The model's features of every candidate, or of the shown ones.

        Parameters
        ----------
        obs : SlateObservation
        slates : ndarray of int64, shape (n_requests, slate_size), optional

        Returns
        -------
        ndarray of float64, shape (n_requests, max_candidates or slate_size, n_features)
        """
        if self.interactions:
            return interaction_features(obs, slates)
        if slates is None:
            items = obs.candidate_features
        else:
            items = obs.items.features[np.take_along_axis(obs.candidate_rows, slates, axis=1)]
        return np.concatenate([items, np.ones((*items.shape[:2], 1))], axis=2)

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Predicted reward of every candidate, shape (n_requests, max_candidates)."""
        return self.model_.predict(self.features(obs))

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        x = self.features(obs, slates)
        self.model_.update(x.reshape(-1, x.shape[-1]), rewards.ravel())
