"""Rows of an import, gathered one request at a time and written to a log in bounded batches.

Importers read other formats record by record (a DSJson line, a group of CSV rows); a
:class:`RowBuffer` holds at most ``batch_rows`` of those requests, then builds one checked
:class:`~bandits.logged.LoggedBandit` from them and hands it to a
:class:`~bandits.logs.LogWriter`. Items are remembered once by id (:class:`ItemRegistry`), so a
catalogue seen a million times is stored once, and an item whose features change between
records is an error naming the record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs.parquet import LogWriter
from bandits.observation import PAD_ID, SlateObservation, row_bytes
from bandits.validation import InputError, InputValueError, brief


@dataclass
class ImportSummary:
    """What an import did.

    Attributes
    ----------
    rows : int
        Requests written to the log.
    skipped : dict of str to int
        Records not written, by reason (e.g. ``"skip_learn"``, ``"malformed"``).
    batches : int
        Batches handed to the log writer.
    largest_batch : int
        Most requests held in memory at once.
    """

    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    largest_batch: int = 0

    def skip(self, reason: str) -> None:
        """Count one record skipped for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def line(self) -> str:
        """One line for the command line: ``12 rows; skipped: 2 skip_learn, 1 malformed``."""
        parts = [f"{count:,} {reason}" for reason, count in sorted(self.skipped.items())]
        return f"{self.rows:,} rows; skipped: {', '.join(parts) if parts else 'none'}"


def stable_id(value: str) -> int:
    """A non-negative int64 id for a string: the first 63 bits of its BLAKE2b digest (the same
    on every machine and run, unlike Python's ``hash``)."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders numbers inside names by value: ``x[2]`` before ``x[10]``."""
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in _DIGITS.split(name))


PYTHON_ROW_FACTOR = 10
"""How many times its array size a request takes while it waits in the buffer as Python
objects (a dict of lists and floats); measured on DSJson imports."""


