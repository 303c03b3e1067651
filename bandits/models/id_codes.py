"""Dense codes for the int64 ids seen so far (item or user ids), kept as sorted arrays: memory
grows with the ids actually seen, never with the largest id, and every lookup is one vectorised
binary search over the batch."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_CODES = 2**31
"""Most distinct ids an :class:`IdCodes` numbers (so that a pair of codes fits in an int64)."""


def find_sorted(
    sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Where each of ``keys`` (any shape) sits in ``sorted_keys``, and whether it is there."""
    keys = np.asarray(keys)
    if not sorted_keys.size:
        return np.zeros(keys.shape, dtype=np.int64), np.zeros(keys.shape, dtype=np.bool_)
    position = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return position, sorted_keys[position] == keys


class IdCodes:
    """Dense codes 0, 1, 2, ... for the ids seen (item or user ids), in order of first sight
    (ids new in the same batch by increasing id), so per-id tables can be plain arrays.

    Attributes
    ----------
    ids_ : ndarray of int64, shape (n_codes,)
        The ids seen, sorted.
    codes_ : ndarray of int64, shape (n_codes,)
        The code of each of ``ids_``.
    """

    def __init__(self) -> None:
        self.ids_: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.codes_: NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ids_.size)

    def encode(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The code of each of ``ids`` (any shape); -1 for an id never added."""
        position, found = find_sorted(self.ids_, ids)
        if not self.ids_.size:
            return np.full(np.shape(ids), -1, dtype=np.int64)
        return np.where(found, self.codes_[position], -1)

    def add(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Give codes to the new ones of ``ids`` (any shape, >= 0) and return all their codes.

        Raises
        ------
        OverflowError
            Beyond ``MAX_CODES`` distinct ids.
        """
        position, found = find_sorted(self.ids_, ids)
        if found.all():  # nothing new (the common case once ids repeat)
            return self.codes_[position]
        unique = np.unique(np.asarray(ids)[~found])
        new = unique
        if new.size:
            if self.ids_.size + new.size > MAX_CODES:
                raise OverflowError(f"More than {MAX_CODES} distinct ids cannot be numbered.")
            codes = np.arange(self.ids_.size, self.ids_.size + new.size, dtype=np.int64)
            at = np.searchsorted(self.ids_, new)
            self.ids_ = np.insert(self.ids_, at, new)
            self.codes_ = np.insert(self.codes_, at, codes)
        return self.encode(ids)

    def decode(self, codes: NDArray[np.int64]) -> NDArray[np.int64]:
        """The id of each of ``codes`` (any shape, each a code given out)."""
        ids = np.empty(self.ids_.size, dtype=np.int64)
        ids[self.codes_] = self.ids_
        return ids[codes]
