"""Linear models of a shown item's reward that score every candidate of an observation, by name:
the policies' ``model`` parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bandits.models.disjoint import DisjointRidge
from bandits.models.hybrid import HybridRidge
from bandits.models.joint import JointRidge
from bandits.observation import SlateObservation
from bandits.validation import check_choice


class CandidateModel(Protocol):
    """What a linear policy asks of its model (shapes (n_requests, max_candidates))."""

    def learn(
        self,
        obs: SlateObservation,
        slates: NDArray[np.int64],
        rewards: NDArray[np.float64],
        *,
        weights: NDArray[np.float64] | None = None,
    ) -> None: ...

    def candidate_means(self, obs: SlateObservation) -> NDArray[np.float64]: ...

    def candidate_widths(self, obs: SlateObservation) -> NDArray[np.float64]: ...

    def sample_candidate_scores(
        self, obs: SlateObservation, scale: float, rng: np.random.Generator
    ) -> NDArray[np.float64]: ...


LINEAR_MODELS: dict[str, Callable[..., CandidateModel]] = {
    "joint": JointRidge,
    "disjoint": DisjointRidge,
    "hybrid": HybridRidge,
}
"""Model name -> class: ``joint`` shares one ``theta`` over (context x item) features, so
unseen items get scores; ``disjoint`` keeps one model per item id over the context;
``hybrid`` has both parts (Li et al. 2010)."""


def make_candidate_model(model: str, ridge: float, owner: str) -> CandidateModel:
    """The model named ``model`` (a key of :data:`LINEAR_MODELS`) with L2 penalty ``ridge``."""
    name = check_choice(model, LINEAR_MODELS, f"'model' of {owner}")
    return LINEAR_MODELS[name](ridge=ridge)
