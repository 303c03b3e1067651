"""Independent IPS (Li et al. 2018): each position's reward weighed by its own item's ratio."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import EstimatorInput
from bandits.ope.positionwise import PositionwiseEstimator, ratios


def independent_weights(data: EstimatorInput) -> NDArray[np.float64]:
    """``pi(s_k at k | x) / mu(s_k at k | x)``, shape (n_requests, slate_size): the target's
    position probabilities of the logged slates over the logged ones."""
    logged = data.log.decision.position_probability
    return ratios(data.target_positions, logged, "independent (position)")


class IIPS(PositionwiseEstimator):
    """Independent IPS: the mean of ``sum_k w_k r_k`` with
    ``w_k = pi(s_k at k | x) / mu(s_k at k | x)`` (obp's ``SlateIndependentIPS``).

    Assumption: the expected reward at position ``k`` depends only on the item at ``k``
    (``E[r_k | x, s] = q(x, s_k, k)``: no interaction between positions, e.g. a
    position-based click model), and the logger shows every (item, position) pair the target
    does. Then it is unbiased, with weights far smaller than the whole-slate weight. Under a
    cascade or any model where a position's reward depends on the items above it, it is
    biased (use ``rips``).

    Uses the logged ``position_probability`` and asks the target for its
    ``position_probability`` of the logged slates.
    """

    name = "iips"
    target_needs = "its position probabilities of the logged slates"
    target_uses = frozenset({"position"})

    def position_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        return independent_weights(data)
