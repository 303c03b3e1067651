"""A log in memory or on disk seen as batches in row order, and the rows a command works on:
a range of rows (``--rows START:END``) and, within it, a training split by time.

Shared by :func:`bandits.ope.evaluate_log` and :func:`bandits.run.learn_from_log`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit, time_split_mask
from bandits.logs.parquet import DEFAULT_BATCH_BYTES, open_log
from bandits.validation import InputValueError, check_integer, check_real, shown

RowRange = tuple[int | None, int | None]
"""``(start, stop)`` in file order, half-open, either side open (None); negative counts from
the end, as in a Python slice."""


class LogSource:
    """A log in memory or on disk, seen as batches in row order.

    Parameters
    ----------
    log : LoggedBandit or path-like
    batch_bytes : int
    row_groups : range, optional
        Only these row groups of a file (a partition); row numbers stay the whole file's.
    """

    def __init__(
        self,
        log: LoggedBandit | str | os.PathLike[str],
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        row_groups: range | None = None,
    ) -> None:
        self.batch_bytes = check_integer(batch_bytes, "batch_bytes", "LogSource", low=1)
        self.row_groups = row_groups
        self.first_row = 0
        if isinstance(log, LoggedBandit):
            self.memory: LoggedBandit | None = log
            self.label = "the log"
            self.n_rows = len(log)
            self.slate_size = log.slate_size
        else:
            self.memory = None
            self.file = open_log(log)
            self.label = str(log)
            self.n_rows = self.file.n_rows
            self.slate_size = self.file.slate_size
            if row_groups is not None:
                starts = self.file.row_group_starts()
                self.first_row = int(starts[row_groups.start])
                self.n_rows = int(starts[row_groups.stop]) - self.first_row

    def times(self) -> NDArray[np.int64]:
        if self.memory is not None:
            return self.memory.observation.times
        return self.file.read_times()

    def batches(
        self, keep: NDArray[np.bool_] | SplitRule | None
    ) -> Iterator[tuple[LoggedBandit, NDArray[np.int64]]]:
        """(batch restricted to ``keep``, its row numbers in the whole log), skipping empty
        batches; ``keep`` has one entry per row of this source (from ``first_row``), or is a
        :class:`SplitRule` each batch applies to its own rows."""
        start = self.first_row
        for batch in self._all_batches():
            rows = np.arange(start, start + len(batch))
            start += len(batch)
            if keep is not None:
                if isinstance(keep, SplitRule):
                    chosen = keep.rest(rows, batch.observation.times)
                else:
                    chosen = keep[rows - self.first_row]
                if not chosen.any():
                    continue
                if not chosen.all():
                    batch, rows = batch.take(np.flatnonzero(chosen)), rows[chosen]
            if len(batch):
                yield batch, rows

    def _all_batches(self) -> Iterator[LoggedBandit]:
        if self.memory is None:
            yield from self.file.iter_batches(
                batch_bytes=self.batch_bytes, row_groups=self.row_groups
            )
            return
        log = self.memory
        size = max(1, self.batch_bytes // log.observation.bytes_per_row)
        for start in range(0, len(log), size):
            yield log.take(np.arange(start, min(start + size, len(log))))


class RowSplit(NamedTuple):
    """Which rows train and which are worked on (masks over the log's rows). ``train`` is
    None when no row trains; ``rest`` is None when every row of the log is in it."""

    train: NDArray[np.bool_] | None
    rest: NDArray[np.bool_] | None
    n_train: int
    n_rest: int


class SplitRule(NamedTuple):
    """The rows worked on, as a rule a batch applies to its own rows and times (no mask over
    the whole log): rows ``start <= row < stop`` that do not train, where a row trains when
    its time is below ``time``, or equal to it with a row number below ``tie_row`` (the oldest
    rows, ties by row order, as :func:`split_rows` chooses them; ``time`` None: none trains).
    """

    start: int
    stop: int
    time: int | None = None
    tie_row: int = 0

    def rest(self, rows: NDArray[np.int64], times: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Which of ``rows`` (whole-log numbers) with ``times`` are worked on, shape (n,)."""
        inside = (rows >= self.start) & (rows < self.stop)
        if self.time is None:
            return inside
        train = (times < self.time) | ((times == self.time) & (rows < self.tie_row))
        return np.asarray(inside & ~train, dtype=np.bool_)


def range_rule(n_rows: int, rows: RowRange | None) -> SplitRule:
    """The rule of ``rows`` (all by default) with no training split."""
    start, stop, _ = slice(*(rows or (None, None))).indices(n_rows)
    return SplitRule(start, max(start, stop))


def split_rule(source: LogSource, rows: RowRange | None, split: RowSplit) -> SplitRule:
    """``split`` (of :func:`split_rows` on ``source`` and ``rows``) as a :class:`SplitRule`;
    reads the time column (where the split was made: a training task on a cluster)."""
    rule = range_rule(source.n_rows, rows)
    if split.train is None or split.n_train == 0:
        return rule
    times = source.times()
    trained = np.flatnonzero(split.train)
    last = int(times[trained].max())
    ties = trained[times[trained] == last]
    return rule._replace(time=last, tie_row=int(ties.max()) + 1)


def split_rows(source: LogSource, rows: RowRange | None, train_fraction: float) -> RowSplit:
    """The rows in ``rows`` (all by default), split into the oldest ``train_fraction`` (by
    time, ties by row order) and the rest."""
    fraction = check_real(train_fraction, "train_fraction", "split_rows", low=0.0, high=1.0)
    chosen: NDArray[np.bool_] | None = None
    if rows is not None:
        start, stop, _ = slice(*rows).indices(source.n_rows)
        chosen = np.zeros(source.n_rows, dtype=np.bool_)
        chosen[start:stop] = True
    n = source.n_rows if chosen is None else int(chosen.sum())
    if fraction == 0:
        return RowSplit(None, chosen, 0, n)
    if fraction == 1:  # every chosen row trains: no need to read the times
        everything = np.ones(source.n_rows, dtype=np.bool_) if chosen is None else chosen
        return RowSplit(everything, np.zeros(source.n_rows, dtype=np.bool_), n, 0)
    times = source.times()
    if chosen is None:
        train = time_split_mask(times, fraction)
        rest = ~train
    else:
        inside = np.flatnonzero(chosen)
        train = np.zeros(source.n_rows, dtype=np.bool_)
        train[inside[time_split_mask(times[inside], fraction)]] = True
        rest = chosen & ~train
    return RowSplit(train, rest, int(train.sum()), int(rest.sum()))


def parse_row_range(text: str) -> RowRange:
    """``"START:END"`` (either side may be empty; negative counts from the end) as a pair."""
    start, colon, stop = text.partition(":")
    if not colon:
        raise InputValueError(
            f"--rows takes START:END (e.g. 0:8000, 8000:, :-1000); got {shown(text)}."
        )
    bounds: list[int | None] = []
    for part in (start, stop):
        part = part.strip()
        try:
            bounds.append(int(part) if part else None)
        except ValueError:
            raise InputValueError(
                f"--rows takes START:END with whole numbers (e.g. 0:8000, 8000:); got "
                f"{shown(text)}."
            ) from None
    return bounds[0], bounds[1]
