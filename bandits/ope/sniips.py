"""Self-normalised independent IPS."""

from __future__ import annotations

from bandits.ope.iips import IIPS
from bandits.ope.positionwise import SelfNormalisedPositionwise


class SNIIPS(SelfNormalisedPositionwise, IIPS):
    """Self-normalised independent IPS: ``sum_k sum_i w_ik r_ik / sum_i w_ik`` with IIPS's
    position weights ``w_ik = pi(s_ik at k | x) / mu(s_ik at k | x)``.

    Assumption: as :class:`~bandits.ope.iips.IIPS` (rewards per position depend only on that
    position's item), with a bias of order 1/n; each position's term stays within that
    position's logged reward range.
    """

    name = "sniips"
