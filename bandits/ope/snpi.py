"""Self-normalised pseudo-inverse estimator."""

from __future__ import annotations

from bandits.ope.pi import PseudoInverseWeights
from bandits.ope.snips import SNIPS


class SNPI(PseudoInverseWeights, SNIPS):
    """Self-normalised pseudo-inverse: ``sum_i w_PI,i r_i / sum_i w_PI,i`` with the
    pseudo-inverse weights of :func:`~bandits.ope.pi.pseudo_inverse_weights` (whose mean
    under the logger is 1).

    Assumption: as :class:`~bandits.ope.pi.PseudoInverse` (reward additive over positions;
    a uniform or independent-position logger, or the logging policy given, for exactness),
    with a bias of order 1/n. The PI weights can be negative, so unlike SNIPS the value is
    not confined to the logged reward range.
    """

    name = "snpi"
