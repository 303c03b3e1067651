"""Per-position feedback the environment returns for the slates it was shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.slates import sum_last_axis
from bandits.validation import (
    InputValueError,
    as_array,
    check_finite,
    check_finite_sign,
    check_instance,
    check_shape,
    read_only,
    unchecked,
)

EXAMINED = "examined"
"""Name of the signal that says which positions the user looked at (1) or never reached (0),
e.g. those below the last click under a cascade model; learners skip unexamined positions."""


@dataclass(frozen=True, eq=False)
class SlateFeedback:
    """Rewards per slate position, plus any named signals behind them.

    Attributes
    ----------
    rewards : ndarray of float64, shape (n_requests, slate_size)
        The reward a policy learns from and OPE estimates (e.g. clicks), per position.
    signals : mapping of str to ndarray of float64, shape (n_requests, slate_size)
        Raw outcomes by name (``"click"``, ``"watch_time"``, ``"purchase"``...).
    """

    rewards: NDArray[np.float64]
    signals: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    _nonnegative: ClassVar[bool] = False
    """What validation found of the rewards' signs (see :attr:`known_nonnegative`): an
    instance attribute once known, not a field (not part of the data)."""

    def __post_init__(self) -> None:
        rewards = as_array(self.rewards, "'rewards' of SlateFeedback", np.float64, 2)
        nonnegative = check_finite_sign(rewards, "'rewards' of SlateFeedback")
        if type(self.signals) is dict and not self.signals:  # none (the default)
            # frozen: as object.__setattr__
            self.__dict__.update(rewards=read_only(rewards), signals={}, _nonnegative=nonnegative)
            return
        check_instance(self.signals, Mapping, "'signals' of SlateFeedback (a dict of arrays)")
        signals = {}
        for name, values in self.signals.items():
            label = f"signal {name!r} of SlateFeedback"
            array = as_array(values, label, np.float64, 2)
            check_shape(array, rewards.shape, label)
            check_finite(array, label)
            signals[str(name)] = array
        object.__setattr__(self, "rewards", read_only(rewards))  # the sign found stays true
        object.__setattr__(self, "signals", signals)
        object.__setattr__(self, "_nonnegative", nonnegative)

    @property
    def known_nonnegative(self) -> bool:
        """Whether every reward is known to be >= 0 (found when the feedback was checked, for
        arrays of more than a request's entries; kept by slices and concatenations); False
        when unknown."""
        return self._nonnegative

    def examined(self) -> NDArray[np.bool_] | None:
        """The ``examined`` signal as booleans, shape (n_requests, slate_size), or None if the
        feedback does not say; a value other than 0 or 1 is an error naming row and position."""
        values = self.signals.get(EXAMINED)
        if values is None:
            return None
        bad = (values != 0.0) & (values != 1.0)
        if bad.any():
            row, position = (int(i) for i in np.argwhere(bad)[0])
            raise InputValueError(
                f"signal {EXAMINED!r} of SlateFeedback must be 0 or 1; row {row}, position "
                f"{position} is {float(values[row, position])!r}."
            )
        return values == 1.0

    @cached_property
    def slate_reward(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): the rewards summed over positions
        (computed once; do not modify).

        Short slates add position by position (:func:`bandits.slates.sum_last_axis`).
        """
        return sum_last_axis(self.rewards)

    def take(self, rows: ArrayLike) -> SlateFeedback:
        """The feedback restricted to ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        return unchecked(
            SlateFeedback,
            rewards=read_only(self.rewards[rows]),
            signals={name: v[rows] for name, v in self.signals.items()},
            _nonnegative=self._nonnegative,
        )
