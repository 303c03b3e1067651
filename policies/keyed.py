"""Sparse stores keyed by int64 ids (item ids, user ids, pairs of codes), kept as sorted arrays
so that memory grows with the keys actually seen and every lookup or update is vectorised
(``np.searchsorted`` over the whole batch), never a Python loop or a table sized by id range."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.models.id_codes import MAX_CODES, IdCodes, find_sorted

__all__ = ["CODE_BITS", "CODE_MASK", "MAX_CODES", "IdCodes", "KeyedValues", "pair_keys"]

CODE_BITS = 32
"""Bits of one code in a pair key: a pair ``(a, b)`` of codes is ``a << 32 | b``."""

CODE_MASK = 2**CODE_BITS - 1
"""The bits of the second code of a pair key."""


def pair_keys(first: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.int64]:
    """One int64 key per unordered pair of codes (each < ``MAX_CODES``), same shape."""
    low, high = np.minimum(first, second), np.maximum(first, second)
    return (low << CODE_BITS) | high


class KeyedValues:
    """Rows of ``n_columns`` float64 values per int64 key; absent keys read as zeros.

    Parameters
    ----------
    n_columns : int, default 1

    Attributes
    ----------
    keys_ : ndarray of int64, shape (n_keys,)
        The keys seen, sorted.
    values_ : ndarray of float64, shape (n_keys, n_columns)
    """

    def __init__(self, n_columns: int = 1) -> None:
        self.keys_: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.values_: NDArray[np.float64] = np.zeros((0, n_columns))

    def __len__(self) -> int:
        return int(self.keys_.size)

    def get(self, keys: NDArray[np.int64]) -> NDArray[np.float64]:
        """The values of ``keys`` (any shape), shape ``keys.shape + (n_columns,)``."""
        position, found = find_sorted(self.keys_, keys)
        if not self.keys_.size:
            return np.zeros((*np.shape(keys), self.values_.shape[1]))
        return np.where(found[..., None], self.values_[position], 0.0)

    def contains(self, keys: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each of ``keys`` (any shape) was ever stored."""
        return find_sorted(self.keys_, keys)[1]

    def add(self, keys: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        """Add ``values`` (n, n_columns) to the rows of ``keys`` (n,); repeated keys sum."""
        unique, inverse = np.unique(keys, return_inverse=True)
        sums = np.zeros((unique.size, self.values_.shape[1]))
        np.add.at(sums, inverse.ravel(), values)
        self._merge(unique, sums, replace=False)

    def maximum(self, keys: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        """Raise the rows of ``keys`` (n,) to at least ``values`` (n, n_columns), keys absent
        so far starting from ``values``; repeated keys keep their largest value."""
        order = np.lexsort((values[:, 0], keys))  # the last of each key holds its largest
        keys, values = keys[order], values[order]
        last = np.ones(keys.size, dtype=np.bool_)
        last[:-1] = keys[1:] != keys[:-1]
        unique, largest = keys[last], values[last]
        position, found = find_sorted(self.keys_, unique)
        largest[found] = np.maximum(largest[found], self.values_[position[found]])
        self._merge(unique, largest, replace=True)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Keep only the stored rows where ``mask`` (n_keys,) is True."""
        self.keys_, self.values_ = self.keys_[mask], self.values_[mask]

    def _merge(
        self, unique: NDArray[np.int64], values: NDArray[np.float64], *, replace: bool
    ) -> None:
        """Add (or, with ``replace``, set) the rows of sorted distinct keys ``unique``."""
        position, found = find_sorted(self.keys_, unique)
        if replace:
            self.values_[position[found]] = values[found]
        else:
            self.values_[position[found]] += values[found]
        new = ~found
        if new.any():
            at = np.searchsorted(self.keys_, unique[new])
            self.keys_ = np.insert(self.keys_, at, unique[new])
            self.values_ = np.insert(self.values_, at, values[new], axis=0)
