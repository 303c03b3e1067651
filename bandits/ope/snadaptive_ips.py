"""Self-normalised adaptive IPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bandits.observation import SlateObservation
from bandits.ope.adaptive_ips import AdaptiveIPS
from bandits.ope.positionwise import SelfNormalisedPositionwise
from bandits.validation import InputValueError, shown


class SNAdaptiveIPS(SelfNormalisedPositionwise, AdaptiveIPS):
    """Self-normalised adaptive IPS: ``sum_k sum_i w_ik r_ik / sum_i w_ik`` with each row's
    position weights those of its behavior (:class:`~bandits.ope.adaptive_ips.AdaptiveIPS`'s
    ``independent``, ``cascade`` or ``standard``).

    Each row's behavior is fixed before the terms are averaged: given (``behavior`` a name or
    a function of the observation), or chosen from the data cross-fitted (``behavior=None``,
    ``folds >= 2``, default 2: each fold's tree and leaf behaviors chosen on the other folds'
    rows). The in-sample choice of ``adaptive-ips`` (``folds=1``) is not offered: it picks
    per part from the statistics of the unnormalised terms, which this estimate does not
    keep. With ``behavior="independent"`` it is SNIIPS, with ``"cascade"`` SNRIPS.

    Assumption: as :class:`~bandits.ope.adaptive_ips.AdaptiveIPS` for the behaviors its rows
    take, with a bias of order 1/n; each position's term stays within that position's logged
    reward range.

    Parameters
    ----------
    behavior : {"independent", "cascade", "standard"}, callable or None, default None
    folds : int >= 1, optional
        Cross-fitting folds of the data-driven choice: default 2 without ``behavior``, 1 (no
        choice to fit) with it.
    **options
        :class:`~bandits.ope.adaptive_ips.AdaptiveIPS`'s ``max_depth``, ``min_leaf``,
        ``logging_policy`` and the base's options.
    """

    name = "snadaptive-ips"

    def __init__(
        self,
        *,
        behavior: str | Callable[[SlateObservation], Any] | None = None,
        folds: int | None = None,
        **options: Any,
    ) -> None:
        split = options.get("split_feature")
        if split is not None and behavior is None:  # with 'behavior', the base refuses it
            raise InputValueError(
                f"The 'split_feature' parameter of {type(self).__name__} chooses a behavior "
                f"per part on the rows it estimates on (adaptive-ips with folds=1), which this "
                f"estimate does not offer; got split_feature={shown(split)}: learn the split "
                f"cross-fitted with max_depth=1, or give 'behavior'."
            )
        if folds is None:
            folds = 2 if behavior is None else 1
        super().__init__(behavior=behavior, folds=folds, **options)
        if not self.per_row:
            raise InputValueError(
                f"{type(self).__name__} chooses the behavior from the data cross-fitted only: "
                f"pass folds >= 2 (got folds={self.folds}), or give 'behavior'."
            )
