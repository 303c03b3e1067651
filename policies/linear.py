"""The shared part of linear policies: one ridge model over joint (context, item) features."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from bandits.models import LINEAR_MODELS, CandidateModel, check_ridge, make_candidate_model
from bandits.observation import SlateObservation
from bandits.validation import check_generator
from policies.base import GreedyPolicy
from policies.offpolicy import WeightedModelLearner


class LinearPolicy(WeightedModelLearner, GreedyPolicy):
    """A greedy policy whose scores come from a linear model of a shown item's reward, learned
    from every shown position (off-policy from logs by :meth:`learn_off_policy`: an
    importance-weighted ridge fit, see :mod:`policies.offpolicy`).

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    model : {"joint", "disjoint", "hybrid"}, default "joint"
        ``joint`` (:class:`~bandits.models.JointRidge`): one ``theta`` over (context x item)
        features, so unseen items get a score; ``disjoint``
        (:class:`~bandits.models.DisjointRidge`): one model per item id over the context,
        O(p^2) per shown item, unseen items at the prior; ``hybrid``
        (:class:`~bandits.models.HybridRidge`): both, so unseen items are scored by the
        shared part and seen ones refined by their own.
    rng : numpy.random.Generator, optional
        Breaks exact ties between scores at random (see
        :class:`~policies.base.GreedyPolicy`); without one, ties go to the lower index.

    Attributes
    ----------
    model_ : JointRidge, DisjointRidge or HybridRidge
    """

    param_choices: ClassVar[dict[str, tuple[str, ...]]] = {"model": tuple(LINEAR_MODELS)}

    def __init__(
        self, *, ridge: float = 1.0, model: str = "joint", rng: np.random.Generator | None = None
    ) -> None:
        owner = type(self).__name__
        self.ridge = check_ridge(ridge, owner)
        self.rng = None if rng is None else check_generator(rng, owner)
        self.model_: CandidateModel = make_candidate_model(model, self.ridge, owner)
        self.model = model

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        self.model_.learn(obs, slates, rewards)

    def predicted_reward(self, obs: SlateObservation) -> NDArray[np.float64]:
        """The model's mean reward of every candidate, shape (n_requests, max_candidates)."""
        return self.model_.candidate_means(obs)

    def upper_bound(self, obs: SlateObservation, alpha: float) -> NDArray[np.float64]:
        """``predicted_reward + alpha * confidence_width`` of every candidate, shape
        (n_requests, max_candidates); in one pass where the model offers it
        (``candidate_bounds``, the disjoint model's)."""
        bounds = getattr(self.model_, "candidate_bounds", None)
        if bounds is not None:
            return bounds(obs, alpha)
        return self.predicted_reward(obs) + alpha * self.confidence_width(obs)

    def confidence_width(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(x' A^-1 x)`` of every candidate, shape (n_requests, max_candidates)."""
        return self.model_.candidate_widths(obs)
