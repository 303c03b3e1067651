"""The rows an evaluation reads (a log in memory, a file, or a range of a file's row groups)
and the statistics pass over them, shared by the in-process and the partitioned evaluation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.logs import open_log
from bandits.ope.base import Estimator, EstimatorInput, target_probabilities
from bandits.ope.statistics import EstimatorStatistics
from bandits.policy import Policy
from bandits.validation import InputError, renumber_rows

Statistics = dict[tuple[str, int], EstimatorStatistics]
"""Merged statistics per (target name, estimator index)."""


class LogSource:
    """A log in memory or on disk, seen as batches in row order.

    Parameters
    ----------
    log : LoggedBandit or path-like
    batch_bytes : int
    row_groups : range, optional
        Only these row groups of a file (a partition); row numbers stay the file's.
    """

    def __init__(
        self,
        log: LoggedBandit | str | os.PathLike[str],
        batch_bytes: int,
        row_groups: range | None = None,
    ) -> None:
        self.batch_bytes = batch_bytes
        self.row_groups = row_groups
        self.first_row = 0
        if isinstance(log, LoggedBandit):
            self.memory: LoggedBandit | None = log
            self.label = "the log"
            self.n_rows = len(log)
        else:
            self.memory = None
            self.file = open_log(log)
            self.label = str(log)
            self.n_rows = self.file.n_rows
            if row_groups is not None:
                starts = self.file.row_group_starts()
                self.first_row = int(starts[row_groups.start])
                self.n_rows = int(starts[row_groups.stop]) - self.first_row

    def times(self) -> NDArray[np.int64]:
        if self.memory is not None:
            return self.memory.observation.times
        return self.file.read_times()

    def batches(
        self, keep: NDArray[np.bool_] | None
    ) -> Iterator[tuple[LoggedBandit, NDArray[np.int64]]]:
        """(batch restricted to ``keep``, its row numbers in the whole log), skipping empty
        batches; ``keep`` has one entry per row of this source (from ``first_row``)."""
        start = self.first_row
        for batch in self._all_batches():
            rows = np.arange(start, start + len(batch))
            start += len(batch)
            if keep is not None:
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


def fit_batches(
    batches: Iterable[tuple[LoggedBandit, NDArray[np.int64]]],
    estimators: Sequence[Estimator],
    label: str,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Feed every batch to each estimator's :meth:`~Estimator.fit_batch`, in order; input
    errors name ``label`` and the row in the whole log."""
    for batch, rows in batches:
        try:
            for estimator in estimators:
                estimator.fit_batch(batch)
        except InputError as error:
            raise renumber_rows(error, rows, f"{label}: ") from None
        if on_batch is not None:
            on_batch(int(rows.size))


def batch_statistics(
    batches: Iterable[tuple[LoggedBandit, NDArray[np.int64]]],
    targets: Mapping[str, Policy],
    estimators: Sequence[Estimator],
    label: str,
    on_batch: Callable[[int], None] | None = None,
) -> Statistics:
    """Every (target, estimator)'s statistics merged over ``batches`` in their order; each
    target's probabilities are computed once per batch. Input errors name ``label`` and the
    row in the whole log. ``on_batch``, if given, gets each batch's number of rows."""
    merged: Statistics = {}
    for batch, rows in batches:
        try:
            for name, policy in targets.items():
                data = EstimatorInput(batch, target_probabilities(policy, batch), policy)
                for index, estimator in enumerate(estimators):
                    part = estimator.statistics_of(data)
                    key = (name, index)
                    merged[key] = part if key not in merged else merged[key].merge(part)
        except InputError as error:  # name the log and its row, not the batch's
            raise renumber_rows(error, rows, f"{label}: ") from None
        if on_batch is not None:
            on_batch(int(rows.size))
    return merged


def merge_statistics(parts: Iterable[Statistics]) -> Statistics:
    """``parts`` (each a partition's statistics, in row order) merged in the order given."""
    merged: Statistics = {}
    for part in parts:
        for key, value in part.items():
            merged[key] = value if key not in merged else merged[key].merge(value)
    return merged
