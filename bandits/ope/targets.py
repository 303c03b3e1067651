"""Targets given as probabilities: for each logged row, the target's probability of each
candidate at each position (obp's ``action_dist``), in memory or in a file.

A file of target probabilities is aligned with a log's rows (row ``i`` of the file belongs
to row ``i`` of the log, in file order). Layouts:

- **Parquet** (``.parquet``): one row per logged row; column ``action_dist``, a list per row
  of the row's ``n_candidates`` candidates (in the log's candidate order), each a list of
  ``slate_size`` probabilities (the candidate at position 1, 2, ...): variable candidate
  counts need no padding. Optional column ``slate_probability`` (float64): the target's
  probability of the row's *logged* slate (whole and ordered). Optional column
  ``cascade_dist``, laid out as ``action_dist``: the target's probability of each candidate
  at each position *given the logged items above it* (obp's Cascade-DR
  ``evaluation_policy_action_dist``; at the top it equals the marginal). Other columns are
  ignored.
- **NumPy** (``.npy``): a float array of shape (n_rows, n_candidates, slate_size), obp's
  ``action_dist`` layout (``.npy`` files are memory-mapped, so they stream); a row with fewer
  candidates than the width is padded with zeros after its candidates.
- **NumPy archive** (``.npz``): key ``action_dist`` as above and optionally
  ``slate_probability`` (n_rows,) and ``cascade_dist`` (as ``action_dist``); read whole.

Checked as each batch of rows is read (errors name the file, the row, the field and the
value): the row count equals the log's, every row has the log row's candidate count (padding
is zero), every value is finite and >= 0, each position sums to 1 within 1e-6 over the
candidates, and a ``slate_probability`` lies in [0, 1] and is at most the marginal of each
logged item at its position; a ``cascade_dist`` has the same checks, except that a position
may sum to 0 (the target never shows the logged items above it; never the top, which must
sum to 1), and is 0 on the logged items above each position.

What estimators can have from marginals (:func:`check_uses`): the probability of
each candidate at each position (DM, the DR family's model term, PI) and of each logged item
at its position (IIPS) always; the probability of the whole logged slate (IPS, SNIPS, the DR
family's weight) only for slates of one item, otherwise from ``slate_probability``; RIPS's
top-k prefixes for slates of at most 2 items (the top position's marginal and
``slate_probability``), for any length from ``cascade_dist`` (the product of the logged
items' conditionals down to ``k``); cascade DR's extensions of the logged prefixes only
from ``cascade_dist`` (or slates of one item). The marginals alone cannot give prefixes of
3 or more items: different slate distributions share them. Anything else is refused before
any work, naming the estimator and the missing column.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import ArrayLike, NDArray

from bandits.logged import LoggedBandit
from bandits.logs.atomic import atomic_path
from bandits.observation import SlateObservation
from bandits.ope.extensions import conditional_probabilities
from bandits.policy import Policy
from bandits.slates import shown_marginals
from bandits.validation import (
    InputTypeError,
    InputValueError,
    as_array,
    check_regular_file,
    first_index,
    shown,
)

SUM_TOLERANCE = 1e-6
"""How far a position's probabilities may stray from summing to 1 over the candidates."""

ACTION_DIST = "action_dist"
SLATE_PROBABILITY = "slate_probability"
CASCADE_DIST = "cascade_dist"
PROBABILITY_SUFFIXES = (".parquet", ".npy", ".npz")
"""File name endings read as target probabilities."""

USES = {
    "slate": "the target's probability of each whole logged slate",
    "prefix": "the target's probability of each logged slate's top-k prefix, k = 1..slate_size",
    "position": "the target's probability of each logged item at its position",
    "marginals": "the target's probability of every candidate at every position",
    "extensions": (
        "the target's probability of every candidate at each position given the logged items "
        "above it"
    ),
}
"""What an estimator may ask of a target (``Estimator.target_uses``), in words."""


