"""Item ids mapped to rows of per-item arrays, growing with the items actually seen."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class ItemSlots:
    """Dense slots ``1, 2, ...`` for the item ids seen so far; slot 0 stands for every unseen
    item (a model keeps its prior there).

    Lookups are vectorised (a binary search over the sorted known ids), so a batch costs
    O(n log n_seen) whatever the catalogue size; memory grows with the items seen, not with
    the largest id.
    """

    def __init__(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)  # sorted
        self._slots = np.zeros(0, dtype=np.int64)  # slot of each sorted id

    @property
    def n_seen(self) -> int:
        """Items given a slot so far."""
        return int(self._ids.size)

    def lookup(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The slot of each id (0 for an id never added), same shape as ``ids``."""
        if self._ids.size == 0:
            return np.zeros(ids.shape, dtype=np.int64)
        where = np.minimum(np.searchsorted(self._ids, ids), self._ids.size - 1)
        return np.where(self._ids[where] == ids, self._slots[where], 0)

    def add(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slots of ``ids``, giving new slots (in order of first appearance) to unseen ones."""
        slots = self.lookup(ids)
        unseen = ids[slots == 0]
        if unseen.size:
            new, first = np.unique(unseen, return_index=True)
            new = new[np.argsort(first, kind="stable")]
            fresh = self.n_seen + 1 + np.arange(new.size)
            ids_all = np.concatenate([self._ids, new])
            slots_all = np.concatenate([self._slots, fresh])
            order = np.argsort(ids_all, kind="stable")
            self._ids, self._slots = ids_all[order], slots_all[order]
            slots = self.lookup(ids)
        return slots
