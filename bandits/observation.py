"""The observation a policy sees: a batch of recommendation requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.items import ItemTable
from bandits.validation import (
    SMALL_ARRAY,
    InputTypeError,
    InputValueError,
    as_array,
    brief,
    check_finite,
    check_instance,
    check_integer,
    check_shape,
    unchecked,
)

PAD_ID = -1
"""Item id that fills the unused tail of ``candidate_ids`` and ``history``."""

_ROW_FIELDS = (
    "context",
    "candidate_ids",
    "n_candidates",
    "history",
    "request_ids",
    "user_ids",
    "times",
)
"""The per-request arrays (first axis n_requests)."""

_FLOAT, _INT = np.dtype(np.float64), np.dtype(np.int64)
_ROW_TYPES: dict[str, tuple[np.dtype[Any], int]] = {
    "context": (_FLOAT, 2),
    "candidate_ids": (_INT, 2),
    "n_candidates": (_INT, 1),
    "history": (_INT, 2),
    "request_ids": (_INT, 1),
    "user_ids": (_INT, 1),
    "times": (_INT, 1),
}
"""dtype (instances: they compare faster than types) and number of axes of each
per-request array."""

_ROW_LABELS = {name: f"{name!r} of SlateObservation" for name in _ROW_FIELDS}


@dataclass(frozen=True, eq=False)
class SlateObservation:
    """A batch of requests, each with its own candidate set (padded to a common width).

    Candidates of row ``i`` are the first ``n_candidates[i]`` entries of ``candidate_ids[i]``;
    the tail holds ``PAD_ID``. Candidates are named by item id; their features live once in
    ``items`` and are looked up (``candidate_features``) only for the rows at hand. A slate is
    ``slate_size`` distinct indices into a row's candidates.

    Attributes
    ----------
    context : ndarray of float64, shape (n_requests, n_context_features)
        User features and context signals (device, time of day, location, season).
    candidate_ids : ndarray of int64, shape (n_requests, max_candidates)
    n_candidates : ndarray of int64, shape (n_requests,)
    slate_size : int
        Positions to fill; 1 is the ordinary contextual bandit.
    history : ndarray of int64, shape (n_requests, history_length)
        Recently consumed item ids, most recent first, padded with ``PAD_ID``.
    request_ids : ndarray of int64, shape (n_requests,)
    user_ids : ndarray of int64, shape (n_requests,)
        ``PAD_ID`` where the user is anonymous.
    times : ndarray of int64, shape (n_requests,)
        Step (simulation) or epoch microseconds (real logs).
    items : ItemTable
        Every candidate's id with its features (and availability window, checked against
        ``times``).
    """

    context: NDArray[np.float64]
    candidate_ids: NDArray[np.int64]
    n_candidates: NDArray[np.int64]
    slate_size: int
    history: NDArray[np.int64]
    request_ids: NDArray[np.int64]
    user_ids: NDArray[np.int64]
    times: NDArray[np.int64]
    items: ItemTable

    def __post_init__(self) -> None:
        owner = "SlateObservation"
        values = self.__dict__  # frozen: converted arrays are written through the __dict__
        for name in _ROW_FIELDS[:4]:  # context, candidate_ids, n_candidates, history
            values[name] = as_array(values[name], _ROW_LABELS[name], *_ROW_TYPES[name])
        context, ids = values["context"], values["candidate_ids"]
        counts, history = values["n_candidates"], values["history"]
        check_instance(self.items, ItemTable, f"'items' of {owner}")
        n = ids.shape[0]
        # each array has its number of axes (as_array), so only the first length can be off
        if context.shape[0] != n:
            check_shape(context, (n, None), _ROW_LABELS["context"])
        if counts.shape[0] != n:
            check_shape(counts, (n,), _ROW_LABELS["n_candidates"])
        if history.shape[0] != n:
            check_shape(history, (n, None), _ROW_LABELS["history"])
        for name in _ROW_FIELDS[4:]:  # request_ids, user_ids, times
            values[name] = array = as_array(values[name], _ROW_LABELS[name], _INT, 1)
            if array.shape[0] != n:
                check_shape(array, (n,), _ROW_LABELS[name])
        slate_size = self.slate_size
        if type(slate_size) is not int or slate_size < 1:  # a plain int >= 1 is kept as is
            slate_size = check_integer(slate_size, "slate_size", owner, low=1)
            values["slate_size"] = slate_size
        mask, rows = _checked_candidates(ids, counts, slate_size, self.items, owner)
        self.__dict__["candidate_mask"] = mask
        self.__dict__["candidate_rows"] = rows
        _check_history(history, owner)
        check_finite(context, f"'context' of {owner}")
        if self.items.has_windows:
            _check_windows(self, rows, mask, owner)

    @property
    def n_requests(self) -> int:
        return int(self.candidate_ids.shape[0])

    @property
    def max_candidates(self) -> int:
        return int(self.candidate_ids.shape[1])

    @property
    def n_context_features(self) -> int:
        return int(self.context.shape[1])

    @property
    def n_item_features(self) -> int:
        return self.items.n_item_features

    @property
    def bytes_per_row(self) -> int:
        """Memory one request of this observation takes, its candidates' features included
        (see :func:`row_bytes`)."""
        return row_bytes(
            n_context_features=self.n_context_features,
            max_candidates=self.max_candidates,
            n_item_features=self.n_item_features,
            history_length=self.history.shape[1],
            slate_size=self.slate_size,
        )

    @cached_property
    def candidate_mask(self) -> NDArray[np.bool_]:
        """ndarray of bool, shape (n_requests, max_candidates): True for real candidates."""
        return np.arange(self.max_candidates) < self.n_candidates[:, None]

    @cached_property
    def context_with_intercept(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests, n_context_features + 1), read-only: the
        context and a column of ones (per-item linear models' features); computed once."""
        n, d = self.context.shape
        rows = np.empty((n, d + 1))
        rows[:, :d] = self.context
        rows[:, d] = 1.0
        rows.flags.writeable = False
        return rows

    @cached_property
    def candidate_rows(self) -> NDArray[np.int64]:
        """ndarray of int64, shape (n_requests, max_candidates): each candidate's row in
        ``items`` (0 for padding)."""
        return self.items.positions(self.candidate_ids, self.candidate_mask, "'candidate_ids'")

    @cached_property
    def candidate_features(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests, max_candidates, n_item_features): looked up
        in ``items`` for these rows only (zeros for padding); computed once per observation."""
        features = self.items.features[self.candidate_rows]
        features[~self.candidate_mask] = 0.0
        return features

    def take(self, rows: ArrayLike | slice) -> SlateObservation:
        """The observation restricted to ``rows`` (indices or a boolean mask, copied; a
        slice, viewed); items shared."""
        rows = rows if isinstance(rows, slice) else np.asarray(rows)
        values: dict[str, Any] = {name: getattr(self, name)[rows] for name in _ROW_FIELDS}
        taken = unchecked(SlateObservation, slate_size=self.slate_size, items=self.items, **values)
        taken.__dict__["candidate_rows"] = self.candidate_rows[rows]
        return taken

    def with_requests(
        self,
        context: ArrayLike,
        *,
        request_ids: ArrayLike,
        user_ids: ArrayLike,
        times: ArrayLike,
        history: ArrayLike | None = None,
    ) -> SlateObservation:
        """New requests with the same candidates as these (a fixed candidate set served one
        request at a time): only the new arrays are checked, the candidates' checks and item
        rows are shared, so it costs a fraction of the constructor.

        Parameters
        ----------
        context : array-like of float, shape (n_requests, n_context_features)
            The same number of requests as this observation.
        request_ids, user_ids, times : array-like of int, shape (n_requests,)
        history : array-like of int, shape (n_requests, history_length), optional
            Default: this observation's.

        Returns
        -------
        SlateObservation
        """
        owner = "SlateObservation.with_requests"
        values: dict[str, Any] = {
            "candidate_ids": self.candidate_ids,
            "n_candidates": self.n_candidates,
            "history": self.history,
        }
        given = {"context": context, "request_ids": request_ids, "user_ids": user_ids}
        given["times"] = times
        if history is not None:
            given["history"] = history
        n = self.n_requests
        for name, value in given.items():
            dtype, ndim = _ROW_TYPES[name]
            label = f"{name!r} of {owner}"
            values[name] = as_array(value, label, dtype, ndim)
            check_shape(values[name], (n, None) if ndim == 2 else (n,), label)
        check_finite(values["context"], f"'context' of {owner}")
        if history is not None:
            _check_history(values["history"], owner)
        new = unchecked(SlateObservation, slate_size=self.slate_size, items=self.items, **values)
        new.__dict__["candidate_mask"] = self.candidate_mask
        new.__dict__["candidate_rows"] = self.candidate_rows
        if self.items.has_windows:
            _check_windows(new, self.candidate_rows, self.candidate_mask, owner)
        return new

    def with_slate_size(self, slate_size: int) -> SlateObservation:
        """The same requests asking for ``slate_size`` items (at most the current size), e.g.
        to ask a policy for the probability of the top positions of a slate; items shared."""
        size = check_integer(slate_size, "slate_size", "SlateObservation.with_slate_size", low=1,
                             high=self.slate_size)  # fmt: skip
        values: dict[str, Any] = {name: getattr(self, name) for name in _ROW_FIELDS}
        shorter = unchecked(SlateObservation, slate_size=size, items=self.items, **values)
        if "candidate_rows" in self.__dict__:
            shorter.__dict__["candidate_rows"] = self.candidate_rows
        return shorter

    @classmethod
    def concat(cls, observations: Sequence[SlateObservation]) -> SlateObservation:
        """Stack observations row-wise, padding candidates and histories to the widest one and
        uniting their item tables (an item in several must have the same features)."""
        if not observations:
            raise InputValueError("SlateObservation.concat needs at least one observation.")
        first = observations[0]
        for i, obs in enumerate(observations[1:], start=1):
            for attribute in ("slate_size", "n_context_features", "n_item_features"):
                got, want = getattr(obs, attribute), getattr(first, attribute)
                if got != want:
                    raise InputValueError(
                        f"Observations to concatenate must share one {attribute}; number 0 has "
                        f"{want}, number {i} has {got}."
                    )
        items = first.items
        for obs in observations[1:]:
            items = items.union(obs.items)
        width = max(obs.max_candidates for obs in observations)
        depth = max(obs.history.shape[1] for obs in observations)
        values: dict[str, Any] = {}
        for name in _ROW_FIELDS:
            parts = [getattr(obs, name) for obs in observations]
            if name == "candidate_ids":
                parts = [_pad_columns(part, width, PAD_ID) for part in parts]
            elif name == "history":
                parts = [_pad_columns(part, depth, PAD_ID) for part in parts]
            values[name] = np.concatenate(parts)
        joined = unchecked(cls, slate_size=first.slate_size, items=items, **values)
        if all(obs.items is items for obs in observations):
            rows = [_pad_columns(obs.candidate_rows, width, 0) for obs in observations]
            joined.__dict__["candidate_rows"] = np.concatenate(rows)
        return joined

    def to_mapping(self) -> dict[str, Any]:
        """The observation as a dict of arrays: the gymnasium observation layout, with the
        candidates' features spelt out per request (``candidate_features``) instead of the item
        table."""
        values: dict[str, Any] = {name: getattr(self, name) for name in _ROW_FIELDS}
        values["candidate_features"] = self.candidate_features
        values["slate_size"] = np.asarray(self.slate_size, dtype=np.int64)
        return values

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SlateObservation:
        """Build from a gymnasium observation dict (the layout of :meth:`to_mapping`).

        The per-request ``candidate_features`` become an item table; an item that appears in
        several requests must have the same features in each, and padding must hold zeros.
        """
        owner = "SlateObservation"
        if not isinstance(values, Mapping):
            raise InputTypeError(
                f"An observation must be a SlateObservation or its dict; got "
                f"{type(values).__name__}."
            )
        names = [*_ROW_FIELDS, "candidate_features", "slate_size"]
        missing = [name for name in names if name not in values]
        if missing:
            raise InputValueError(
                f"The observation dict lacks the key(s) {missing}; it must hold {names}."
            )
        slate_size = np.asarray(values["slate_size"])
        if slate_size.ndim != 0:
            raise InputValueError(
                f"'slate_size' of the observation dict must be a single integer; got shape "
                f"{slate_size.shape}."
            )
        size = check_integer(slate_size.item(), "slate_size", owner, low=1)
        ids = as_array(values["candidate_ids"], f"'candidate_ids' of {owner}", np.int64, 2)
        counts = as_array(values["n_candidates"], f"'n_candidates' of {owner}", np.int64, 1)
        check_shape(counts, (ids.shape[0],), f"'n_candidates' of {owner}")
        _check_counts(counts, size, ids.shape[1], owner)
        label = f"'candidate_features' of {owner}"
        features = as_array(values["candidate_features"], label, np.float64, 3)
        check_shape(features, (*ids.shape, None), label)
        mask = np.arange(ids.shape[1]) < counts[:, None]
        check_finite(features, label, mask[:, :, None])
        padding = (features != 0) & ~mask[:, :, None]
        if padding.any():
            row, column, _ = (int(i) for i in np.argwhere(padding)[0])
            raise InputValueError(
                f"{label} must be 0 after the first n_candidates entries; row {row}, candidate "
                f"{column} (padding) holds {brief(features[row, column])}."
            )
        _check_candidate_ids(ids, mask, owner)  # before their features are compared
        items = ItemTable.from_candidates(ids, features, mask, label)
        kwargs = {name: values[name] for name in _ROW_FIELDS}
        return cls(slate_size=size, items=items, **kwargs)


def row_bytes(
    *,
    n_context_features: int,
    max_candidates: int,
    n_item_features: int,
    history_length: int = 0,
    slate_size: int = 1,
    extra_values: int = 0,
) -> int:
    """Estimated memory of one request once in memory: its context, candidate ids and rows,
    history, slate-sized columns, ``extra_values`` more, and its candidates' looked-up
    features, 8 bytes a value, doubled for the copies made on the way (Arrow buffers, numpy
    arrays, working arrays). Batches are sized by it."""
    values = (
        4
        + n_context_features
        + max(max_candidates, 1) * (2 + n_item_features)
        + history_length
        + 4 * slate_size
        + extra_values
    )
    return 16 * values


REMEMBERED_CANDIDATES = 4096
"""Candidate arrays of at most this many entries (small batches, single requests) have their
checks remembered by their item table (see :func:`_checked_candidates`)."""


def _checked_candidates(
    ids: NDArray[np.int64], counts: NDArray[np.int64], slate_size: int, items: ItemTable, owner: str
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Check the candidates (counts between ``slate_size`` and the width; distinct ids >= 0,
    then ``PAD_ID``; every id in ``items``) and return their mask and their rows in ``items``.

    A small batch's answer (read-only) is remembered by the item table for the last candidate
    arrays it checked, so a request with the same candidates as the last one (one request at
    a time over a fixed candidate set) costs a comparison of their bytes, not the checks.
    """
    key = None
    if ids.size <= REMEMBERED_CANDIDATES:
        key = (ids.shape, slate_size, ids.tobytes(), counts.tobytes())
        remembered = items.remembered(key)
        if remembered is not None:
            return remembered
    _check_counts(counts, slate_size, ids.shape[1], owner)
    mask = np.arange(ids.shape[1]) < counts[:, None]
    _check_candidate_ids(ids, mask, owner)
    rows = items.positions(ids, mask, f"'candidate_ids' of {owner}")
    if key is not None:
        mask.flags.writeable = False
        rows.flags.writeable = False
        items.remember(key, (mask, rows))
    return mask, rows