@dataclass(frozen=True, eq=False)
class TargetRows:
    """A target's probabilities on one batch of logged rows, checked against the batch.

    Attributes
    ----------
    marginals : ndarray of float64, shape (n_requests, max_candidates, slate_size)
        Probability of each candidate at each position; zero on padding.
    slate_probability : ndarray of float64, shape (n_requests,), or None
        Probability of each logged slate, when the source holds it (or slates have one item).
    label : str
        Where the probabilities come from (a file name), for messages.
    cascade : ndarray of float64, shape (n_requests, max_candidates, slate_size), or None
        Probability of each candidate at each position given the logged items above it,
        when the source holds it.
    """

    marginals: NDArray[np.float64]
    slate_probability: NDArray[np.float64] | None
    label: str
    cascade: NDArray[np.float64] | None = None

    @property
    def slate_size(self) -> int:
        return int(self.marginals.shape[2])

    def positions(self, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """Each logged item's marginal at its position, shape (n_requests, slate_size)."""
        return shown_marginals(self.marginals, slates)

    def prefixes(self, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """The probability of each logged slate's top-k prefix, shape (n_requests,
        slate_size): the running product of the logged items' ``cascade`` conditionals when
        held, else the top item's marginal, then the slate's probability (slates of at most
        2 items; :meth:`check_uses` refuses longer ones before any work)."""
        if self.cascade is not None:
            return np.asarray(np.cumprod(shown_marginals(self.cascade, slates), axis=1), np.float64)
        if self.slate_size > 2 or self.slate_probability is None:
            raise InputValueError(_refusal(self.label, "prefix", "rips", self.slate_size, False))
        top = self.positions(slates)[:, :1]
        if self.slate_size == 1:
            return top
        return np.column_stack([top[:, 0], self.slate_probability])

    def conditional(self) -> NDArray[np.float64]:
        """The probability of each candidate at each position given the logged items above,
        shape (n_requests, max_candidates, slate_size): ``cascade``, or the marginals for
        slates of one item (:meth:`check_uses` refuses the rest before any work)."""
        if self.cascade is not None:
            return self.cascade
        if self.slate_size != 1:
            raise InputValueError(
                _refusal(self.label, "extensions", "cascade-dr", self.slate_size, False)
            )
        return self.marginals


class ProbabilityTarget(ABC):
    """A target given as probabilities aligned with a log's rows (see the module notes).

    Build one with :func:`probability_target` (arrays) or :func:`read_probability_target`
    (a file); estimators and :func:`bandits.ope.evaluate_log` take it where they take a
    policy. It cannot learn: training rows are skipped, not replayed.
    """

    label: str
    n_rows: int
    slate_size: int
    has_slate_probability: bool
    has_cascade: bool = False

    @property
    def name(self) -> str:
        return self.label

    def check_uses(self, uses: frozenset[str], estimator: str) -> None:
        """Raise unless the probabilities give everything in ``uses`` (``Estimator.
        target_uses``), naming ``estimator`` and what is missing."""
        check_uses(
            uses,
            estimator,
            self.label,
            self.slate_size,
            self.has_slate_probability,
            self.has_cascade,
        )

    def check_log(self, n_rows: int, slate_size: int, log_label: str) -> None:
        """Raise unless the probabilities have ``n_rows`` rows of ``slate_size`` positions."""
        if self.n_rows != n_rows:
            raise InputValueError(
                f"{self.label} holds target probabilities for {self.n_rows:,} rows, but "
                f"{log_label} has {n_rows:,}: the file must have one row per logged row, in "
                f"the log's order."
            )
        if self.slate_size != slate_size:
            raise InputValueError(
                f"{self.label} gives probabilities at {self.slate_size} positions, but "
                f"{log_label} has slates of {slate_size}."
            )

    def rows(self, rows: NDArray[np.int64], log: LoggedBandit) -> TargetRows:
        """The probabilities of the log rows ``rows`` (ascending numbers in the whole log),
        checked against ``log``, their batch; errors name the file and the whole log's row."""
        numbers = np.asarray(rows, dtype=np.int64)
        marginals, lengths, slate = self._read(numbers)
        checked = _check_marginals(marginals, lengths, log.observation, rows, self.label)
        if slate is None and self.slate_size == 1:
            slate = checked[:, :, 0][np.arange(len(log)), log.slates[:, 0]]
        elif slate is not None:
            _check_slate(slate, checked, log.slates, rows, self.label)
        cascade = None
        if self.has_cascade:
            raw, cascade_lengths = self._read_cascade(numbers)
            cascade = _check_marginals(
                raw, cascade_lengths, log.observation, rows, self.label, CASCADE_DIST, log.slates
            )
        return TargetRows(checked, slate, self.label, cascade)

    @abstractmethod
    def _read(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None, NDArray[np.float64] | None]:
        """Raw (marginals (n, width, slate_size), per-row candidate counts or None when
        padded, slate probabilities or None) of ``rows``."""

    def _read_cascade(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
        """Raw (cascade conditionals (n, width, slate_size), per-row candidate counts or None
        when padded) of ``rows`` (sources with ``has_cascade``)."""
        raise NotImplementedError(f"{type(self).__name__} holds no {CASCADE_DIST!r}")


class ArrayTarget(ProbabilityTarget):
    """Target probabilities held in arrays (or memory-mapped ``.npy`` files)."""

    def __init__(
        self,
        action_dist: Any,
        slate_probability: Any | None,
        label: str,
        cascade_dist: Any | None = None,
    ) -> None:
        if getattr(action_dist, "ndim", None) != 3:
            action_dist = as_array(action_dist, f"{ACTION_DIST} of {label}", np.float64, 3)
        if not np.issubdtype(action_dist.dtype, np.floating):
            raise InputTypeError(
                f"{ACTION_DIST} of {label} must hold floats; got dtype {action_dist.dtype}."
            )
        self.action_dist = action_dist
        self.label = label
        self.n_rows, _, self.slate_size = (int(v) for v in action_dist.shape)
        self.slate_probability = None
        if slate_probability is not None:
            slate = as_array(slate_probability, f"{SLATE_PROBABILITY} of {label}", np.float64, 1)
            if slate.shape[0] != self.n_rows:
                raise InputValueError(
                    f"{SLATE_PROBABILITY} of {label} has {slate.shape[0]:,} rows; "
                    f"{ACTION_DIST} has {self.n_rows:,}."
                )
            self.slate_probability = slate
        self.has_slate_probability = self.slate_probability is not None
        self.cascade_dist = None
        if cascade_dist is not None:
            cascade = as_array(cascade_dist, f"{CASCADE_DIST} of {label}", np.float64, 3)
            if cascade.shape[0] != self.n_rows or cascade.shape[2] != self.slate_size:
                raise InputValueError(
                    f"{CASCADE_DIST} of {label} has shape {cascade.shape}; {ACTION_DIST} has "
                    f"{tuple(action_dist.shape)} (the same rows and positions are needed)."
                )
            self.cascade_dist = cascade
        self.has_cascade = self.cascade_dist is not None

    def __getstate__(self) -> dict[str, Any]:
        """A memory-mapped ``.npy`` goes by its path (the tasks of a partitioned evaluation
        map it again), not as the whole array."""
        state = dict(self.__dict__)
        mapped = self.action_dist
        if isinstance(mapped, np.memmap) and mapped.filename is not None:
            state["action_dist"] = None
            state["mapped_path"] = mapped.filename
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        path = state.pop("mapped_path", None)
        self.__dict__.update(state)
        if path is not None:
            self.action_dist = np.load(path, mmap_mode="r", allow_pickle=False)

    def _read(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None, NDArray[np.float64] | None]:
        marginals = np.asarray(self.action_dist[rows], dtype=np.float64)
        slate = None if self.slate_probability is None else self.slate_probability[rows]
        return marginals, None, slate

    def _read_cascade(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
        if self.cascade_dist is None:
            return super()._read_cascade(rows)
        return np.asarray(self.cascade_dist[rows], dtype=np.float64), None


class ParquetTarget(ProbabilityTarget):
    """Target probabilities in a Parquet file, read by row groups as rows are asked for."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        self.path = Path(path)
        try:
            self.file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise InputValueError(f"{path} cannot be read as Parquet: {error}") from None
        schema = self.file.schema_arrow
        if ACTION_DIST not in schema.names:
            raise InputValueError(
                f"{path} has no {ACTION_DIST!r} column (a list per row of each candidate's "
                f"list of probabilities by position); its columns are {schema.names}."
            )
        for name in (ACTION_DIST, CASCADE_DIST):
            if name not in schema.names:
                continue
            kind = schema.field(name).type
            inner = getattr(kind, "value_type", None)
            value = getattr(inner, "value_type", None)
            if value is None or not pa.types.is_floating(value):
                raise InputTypeError(
                    f"{path}: column {name!r} must be a list of lists of floats; got {kind}."
                )
        self.has_cascade = CASCADE_DIST in schema.names
        self.has_slate_probability = SLATE_PROBABILITY in schema.names
        if self.has_slate_probability:
            slate_type = schema.field(SLATE_PROBABILITY).type
            if not pa.types.is_floating(slate_type):
                raise InputTypeError(
                    f"{path}: column {SLATE_PROBABILITY!r} must hold floats; got {slate_type}."
                )
        metadata = self.file.metadata
        self.n_rows = int(metadata.num_rows)
        sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.slate_size = self._first_slate_size()

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the open file (for the tasks of a partitioned evaluation, which
        open it again by its path)."""
        return {key: value for key, value in self.__dict__.items() if key != "file"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.file = pq.ParquetFile(self.path)

    def _first_slate_size(self) -> int:
        """The slate size, from the first row that has a candidate (0 for an empty file)."""
        for group in range(len(self.starts) - 1):
            column = self.file.read_row_group(group, columns=[ACTION_DIST]).column(0)
            inner = pc.list_flatten(column)
            if len(inner):
                return int(pc.list_value_length(inner)[0].as_py() or 0)
        return 0

    def _table(self, rows: NDArray[np.int64], columns: list[str]) -> pa.Table:
        """``columns`` of the file's rows ``rows`` (ascending), reading only their groups."""
        first = int(np.searchsorted(self.starts, rows[0], side="right")) - 1
        last = int(np.searchsorted(self.starts, rows[-1], side="right")) - 1
        table = self.file.read_row_groups(list(range(first, last + 1)), columns=columns)
        return table.take(pa.array(rows - self.starts[first]))

    def _read_cascade(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
        if rows.size == 0:
            return np.zeros((0, 0, self.slate_size)), np.zeros(0, dtype=np.int64)
        column = self._table(rows, [CASCADE_DIST]).column(CASCADE_DIST)
        return _dense(column, rows, self.slate_size, self.label, CASCADE_DIST)

    def _read(
        self, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64] | None, NDArray[np.float64] | None]:
        if rows.size == 0:
            return np.zeros((0, 0, self.slate_size)), np.zeros(0, dtype=np.int64), None
        columns = [ACTION_DIST] + ([SLATE_PROBABILITY] if self.has_slate_probability else [])
        table = self._table(rows, columns)
        marginals, lengths = _dense(table.column(ACTION_DIST), rows, self.slate_size, self.label)
        slate = None
        if self.has_slate_probability:
            column = table.column(SLATE_PROBABILITY)
            if column.null_count:
                row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise InputValueError(
                    f"{self.label}: {SLATE_PROBABILITY!r} of row {int(rows[row])} is null."
                )
            slate = column.to_numpy().astype(np.float64)
        return marginals, lengths, slate


def _dense(
    column: pa.ChunkedArray,
    rows: NDArray[np.int64],
    slate_size: int,
    label: str,
    name: str = ACTION_DIST,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A list-of-lists column ``name`` as (n, widest, slate_size) zero-padded, and each row's
    length."""
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputValueError(f"{label}: {name!r} of row {int(rows[row])} is null.")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    inner = pc.list_flatten(column)
    inner_lengths = pc.list_value_length(inner).to_numpy(zero_copy_only=False)
    bad = ~(inner_lengths == slate_size)  # a null inner list has no length
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(np.cumsum(lengths), flat, side="right"))
        candidate = flat - int(lengths[:row].sum())
        raise InputValueError(
            f"{label}: {name!r} of row {int(rows[row])}, candidate {candidate} has "
            f"{shown(inner[flat].as_py())}; every candidate needs a list of {slate_size} "
            f"probabilities (one per position)."
        )
    values = pc.list_flatten(inner).to_numpy(zero_copy_only=False).astype(np.float64)
    n, width = lengths.shape[0], int(lengths.max(initial=0))
    dense = np.zeros((n, width, slate_size))
    owner = np.repeat(np.arange(n), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    within = np.arange(owner.shape[0]) - np.repeat(starts, lengths)
    dense[owner, within] = values.reshape(-1, slate_size)
    return dense, lengths


def _check_marginals(
    raw: NDArray[np.float64],
    lengths: NDArray[np.int64] | None,
    obs: SlateObservation,
    rows: NDArray[np.int64],
    label: str,
    name: str = ACTION_DIST,
    slates: NDArray[np.int64] | None = None,
) -> NDArray[np.float64]:
    """``raw`` (the column ``name``) checked against the batch ``obs`` and padded or cut to
    its ``max_candidates``. With ``slates`` (a ``cascade_dist``: conditionals given the logged
    items above) a position below the top may also sum to 0, and the logged items above a
    position must have probability 0 there."""
    field = f"{label}: {name!r}"
    n = obs.n_candidates
    if lengths is not None:
        differs = lengths != n
        if differs.any():
            row = int(np.flatnonzero(differs)[0])
            raise InputValueError(
                f"{field} of row {int(rows[row])} lists {int(lengths[row])} candidates; the "
                f"log's row has {int(n[row])}."
            )
    elif raw.shape[1] < obs.max_candidates:
        row = int(np.flatnonzero(n > raw.shape[1])[0])
        raise InputValueError(
            f"{field} has {raw.shape[1]} candidates per row, but the log's row {int(rows[row])} "
            f"has {int(n[row])}."
        )
    bad = ~(np.isfinite(raw) & (raw >= 0))
    if bad.any():
        row, candidate, position = first_index(bad)
        raise InputValueError(
            f"{field} of row {int(rows[row])}, candidate {candidate}, position {position} is "
            f"{raw[row, candidate, position].item()!r}; probabilities must be finite and >= 0."
        )
    width = raw.shape[1]
    real = np.arange(width)[None, :] < n[:, None]
    padding = (raw != 0) & ~real[:, :, None]
    if padding.any():
        row, candidate, position = first_index(padding)
        raise InputValueError(
            f"{field} of row {int(rows[row])}, candidate {candidate}, position {position} is "
            f"{raw[row, candidate, position].item()!r}, but the log's row has only "
            f"{int(n[row])} candidates: padding must be 0."
        )
    totals = raw.sum(axis=1)
    off = ~(np.abs(totals - 1.0) <= SUM_TOLERANCE)
    if slates is not None:
        off[:, 1:] &= ~(np.abs(totals[:, 1:]) <= SUM_TOLERANCE)
    if off.any():
        row, position = first_index(off)
        allowed = "1" if slates is None or position == 0 else "1 (or 0 where the target never "
        allowed += "" if slates is None or position == 0 else "shows the logged items above)"
        raise InputValueError(
            f"{field} of row {int(rows[row])}, position {position} sums to "
            f"{totals[row, position].item()!r} over the candidates; it must sum to {allowed} "
            f"(within {SUM_TOLERANCE:g})."
        )
    if slates is not None:
        size = slates.shape[1]
        above = np.arange(size)[:, None] < np.arange(size)[None, :]  # (j, k): j above k
        values = np.take_along_axis(raw, slates[:, :, None], axis=1)  # (n, j, k)
        repeated = (values != 0) & above[None]
        if repeated.any():
            row, j, k = first_index(repeated)
            raise InputValueError(
                f"{field} of row {int(rows[row])}, position {k} gives candidate "
                f"{int(slates[row, j])} probability {values[row, j, k].item()!r}, but it is the "
                f"logged item at position {j}, above: it must be 0 there."
            )
    if width >= obs.max_candidates:
        return np.ascontiguousarray(raw[:, : obs.max_candidates])
    padded = np.zeros((raw.shape[0], obs.max_candidates, raw.shape[2]))
    padded[:, :width] = raw
    return padded


def _check_slate(
    slate: NDArray[np.float64],
    marginals: NDArray[np.float64],
    slates: NDArray[np.int64],
    rows: NDArray[np.int64],
    label: str,
) -> None:
    """A logged slate's probability is in [0, 1] and at most each of its items' marginals."""
    field = f"{label}: {SLATE_PROBABILITY!r}"
    bad = ~((slate >= 0) & (slate <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputValueError(
            f"{field} of row {int(rows[row])} is {slate[row].item()!r}; it must lie in [0, 1]."
        )
    lowest = shown_marginals(marginals, slates).min(axis=1)
    excess = slate > lowest + SUM_TOLERANCE
    if excess.any():
        row = int(np.flatnonzero(excess)[0])
        raise InputValueError(
            f"{field} of row {int(rows[row])} is {slate[row].item()!r}, more than the "
            f"{ACTION_DIST!r} marginal of one of the logged slate's items at its position "
            f"({lowest[row].item()!r}); a slate is never likelier than any of its items there."
        )


def check_uses(
    uses: frozenset[str],
    estimator: str,
    label: str,
    slate_size: int,
    has_slate: bool,
    has_cascade: bool = False,
) -> None:
    """Raise unless marginals (with a slate probability when ``has_slate``, and cascade
    conditionals when ``has_cascade``) give ``uses``."""
    if "slate" in uses and not (slate_size == 1 or has_slate):
        raise InputValueError(_refusal(label, "slate", estimator, slate_size, has_slate))
    if "prefix" in uses and not (slate_size == 1 or (slate_size == 2 and has_slate) or has_cascade):
        raise InputValueError(_refusal(label, "prefix", estimator, slate_size, has_slate))
    if "extensions" in uses and not (slate_size == 1 or has_cascade):
        raise InputValueError(_refusal(label, "extensions", estimator, slate_size, has_slate))


def _refusal(label: str, use: str, estimator: str, slate_size: int, has_slate: bool) -> str:
    if use == "slate":
        why = (
            "per-position marginals give it only for slates of one item, and this log has "
            f"slates of {slate_size}; add a {SLATE_PROBABILITY!r} column (the target's "
            f"probability of each logged slate), or use an estimator that needs only "
            f"marginals (iips, sniips, pi, snpi, dm)"
        )
    elif use == "extensions":
        why = (
            f"marginals give it only for slates of one item, and this log has slates of "
            f"{slate_size}; add a {CASCADE_DIST!r} column (each candidate's probability at "
            f"each position given the logged items above; bandits export probabilities "
            f"writes it) or give the target as a policy"
        )
    else:
        why = (
            f"marginals give k = 1 and a {SLATE_PROBABILITY!r} column k = slate_size, so "
            f"without a {CASCADE_DIST!r} column only slates of at most 2 items with that "
            f"column can have them (this log has slates of {slate_size}"
            + ("" if has_slate else f" and {label} has no {SLATE_PROBABILITY!r} column")
            + f"); add a {CASCADE_DIST!r} column (each candidate's probability at each "
            f"position given the logged items above; bandits export probabilities writes "
            f"it), give the target as a policy, or use iips or pi"
        )
    return f"Estimator {estimator!r} needs {USES[use]}, which {label} cannot give: {why}."


def probability_target(
    action_dist: ArrayLike,
    *,
    slate_probability: ArrayLike | None = None,
    cascade_dist: ArrayLike | None = None,
    label: str = "the target probabilities",
) -> ProbabilityTarget:
    """A target given as arrays aligned with a log's rows.

    Parameters
    ----------
    action_dist : array-like of float64, shape (n_rows, n_candidates, slate_size)
        obp's ``action_dist``: the target's probability of each candidate (in the log's
        candidate order; zero-padded after a row's candidates) at each position.
    slate_probability : array-like of float64, shape (n_rows,), optional
        The target's probability of each logged slate (needed by IPS, SNIPS and the DR family
        for slates of more than one item).
    cascade_dist : array-like of float64, shape (n_rows, n_candidates, slate_size), optional
        The target's probability of each candidate at each position given the row's logged
        items above it (needed by RIPS for slates of 3 or more items and by cascade DR for 2
        or more).
    label : str
        How messages name these probabilities.
    """
    return ArrayTarget(action_dist, slate_probability, label, cascade_dist)


def read_probability_target(path: str | os.PathLike[str]) -> ProbabilityTarget:
    """The target probabilities in ``path`` (``.parquet``, ``.npy`` or ``.npz``; see the
    module notes). Rows are read and checked as they are asked for."""
    file = check_regular_file(path, "file of target probabilities")
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return ParquetTarget(file)
    if suffix not in (".npy", ".npz"):
        raise InputValueError(
            f"{file}: a file of target probabilities must end in "
            f"{', '.join(PROBABILITY_SUFFIXES)}; got {shown(file.suffix)}."
        )
    try:
        if suffix == ".npy":
            return ArrayTarget(np.load(file, mmap_mode="r", allow_pickle=False), None, str(file))
        with np.load(file, allow_pickle=False) as archive:
            if ACTION_DIST not in archive.files:
                raise InputValueError(
                    f"{file} has no {ACTION_DIST!r} array; it holds {sorted(archive.files)}."
                )
            _check_fits_in_memory(file, archive, [ACTION_DIST, SLATE_PROBABILITY, CASCADE_DIST])
            slate = archive[SLATE_PROBABILITY] if SLATE_PROBABILITY in archive.files else None
            cascade = archive[CASCADE_DIST] if CASCADE_DIST in archive.files else None
            return ArrayTarget(np.asarray(archive[ACTION_DIST]), slate, str(file), cascade)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if isinstance(error, InputValueError):
            raise
        raise InputValueError(f"{file} cannot be read as a NumPy array: {error}") from None


def available_memory() -> int:
    """Bytes of physical memory free now (all of it where the system does not say)."""
    try:
        with open("/proc/meminfo") as info:  # MemAvailable counts reclaimable page cache
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63


def _check_fits_in_memory(file: Path, archive: Any, names: list[str]) -> None:
    """Refuse an ``.npz`` whose arrays ``names`` (those present) declare more bytes than the
    free memory: an archive is read whole, and a few compressed megabytes can declare
    gigabytes. Reads only each array's header."""
    declared = 0.0
    for name in names:
        if name not in archive.files:
            continue
        member_names = archive.zip.namelist()
        member = f"{name}.npy" if f"{name}.npy" in member_names else name
        with archive.zip.open(member) as opened:
            major, _ = np.lib.format.read_magic(opened)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(opened)
        with np.errstate(over="ignore"):  # a header may declare more than a float holds
            declared += float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    free = available_memory()
    if declared > free:
        raise InputValueError(
            f"{file} declares {declared / 2**30:.3g} GiB of arrays, more than the "
            f"{free / 2**30:.3g} GiB of memory free, and an .npz is read whole: save the "
            f"probabilities as .npy (memory-mapped) or Parquet (streamed) instead."
        )


def write_probability_target(
    path: str | os.PathLike[str],
    batches: Iterator[LoggedBandit],
    policy: Policy,
    *,
    overwrite: bool = False,
) -> int:
    """Write ``policy``'s probabilities on the logged rows of ``batches`` (e.g.
    ``bandits.logs.iter_log_batches(log)``) as a Parquet file of target probabilities, with
    the ``slate_probability`` of each logged slate and, for slates of 2 or more items, the
    ``cascade_dist`` of each row (the policy asked ``max_candidates x slate_size`` more times
    a batch); returns the number of rows written.

    One row group per batch, so reading it back streams; written atomically.
    """
    nested = pa.list_(pa.list_(pa.float64()))
    fields = [(ACTION_DIST, nested), (SLATE_PROBABILITY, pa.float64())]
    written = 0
    with atomic_path(path, replace=overwrite) as temporary:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                obs = batch.observation
                cascade = batch.slate_size > 1
                if writer is None:
                    schema = pa.schema([*fields, *([(CASCADE_DIST, nested)] if cascade else [])])
                    writer = pq.ParquetWriter(temporary, schema)
                marginals = np.asarray(policy.candidate_position_probability(obs), np.float64)
                slate = np.asarray(policy.slate_probability(obs, batch.slates), np.float64)
                columns = [_nested(marginals, obs.n_candidates), slate]
                if cascade:
                    conditional = conditional_probabilities(policy, batch)
                    columns.append(_nested(conditional, obs.n_candidates))
                writer.write_table(pa.table(columns, schema=writer.schema))
                written += len(batch)
            if writer is None:  # no batches: an empty file of the plain layout
                writer = pq.ParquetWriter(temporary, pa.schema(fields))
        finally:
            if writer is not None:
                writer.close()
    return written


def _nested(marginals: NDArray[np.float64], n_candidates: NDArray[np.int64]) -> pa.ListArray:
    """(n, width, k) marginals as a list per row of its first ``n_candidates`` candidates."""
    k = marginals.shape[2]
    real = np.arange(marginals.shape[1])[None, :] < n_candidates[:, None]
    values = pa.array(marginals[real].reshape(-1))
    starts = np.arange(0, len(values) + 1, k, dtype=np.int32)
    inner = pa.ListArray.from_arrays(pa.array(starts), values)
    offsets = np.concatenate([[0], np.cumsum(n_candidates)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)
