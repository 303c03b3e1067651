"""Self-normalised reward-interaction IPS."""

from __future__ import annotations

from bandits.ope.positionwise import SelfNormalisedPositionwise
from bandits.ope.rips import RIPS


class SNRIPS(SelfNormalisedPositionwise, RIPS):
    """Self-normalised reward-interaction IPS: ``sum_k sum_i w_ik r_ik / sum_i w_ik`` with
    RIPS's prefix weights ``w_ik = pi(s_i1..s_ik | x) / mu(s_i1..s_ik | x)``.

    Assumption: as :class:`~bandits.ope.rips.RIPS` (cascade: position k's reward depends on
    the items at 1..k), with a bias of order 1/n; each position's term stays within that
    position's logged reward range.
    """

    name = "snrips"