def _check_counts(counts: NDArray[np.int64], slate_size: int, width: int, owner: str) -> None:
    short = (counts < slate_size) | (counts > width)
    if short.any():
        row = int(np.flatnonzero(short)[0])
        raise InputValueError(
            f"'n_candidates' of {owner} must lie between slate_size={slate_size} and "
            f"max_candidates={width}; row {row} is {counts[row]}."
        )


def _check_candidate_ids(ids: NDArray[np.int64], mask: NDArray[np.bool_], owner: str) -> None:
    """Real candidates: distinct ids >= 0; padding: PAD_ID."""
    bad_ids = np.where(mask, ids < 0, ids != PAD_ID)
    if bad_ids.any():
        row, column = (int(i) for i in np.argwhere(bad_ids)[0])
        raise InputValueError(
            f"'candidate_ids' of {owner} must be >= 0 for the first n_candidates entries "
            f"and {PAD_ID} after them; row {row}, candidate {column} is {ids[row, column]}."
        )
    if ids.shape[1] > 1:
        ordered = np.sort(np.where(mask, ids, PAD_ID), axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] != PAD_ID)
        if repeated.any():
            row = int(np.flatnonzero(repeated.any(axis=1))[0])
            item = ordered[row, 1:][repeated[row]][0]
            where = brief(np.flatnonzero(ids[row] == item))
            raise InputValueError(
                f"'candidate_ids' of {owner} must not repeat an item within a request; row {row} "
                f"has item {item} as candidates {where}."
            )


