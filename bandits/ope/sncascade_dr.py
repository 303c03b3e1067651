"""Self-normalised cascade doubly robust estimation."""

from __future__ import annotations

from bandits.ope.cascade_dr import CascadeDR
from bandits.ope.positionwise import SelfNormalisedPositionwise


class SNCascadeDR(SelfNormalisedPositionwise, CascadeDR):
    """Self-normalised cascade DR: per position,
    ``sum_i w_i,1:k (r_ik - q_ik) / sum_i w_i,1:k + sum_i w_i,1:k-1 b_ik / sum_i w_i,1:k-1``
    with :class:`~bandits.ope.cascade_dr.CascadeDR`'s weights, residuals and baselines (each
    weight normalised to mean 1, as SNRIPS normalises RIPS's).

    Assumption: as :class:`~bandits.ope.cascade_dr.CascadeDR` (cascade; any model), with a
    bias of order 1/n. Not in the paper: the self-normalised form of its two weighted sums.
    """

    name = "sncascade-dr"
