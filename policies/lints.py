"""Linear Thompson sampling (Agrawal and Goyal 2013) over a joint, disjoint or hybrid linear
model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from bandits.models import LINEAR_MODELS, CandidateModel, check_ridge, make_candidate_model
from bandits.observation import SlateObservation
from bandits.slates import rank_scores, top_k_with_ties
from bandits.validation import check_real
from policies.base import MAX_EXPLORATION, MonteCarloPolicy
from policies.offpolicy import WeightedModelLearner


class LinTS(WeightedModelLearner, MonteCarloPolicy):
    """Per request, draws ``theta ~ N(theta_hat, v^2 A^-1)`` from the ridge model's posterior
    and shows the top-k candidates by ``theta . x`` (ties, rare, at random).

    For the joint model the draw is ``theta_hat + v L^-T z`` through the Cholesky factor
    ``A = L L^T``, so a seed gives the same choices on any BLAS; for the disjoint model items'
    posteriors are independent and each candidate's score is drawn from its own
    ``N(mean, v^2 width^2)``; for the hybrid model the shared part is drawn through its
    Cholesky factor and each item's own part given it. Its probabilities have no closed form:
    they are estimated from ``probability_draws`` posterior draws per request (see
    :class:`~policies.base.MonteCarloPolicy`).

    Parameters
    ----------
    v : float, default 1.0
        Posterior scale (exploration), >= 0; 0 is the greedy ridge policy.
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    model : {"joint", "disjoint", "hybrid"}, default "joint"
        The linear model (see :class:`~policies.linear.LinearPolicy`).
    probability_draws : int, default 1000
        Draws per request behind each probability.
    rng : numpy.random.Generator
        The acting stream.

    Attributes
    ----------
    model_ : JointRidge, DisjointRidge or HybridRidge
    """

    spec_name = "lints"
    param_choices: ClassVar[dict[str, tuple[str, ...]]] = {"model": tuple(LINEAR_MODELS)}

    def __init__(
        self,
        *,
        v: float = 1.0,
        ridge: float = 1.0,
        model: str = "joint",
        probability_draws: int = 1000,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(probability_draws=probability_draws, rng=rng)
        owner = type(self).__name__
        self.v = check_real(v, "v", owner, low=0.0, high=MAX_EXPLORATION)
        self.ridge = check_ridge(ridge, owner)
        self.model_: CandidateModel = make_candidate_model(model, self.ridge, owner)
        self.model = model

    def _draw(
        self, obs: SlateObservation, prepared: None, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act and the probability draws always pass a stream
        scores = self.model_.sample_candidate_scores(obs, self.v, rng)
        return top_k_with_ties(rank_scores(scores, obs.n_candidates), obs.slate_size, rng)

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        self.model_.learn(obs, slates, rewards)
