"""LinUCB (Li et al. 2010) with shared parameters over joint (context, item) features."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import check_real
from policies.base import MAX_EXPLORATION
from policies.linear import LinearPolicy


class LinUCB(LinearPolicy):
    """Shows the top-k candidates by upper confidence bound ``theta . x + alpha |x|_{A^-1}``.

    With ``model="joint"`` one ridge model is shared by all items over
    :func:`~bandits.models.interaction_features`, so any candidate, seen or not, gets a
    score; with ``model="disjoint"`` each item id has its own ridge model over the context
    (Li et al. 2010's disjoint LinUCB; unseen items share the prior's score and width); with
    ``model="hybrid"`` both (their Algorithm 2). Exact ties are broken at random from ``rng``.

    Parameters
    ----------
    alpha : float, default 1.0
        Width of the confidence bonus, >= 0 (0 is the greedy ridge policy).
    ridge : float, default 1.0
        L2 penalty of the ridge model, > 0.
    model : {"joint", "disjoint", "hybrid"}, default "joint"
        The linear model (see :class:`~policies.linear.LinearPolicy`).
    rng : numpy.random.Generator, optional
        Breaks exact ties at random (unseen items often tie); without one, ties go to the
        lower index.
    """

    spec_name = "linucb"

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        ridge: float = 1.0,
        model: str = "joint",
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(ridge=ridge, model=model, rng=rng)
        self.alpha = check_real(alpha, "alpha", type(self).__name__, low=0.0, high=MAX_EXPLORATION)

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Upper confidence bound of every candidate, shape (n_requests, max_candidates)."""
        if self.alpha == 0.0:
            return self.predicted_reward(obs)
        return self.upper_bound(obs, self.alpha)