def _check_history(history: NDArray[np.int64], owner: str) -> None:
    """Item ids >= 0, then only PAD_ID padding."""
    if history.size <= SMALL_ARRAY:  # one request's: no numpy call when it is all padding
        entries = history.ravel().tolist()
        if entries.count(PAD_ID) == len(entries):
            return
    real = history != PAD_ID
    if not real.any():  # only padding (no history)
        return
    after_padding = np.cumsum(~real, axis=1) > 0
    bad = (history < PAD_ID) | (real & after_padding)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InputValueError(
            f"'history' of {owner} must hold item ids >= 0 followed only by {PAD_ID} "
            f"padding; row {row}, entry {column} is {history[row, column]}."
        )


def _check_windows(
    obs: SlateObservation, rows: NDArray[np.int64], mask: NDArray[np.bool_], owner: str
) -> None:
    """Every real candidate is available at its request's time."""
    times = obs.times[:, None]
    outside = mask & ((times < obs.items.valid_from[rows]) | (times >= obs.items.valid_until[rows]))
    if outside.any():
        row, column = (int(i) for i in np.argwhere(outside)[0])
        position = rows[row, column]
        raise InputValueError(
            f"'candidate_ids' of {owner} must name items available at the request's time; row "
            f"{row}, candidate {column} is item {obs.candidate_ids[row, column]}, available from "
            f"{obs.items.valid_from[position]} until {obs.items.valid_until[position]}, but the "
            f"request is at time {obs.times[row]}."
        )


def _pad_columns(array: NDArray[Any], width: int, fill: float) -> NDArray[Any]:
    missing = width - array.shape[1]
    if missing == 0:
        return array
    widths = [(0, 0), (0, missing)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, constant_values=fill)


def as_observation(obs: SlateObservation | Mapping[str, Any]) -> SlateObservation:
    """Accept a ``SlateObservation`` or its gymnasium dict and return the dataclass."""
    if isinstance(obs, SlateObservation):
        return obs
    return SlateObservation.from_mapping(obs)
