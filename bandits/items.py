"""The item table: each item's id and features stored once, looked up by id."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.validation import (
    InputValueError,
    as_array,
    brief,
    check_finite,
    check_shape,
)

ALWAYS_FROM = np.iinfo(np.int64).min
"""``valid_from`` of an item that was always available."""

ALWAYS_UNTIL = np.iinfo(np.int64).max
"""``valid_until`` of an item that never retires."""


class ItemTable:
    """A catalogue of items: distinct ids, their features and when each may be shown.

    Observations and logs name candidates by id; their features come from here, so a log of a
    million requests with 80 candidates stores each item's features once, not 80 million times.
    Rows are kept sorted by id (the constructor sorts them) and the arrays are read-only, so one
    table can be shared by many observations.

    Parameters
    ----------
    ids : array-like of int, shape (n_items,)
        Distinct item ids, >= 0.
    features : array-like of float, shape (n_items, n_item_features)
        May have zero columns (items known only by id).
    valid_from, valid_until : array-like of int, shape (n_items,), optional
        An item may be a candidate at times ``t`` with ``valid_from <= t < valid_until`` (the
        unit of the observations' ``times``). Default: always (``ALWAYS_FROM``,
        ``ALWAYS_UNTIL``).

    Attributes
    ----------
    ids : ndarray of int64, shape (n_items,), ascending
    features : ndarray of float64, shape (n_items, n_item_features)
    valid_from, valid_until : ndarray of int64, shape (n_items,)
    """

    ids: NDArray[np.int64]
    features: NDArray[np.float64]
    valid_from: NDArray[np.int64]
    valid_until: NDArray[np.int64]
    _remembered: tuple[Hashable, Any] | None = None
    """The last (key, value) given to :meth:`remember` (not pickled)."""

    def __init__(
        self,
        ids: ArrayLike,
        features: ArrayLike,
        valid_from: ArrayLike | None = None,
        valid_until: ArrayLike | None = None,
    ) -> None:
        owner = "ItemTable"
        id_array = as_array(ids, f"'ids' of {owner}", np.int64, 1)
        feature_array = as_array(features, f"'features' of {owner}", np.float64, 2)
        check_shape(feature_array, (id_array.shape[0], None), f"'features' of {owner}")
        check_finite(feature_array, f"'features' of {owner}")
        windows: list[NDArray[np.int64]] = []
        for name, value, default in (
            ("valid_from", valid_from, ALWAYS_FROM),
            ("valid_until", valid_until, ALWAYS_UNTIL),
        ):
            if value is None:
                windows.append(np.full(id_array.shape[0], default, dtype=np.int64))
            else:
                window = as_array(value, f"{name!r} of {owner}", np.int64, 1)
                check_shape(window, id_array.shape, f"{name!r} of {owner}")
                windows.append(window)
        negative = np.flatnonzero(id_array < 0)
        if negative.size:
            row = int(negative[0])
            raise InputValueError(f"'ids' of {owner} must be >= 0; row {row} is {id_array[row]}.")
        empty = np.flatnonzero(windows[0] >= windows[1])
        if empty.size:
            row = int(empty[0])
            raise InputValueError(
                f"'valid_from' of {owner} must be before 'valid_until'; row {row} (item "
                f"{id_array[row]}) is available from {windows[0][row]} until {windows[1][row]}."
            )
        order = np.argsort(id_array, kind="stable")
        sorted_ids = id_array[order]
        repeated = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if repeated.size:
            raise InputValueError(
                f"'ids' of {owner} must be distinct; item {sorted_ids[repeated[0]]} appears twice."
            )
        self._set(sorted_ids, feature_array[order], windows[0][order], windows[1][order])

    def _set(
        self,
        ids: NDArray[np.int64],
        features: NDArray[np.float64],
        valid_from: NDArray[np.int64],
        valid_until: NDArray[np.int64],
    ) -> None:
        self.ids = _frozen(ids)
        self.features = _frozen(features)
        self.valid_from = _frozen(valid_from)
        self.valid_until = _frozen(valid_until)

    @classmethod
    def _trusted(
        cls,
        ids: NDArray[np.int64],
        features: NDArray[np.float64],
        valid_from: NDArray[np.int64],
        valid_until: NDArray[np.int64],
    ) -> ItemTable:
        """A table from arrays already checked and sorted (slices of a checked table)."""
        table = cls.__new__(cls)
        table._set(ids, features, valid_from, valid_until)
        return table

    def __repr__(self) -> str:
        return f"ItemTable(n_items={self.n_items}, n_item_features={self.n_item_features})"

    def __getstate__(self) -> dict[str, Any]:
        """The table without what it remembers."""
        return {name: value for name, value in self.__dict__.items() if name != "_remembered"}

    def remember(self, key: Hashable, value: Any) -> None:
        """Keep ``value``, something derived from this (read-only) table and ``key`` alone
        (e.g. checked candidates' rows), until the next call; :meth:`remembered` gives it
        back for an equal key. One entry: a cache for repeated identical lookups."""
        self._remembered = (key, value)

    def remembered(self, key: Hashable) -> Any | None:
        """The value last passed to :meth:`remember` if its key equals ``key``, else None."""
        entry = self._remembered
        if entry is not None and entry[0] == key:
            return entry[1]
        return None

    @classmethod
    def empty(cls, n_item_features: int) -> ItemTable:
        """A table with no items and ``n_item_features`` feature columns."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, n_item_features)))

    @classmethod
    def from_candidates(
        cls,
        candidate_ids: NDArray[np.int64],
        candidate_features: NDArray[np.float64],
        mask: NDArray[np.bool_],
        label: str = "'candidate_features'",
    ) -> ItemTable:
        """The items shown as candidates in a padded batch, checking each has one feature row.

        Parameters
        ----------
        candidate_ids : ndarray of int64, shape (n_requests, max_candidates)
        candidate_features : ndarray of float64, shape (n_requests, max_candidates, n_features)
        mask : ndarray of bool, shape (n_requests, max_candidates)
            True for real candidates (padding is ignored).
        """
        ids = candidate_ids[mask]
        features = candidate_features[mask]
        unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        table = cls(unique, features[first])
        differs = (table.features[inverse] != features).any(axis=1)
        if differs.any():
            flat = int(np.flatnonzero(differs)[0])
            rows, columns = np.nonzero(mask)
            known = inverse[flat]
            raise InputValueError(
                f"{label} must give an item the same features wherever it is a candidate; item "
                f"{ids[flat]} has {brief(table.features[known])} at row {rows[first[known]]} "
                f"and {brief(features[flat])} at row {rows[flat]}, candidate {columns[flat]}."
            )
        return table

    @property
    def n_items(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_item_features(self) -> int:
        return int(self.features.shape[1])

    @cached_property
    def has_windows(self) -> bool:
        """True if some item is not always available (computed once: the arrays are
        read-only)."""
        return bool(
            (self.valid_from != ALWAYS_FROM).any() or (self.valid_until != ALWAYS_UNTIL).any()
        )

    def positions(
        self, ids: NDArray[np.int64], mask: NDArray[np.bool_], label: str
    ) -> NDArray[np.int64]:
        """Rows of the table holding ``ids`` where ``mask`` is True (0 elsewhere).

        Raises naming the first row and column of ``ids`` whose item the table lacks.

        Parameters
        ----------
        ids : ndarray of int64, shape (n_requests, width)
        mask : ndarray of bool, shape (n_requests, width)

        Returns
        -------
        ndarray of int64, shape (n_requests, width)
        """
        found = np.searchsorted(self.ids, ids)
        np.minimum(found, max(self.n_items - 1, 0), out=found)
        missing = mask & ((self.ids[found] != ids) if self.n_items else True)
        if np.any(missing):
            row, column = (int(i) for i in np.argwhere(missing)[0])
            raise InputValueError(
                f"{label} names item {ids[row, column]} at row {row}, candidate {column}, but the "
                f"item table ({self.n_items} items) has no such item."
            )
        return np.where(mask, found, 0)

    def take(self, rows: ArrayLike) -> ItemTable:
        """The items at table rows ``rows`` (indices or a boolean mask), in id order."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == np.bool_ else np.unique(rows)
        return ItemTable._trusted(
            self.ids[rows], self.features[rows], self.valid_from[rows], self.valid_until[rows]
        )

    def union(self, other: ItemTable) -> ItemTable:
        """All items of both tables; an item in both must have the same features and window."""
        if other is self:
            return self
        if other.n_item_features != self.n_item_features:
            raise InputValueError(
                f"Item tables with {self.n_item_features} and {other.n_item_features} features "
                f"cannot be combined."
            )
        shared, mine, theirs = np.intersect1d(self.ids, other.ids, return_indices=True)
        for name, left, right in (
            ("features", self.features[mine], other.features[theirs]),
            ("valid_from", self.valid_from[mine], other.valid_from[theirs]),
            ("valid_until", self.valid_until[mine], other.valid_until[theirs]),
        ):
            differs = left != right
            if differs.ndim > 1:
                differs = differs.any(axis=1)
            if differs.any():
                index = int(np.flatnonzero(differs)[0])
                raise InputValueError(
                    f"Two item tables disagree on the {name} of item {shared[index]}: "
                    f"{brief(left[index])} and {brief(right[index])}."
                )
        extra = np.setdiff1d(np.arange(other.n_items), theirs, assume_unique=True)
        if extra.size == 0:
            return self
        new = other.take(extra)
        return ItemTable(
            np.concatenate([self.ids, new.ids]),
            np.concatenate([self.features, new.features]),
            np.concatenate([self.valid_from, new.valid_from]),
            np.concatenate([self.valid_until, new.valid_until]),
        )

    def fingerprint(self) -> str:
        """A hex digest of the ids, features and windows (equal tables, equal digests)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.asarray(self.features.shape, dtype=np.int64).tobytes())
        for array in (self.ids, self.features, self.valid_from, self.valid_until):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def same_as(self, other: Any) -> bool:
        """True if ``other`` is an item table with the same rows."""
        if other is self:
            return True
        return (
            isinstance(other, ItemTable)
            and other.features.shape == self.features.shape
            and all(
                np.array_equal(getattr(self, name), getattr(other, name))
                for name in ("ids", "features", "valid_from", "valid_until")
            )
        )


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    """A contiguous, read-only copy (or view) of ``array``, safe to share."""
    frozen = np.ascontiguousarray(array)
    if frozen is array:
        frozen = frozen.view()
    frozen.flags.writeable = False
    return frozen
