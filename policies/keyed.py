"""Sparse stores keyed by int64 ids (item ids, user ids, pairs of codes), kept as sorted arrays
so that memory grows with the keys actually seen and every lookup or update is vectorised
(``np.searchsorted`` over the whole batch), never a Python loop or a table sized by id range."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CODE_BITS = 32
"""Bits of one code in a pair key: a pair ``(a, b)`` of codes is ``a << 32 | b``."""

CODE_MASK = 2**CODE_BITS - 1
"""The bits of the second code of a pair key."""

MAX_CODES = 2**31
"""Most distinct ids an :class:`IdCodes` numbers (so that a pair key fits in int64)."""


def _find(
    sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Where each of ``keys`` (any shape) sits in ``sorted_keys``, and whether it is there."""
    keys = np.asarray(keys)
    if not sorted_keys.size:
        return np.zeros(keys.shape, dtype=np.int64), np.zeros(keys.shape, dtype=np.bool_)
    position = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return position, sorted_keys[position] == keys


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
        position, found = _find(self.keys_, keys)
        if not self.keys_.size:
            return np.zeros((*np.shape(keys), self.values_.shape[1]))
        return np.where(found[..., None], self.values_[position], 0.0)

    def contains(self, keys: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each of ``keys`` (any shape) was ever stored."""
        return _find(self.keys_, keys)[1]

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
        position, found = _find(self.keys_, unique)
        largest[found] = np.maximum(largest[found], self.values_[position[found]])
        self._merge(unique, largest, replace=True)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Keep only the stored rows where ``mask`` (n_keys,) is True."""
        self.keys_, self.values_ = self.keys_[mask], self.values_[mask]

    def _merge(
        self, unique: NDArray[np.int64], values: NDArray[np.float64], *, replace: bool
    ) -> None:
        """Add (or, with ``replace``, set) the rows of sorted distinct keys ``unique``."""
        position, found = _find(self.keys_, unique)
        if replace:
            self.values_[position[found]] = values[found]
        else:
            self.values_[position[found]] += values[found]
        new = ~found
        if new.any():
            at = np.searchsorted(self.keys_, unique[new])
            self.keys_ = np.insert(self.keys_, at, unique[new])
            self.values_ = np.insert(self.values_, at, values[new], axis=0)


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
        position, found = _find(self.ids_, ids)
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
        unique = np.unique(ids)
        new = unique[~_find(self.ids_, unique)[1]]
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
