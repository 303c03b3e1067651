"""Context signals found by name among a log's context columns, each turned into a segment
label per request: the device, time of day, weekday, season and location of the simulator's
worlds (``simulator/context.py``), or any log whose context columns carry the same names.

Two kinds of signal are recognised:

- a one-hot group, columns ``<prefix>_<level>`` (``device_phone``, ``weekday_3``,
  ``location_0``): the request's level is the column that is 1;
- a cycle, the pair ``<prefix>_sin``, ``<prefix>_cos`` of the angle ``2 pi t / period``
  (``day_*``: time of day, ``year_*``: season): the request falls in one of four quarters of
  the period, the first starting at ``t = 0`` (the simulator's day starts at midnight).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ONE_HOT_SIGNALS = {"device": "device", "weekday": "weekday", "location": "location"}
"""Column prefix -> the dimension its one-hot group is shown as."""

CYCLE_SIGNALS = {
    "day": ("time of day", ("00-06h", "06-12h", "12-18h", "18-24h")),
    "year": ("season", ("quarter 1", "quarter 2", "quarter 3", "quarter 4")),
}
"""Column prefix of a ``sin, cos`` pair -> the dimension and the labels of its quarters."""


@dataclass(frozen=True)
class ContextSignal:
    """One signal of a log's context: its ``dimension`` (``"device"``), the ``columns`` it is
    read from and the ``labels`` of its levels."""

    dimension: str
    columns: tuple[int, ...]
    labels: tuple[str, ...]
    cycle: bool = False

    def levels(self, context: NDArray[np.float64]) -> NDArray[np.intp]:
        """Each request's level (an index into ``labels``; -1 when none is set), from its
        ``context`` rows (n_requests, n_context_features)."""
        values = context[:, list(self.columns)]
        if self.cycle:
            fraction = np.mod(np.arctan2(values[:, 0], values[:, 1]) / (2 * np.pi), 1.0)
            quarter = np.floor(fraction * len(self.labels) + 1e-9).astype(np.intp)
            return np.mod(quarter, len(self.labels))
        level = np.argmax(values, axis=1).astype(np.intp)
        return np.where(values.max(axis=1, initial=0.0) > 0.5, level, -1)


def context_signals(names: Sequence[str]) -> list[ContextSignal]:
    """The signals among the context column ``names`` (one-hot groups, then cycles, in the
    order of ``ONE_HOT_SIGNALS`` and ``CYCLE_SIGNALS``); empty if there are none."""
    found = []
    for prefix, dimension in ONE_HOT_SIGNALS.items():
        columns = [i for i, name in enumerate(names) if name.startswith(f"{prefix}_")]
        if columns:
            levels = [names[i].removeprefix(f"{prefix}_") for i in columns]
            shown = [f"{dimension} {level}" if level.isdigit() else level for level in levels]
            found.append(ContextSignal(dimension, tuple(columns), tuple(shown)))
    position = {name: i for i, name in enumerate(names)}
    for prefix, (dimension, labels) in CYCLE_SIGNALS.items():
        sine, cosine = position.get(f"{prefix}_sin"), position.get(f"{prefix}_cos")
        if sine is not None and cosine is not None:
            found.append(ContextSignal(dimension, (sine, cosine), labels, cycle=True))
    return found