def batch_rows_for(
    batch_bytes: int, *, n_context: int, max_candidates: int, n_item: int, slate_size: int
) -> int:
    """Requests per batch so that one batch takes about ``batch_bytes`` in memory, counting
    the Python objects the buffer holds before the batch becomes arrays."""
    per_row = row_bytes(
        n_context_features=n_context,
        max_candidates=max_candidates,
        n_item_features=n_item,
        slate_size=slate_size,
    )
    return max(1, batch_bytes // (PYTHON_ROW_FACTOR * per_row))


class ItemRegistry:
    """Every item seen so far: id -> features (n_item_features,), float64.

    Memory grows with the number of distinct items, never with the number of records.
    """

    def __init__(self, n_item_features: int) -> None:
        self.n_item_features = n_item_features
        self._features: dict[int, NDArray[np.float64]] = {}

    def add(self, item_id: int, features: NDArray[np.float64], where: str) -> None:
        """Remember ``item_id``; raise naming ``where`` if it was seen with other features."""
        known = self._features.get(item_id)
        if known is None:
            self._features[item_id] = features
        elif not np.array_equal(known, features):
            raise InputValueError(
                f"{where}: item {item_id} has the features {brief(features)} here but "
                f"{brief(known)} earlier; an item must keep its features (give each its own id)."
            )

    def table(self, ids: NDArray[np.int64]) -> ItemTable:
        """The items ``ids`` (distinct, all seen) as an item table."""
        features = np.zeros((ids.shape[0], self.n_item_features))
        for row, item in enumerate(ids.tolist()):
            features[row] = self._features[item]
        return ItemTable(ids, features)


class RowBuffer:
    """Requests of an import, written to ``writer`` as a checked batch every ``batch_rows``.

    Parameters
    ----------
    writer : LogWriter
    slate_size, n_context_features, n_item_features : int
        The layout of every request.
    signals : sequence of str
        Names of the per-position signals every request carries.
    policy : str
        The logging policy's name, for every row.
    batch_rows : int
        Most requests held before a batch is written.
    summary : ImportSummary
        Counts rows and batches.
    """

    def __init__(
        self,
        writer: LogWriter,
        *,
        slate_size: int,
        n_context_features: int,
        n_item_features: int,
        signals: Sequence[str],
        policy: str,
        batch_rows: int,
        summary: ImportSummary,
    ) -> None:
        self.writer = writer
        self.slate_size = slate_size
        self.n_context_features = n_context_features
        self.items = ItemRegistry(n_item_features)
        self.signals = list(signals)
        self.policy = policy
        self.batch_rows = max(1, batch_rows)
        self.summary = summary
        self._rows: list[dict[str, Any]] = []
        self._where: list[str] = []

    def add(
        self,
        *,
        where: str,
        request_id: int,
        time: int,
        context: NDArray[np.float64],
        candidate_ids: NDArray[np.int64],
        candidate_features: NDArray[np.float64] | None,
        slate: NDArray[np.int64],
        slate_probability: float,
        position_probability: NDArray[np.float64],
        rewards: NDArray[np.float64],
        signals: Mapping[str, NDArray[np.float64]],
    ) -> None:
        """Add one request (``where`` names its record in errors: ``file:line``).

        ``candidate_features`` has shape (n_candidates, n_item_features), or is None when
        every candidate is already in ``items``; ``slate``, ``position_probability``,
        ``rewards`` and each signal have shape (slate_size,).
        """
        if candidate_features is not None:
            for item, features in zip(candidate_ids.tolist(), candidate_features, strict=True):
                self.items.add(item, features, where)
        self._rows.append(
            {
                "request_id": request_id,
                "time": time,
                "context": context,
                "candidate_ids": candidate_ids,
                "slate": slate,
                "slate_probability": slate_probability,
                "position_probability": position_probability,
                "rewards": rewards,
                "signals": signals,
            }
        )
        self._where.append(where)
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Write the held requests as one batch (with ``force``, even none: an empty log
        still needs one batch to fix its layout)."""
        if not self._rows and not (force and self.summary.batches == 0):
            return
        rows, where = self._rows, self._where
        try:
            batch = self._batch(rows)
        except InputError as error:  # name the records, not the batch's rows
            raise _name_records(error, where) from None
        self.writer.write(batch)
        self.summary.rows += len(rows)
        self.summary.batches += 1
        self.summary.largest_batch = max(self.summary.largest_batch, len(rows))
        self._rows, self._where = [], []

    def _batch(self, rows: list[dict[str, Any]]) -> LoggedBandit:
        n, k = len(rows), self.slate_size

        def column(name: str, dtype: type, shape: tuple[int, ...]) -> NDArray[Any]:
            values: NDArray[Any] = np.array([row[name] for row in rows], dtype=dtype)
            return values.reshape(shape)

        counts = np.array([len(row["candidate_ids"]) for row in rows], dtype=np.int64)
        width = int(counts.max(initial=k))
        ids = np.full((n, width), PAD_ID, dtype=np.int64)
        mask = np.arange(width) < counts[:, None]
        if n:
            ids[mask] = np.concatenate([row["candidate_ids"] for row in rows])
        observation = SlateObservation(
            context=column("context", np.float64, (n, self.n_context_features)),
            candidate_ids=ids,
            n_candidates=counts,
            slate_size=k,
            history=np.zeros((n, 0), dtype=np.int64),
            request_ids=column("request_id", np.int64, (n,)),
            user_ids=np.full(n, PAD_ID, dtype=np.int64),
            times=column("time", np.int64, (n,)),
            items=self.items.table(np.unique(ids[mask])),
        )
        decision = SlateDecision(
            column("slate", np.int64, (n, k)),
            column("slate_probability", np.float64, (n,)),
            column("position_probability", np.float64, (n, k)),
        )
        signals = {
            name: np.array([row["signals"][name] for row in rows], dtype=np.float64).reshape(n, k)
            for name in self.signals
        }
        feedback = SlateFeedback(column("rewards", np.float64, (n, k)), signals)
        return LoggedBandit(observation, decision, feedback, np.full(n, self.policy))


def _name_records(error: InputError, where: list[str]) -> InputError:
    """The same error with each ``row N`` of a batch replaced by that record's name."""

    def record(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return where[index] if index < len(where) else match.group(0)

    return type(error)(re.sub(r"\brow (\d+)", record, str(error)))
