"""The observation a policy sees: a batch of recommendation requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits._checks import as_array, check_finite, check_integer, check_shape

PAD_ID = -1
"""Item id that fills the unused tail of ``candidate_ids`` and ``history``."""


@dataclass(frozen=True, eq=False)
class SlateObservation:
    """A batch of requests, each with its own candidate set (padded to a common width).

    Candidates of row ``i`` are the first ``n_candidates[i]`` entries of its rows in
    ``candidate_ids`` and ``candidate_features``; the tail holds ``PAD_ID`` and zeros.
    A slate is ``slate_size`` distinct indices into those first entries.

    Attributes
    ----------
    context : ndarray of float64, shape (n_requests, n_context_features)
        User features and context signals (device, time of day, location, season).
    candidate_ids : ndarray of int64, shape (n_requests, max_candidates)
    candidate_features : ndarray of float64, shape (n_requests, max_candidates, n_item_features)
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
    """

    context: NDArray[np.float64]
    candidate_ids: NDArray[np.int64]
    candidate_features: NDArray[np.float64]
    n_candidates: NDArray[np.int64]
    slate_size: int
    history: NDArray[np.int64]
    request_ids: NDArray[np.int64]
    user_ids: NDArray[np.int64]
    times: NDArray[np.int64]

    def __post_init__(self) -> None:
        owner = "SlateObservation"

        def field(name: str, dtype: type, ndim: int) -> NDArray:
            array = as_array(getattr(self, name), f"{name!r} of {owner}", dtype, ndim)
            object.__setattr__(self, name, array)
            return array

        context = field("context", np.float64, 2)
        ids = field("candidate_ids", np.int64, 2)
        features = field("candidate_features", np.float64, 3)
        counts = field("n_candidates", np.int64, 1)
        history = field("history", np.int64, 2)
        n, width = ids.shape
        check_shape(context, (n, None), f"'context' of {owner}")
        check_shape(features, (n, width, None), f"'candidate_features' of {owner}")
        check_shape(counts, (n,), f"'n_candidates' of {owner}")
        check_shape(history, (n, None), f"'history' of {owner}")
        for name in ("request_ids", "user_ids", "times"):
            check_shape(field(name, np.int64, 1), (n,), f"{name!r} of {owner}")
        slate_size = check_integer(self.slate_size, "slate_size", owner, low=1)
        object.__setattr__(self, "slate_size", slate_size)
        short = (counts < slate_size) | (counts > width)
        if short.any():
            row = int(np.flatnonzero(short)[0])
            raise ValueError(
                f"'n_candidates' of {owner} must lie between slate_size={slate_size} and "
                f"max_candidates={width}; row {row} is {counts[row]}."
            )
        mask = self.candidate_mask
        _check_candidate_ids(ids, mask, owner)
        _check_history(history, owner)
        check_finite(context, f"'context' of {owner}")
        check_finite(features, f"'candidate_features' of {owner}", mask[:, :, None])
        padding = (features != 0) & ~mask[:, :, None]
        if padding.any():
            row, column, _ = (int(i) for i in np.argwhere(padding)[0])
            raise ValueError(
                f"'candidate_features' of {owner} must be 0 after the first n_candidates "
                f"entries; row {row}, candidate {column} (padding) holds "
                f"{features[row, column].tolist()}."
            )

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
        return int(self.candidate_features.shape[2])

    @property
    def candidate_mask(self) -> NDArray[np.bool_]:
        """ndarray of bool, shape (n_requests, max_candidates): True for real candidates."""
        return np.arange(self.max_candidates) < self.n_candidates[:, None]

    def take(self, rows: ArrayLike) -> SlateObservation:
        """The observation restricted to ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        values = {
            f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "slate_size"
        }
        return SlateObservation(slate_size=self.slate_size, **values)

    def to_mapping(self) -> dict[str, Any]:
        """The observation as a dict of arrays (the gymnasium observation layout)."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        values["slate_size"] = np.asarray(self.slate_size, dtype=np.int64)
        return values

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SlateObservation:
        """Build from a gymnasium observation dict (keys are the attribute names)."""
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(
                f"The observation dict lacks the key(s) {missing}; it must hold {names}."
            )
        kwargs = {name: values[name] for name in names}
        kwargs["slate_size"] = np.asarray(values["slate_size"]).item()
        return cls(**kwargs)


def _check_candidate_ids(ids: NDArray, mask: NDArray, owner: str) -> None:
    """Real candidates: distinct ids >= 0; padding: PAD_ID."""
    bad_ids = np.where(mask, ids < 0, ids != PAD_ID)
    if bad_ids.any():
        row, column = (int(i) for i in np.argwhere(bad_ids)[0])
        raise ValueError(
            f"'candidate_ids' of {owner} must be >= 0 for the first n_candidates entries "
            f"and {PAD_ID} after them; row {row}, candidate {column} is {ids[row, column]}."
        )
    if ids.shape[1] > 1:
        ordered = np.sort(np.where(mask, ids, PAD_ID), axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] != PAD_ID)
        if repeated.any():
            row = int(np.flatnonzero(repeated.any(axis=1))[0])
            item = ordered[row, 1:][repeated[row]][0]
            where = np.flatnonzero(ids[row] == item).tolist()
            raise ValueError(
                f"'candidate_ids' of {owner} must not repeat an item within a request; row {row} "
                f"has item {item} as candidates {where}."
            )


def _check_history(history: NDArray, owner: str) -> None:
    """Item ids >= 0, then only PAD_ID padding."""
    real = history != PAD_ID
    after_padding = np.cumsum(~real, axis=1) > 0
    bad = (history < PAD_ID) | (real & after_padding)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"'history' of {owner} must hold item ids >= 0 followed only by {PAD_ID} "
            f"padding; row {row}, entry {column} is {history[row, column]}."
        )


def as_observation(obs: SlateObservation | Mapping[str, Any]) -> SlateObservation:
    """Accept a ``SlateObservation`` or its gymnasium dict and return the dataclass."""
    if isinstance(obs, SlateObservation):
        return obs
    if isinstance(obs, Mapping):
        return SlateObservation.from_mapping(obs)
    raise TypeError(
        f"An observation must be a SlateObservation or its dict; got {type(obs).__name__}."
    )
