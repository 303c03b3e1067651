"""Evaluate target policies on a log: optional training split, then every estimator, streamed.

This is the work behind ``bandits evaluate``, callable from Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bandits.logged import LoggedBandit, time_split_mask
from bandits.logs import DEFAULT_BATCH_BYTES, open_log
from bandits.ope.base import Estimator, EstimatorInput, target_probabilities
from bandits.ope.statistics import EstimatorStatistics
from bandits.policy import Policy
from bandits.run.replay import replay_updates
from bandits.validation import (
    InputError,
    InputValueError,
    check_integer,
    check_real,
    renumber_rows,
)

ESTIMATE_COLUMNS = (
    "target",
    "estimator",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "confidence",
    "n",
    "n_train",
    "effective_sample_size",
    "max_weight",
    "mean_weight",
    "warnings",
    "interval",
    "unsupported_mass",
    "tuning",
)
"""Columns of the table :func:`evaluate_log` returns, one row per target x estimator."""


def evaluate_log(
    log: LoggedBandit | str | os.PathLike[str],
    targets: Mapping[str, Policy],
    estimators: Sequence[Estimator],
    *,
    train_fraction: float = 0.0,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    on_rows: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Estimate each target's value per request on ``log`` with each estimator.

    With ``train_fraction > 0`` the oldest share of rows (by time, ties by row order) trains
    each target first (replayed through ``update`` in row order) and the rest evaluates it;
    with 0 every row evaluates the targets as given. Estimators with a reward model (DM, DR,
    ...) fit it, cross-fitted, on the evaluation rows in one more pass before the estimating
    pass (see :mod:`bandits.ope.crossfit`); the model is of the log, so all targets share it.
    A log on disk is streamed in batches of about ``batch_bytes``, so memory stays flat in the
    number of rows (a scikit-learn reward model keeps its training rows), except that a training
    split reads the ``time`` column whole (about 9 bytes a row: 0.9 GB for 100 million rows);
    each target's probabilities are computed once per batch for all estimators.

    Parameters
    ----------
    log : LoggedBandit or path-like
    targets : mapping of str to Policy
        Display name -> policy.
    estimators : sequence of Estimator
    train_fraction : float in [0, 1)
    batch_bytes : int
    on_rows : callable, optional
        Called with the number of rows done after each batch of each pass (progress bars):
        training, fitting reward models (when an estimator has one), estimating.

    Returns
    -------
    pandas.DataFrame
        Columns ``ESTIMATE_COLUMNS``, one row per target x estimator.
    """
    fraction = check_real(
        train_fraction, "train_fraction", "evaluate_log", low=0.0, high=1.0, high_open=True
    )
    batch_bytes = check_integer(batch_bytes, "batch_bytes", "evaluate_log", low=1)
    if not targets or not estimators:
        raise InputValueError("evaluate_log needs at least one target and one estimator.")
    source = _Source(log, batch_bytes)
    train = time_split_mask(source.times(), fraction) if fraction > 0 else None
    n_train = 0 if train is None else int(train.sum())
    if source.n_rows - n_train < 2:
        raise InputValueError(
            f"{source.label} leaves {source.n_rows - n_train} row(s) to evaluate on; it needs "
            f"at least 2."
        )
    if train is not None:
        for batch, rows in source.batches(train):
            for policy in targets.values():
                replay_updates(policy, batch)
            if on_rows is not None:
                on_rows(int(rows.size))
    evaluation = None if train is None else ~train
    fitting = [estimator for estimator in estimators if estimator.needs_fit]
    if fitting:
        for estimator in fitting:
            estimator.start_fit()
        for batch, rows in source.batches(evaluation):
            try:
                for estimator in fitting:
                    estimator.fit_batch(batch)
            except InputError as error:
                raise renumber_rows(error, rows, f"{source.label}: ") from None
            if on_rows is not None:
                on_rows(int(rows.size))
        for estimator in fitting:
            estimator.finish_fit()
    merged: dict[tuple[str, int], EstimatorStatistics] = {}
    for batch, rows in source.batches(evaluation):
        try:
            for name, policy in targets.items():
                data = EstimatorInput(batch, target_probabilities(policy, batch), policy)
                for index, estimator in enumerate(estimators):
                    part = estimator.statistics_of(data)
                    key = (name, index)
                    merged[key] = part if key not in merged else merged[key].merge(part)
        except InputError as error:  # name the log and its row, not the batch's
            raise renumber_rows(error, rows, f"{source.label}: ") from None
        if on_rows is not None:
            on_rows(int(rows.size))
    table = [
        {
            "target": name,
            "n_train": n_train,
            **estimator.finalize(merged[(name, index)]).as_dict(),
        }
        for name in targets
        for index, estimator in enumerate(estimators)
    ]
    return pd.DataFrame(table, columns=list(ESTIMATE_COLUMNS))


class _Source:
    """A log in memory or on disk, seen as batches in row order."""

    def __init__(self, log: LoggedBandit | str | os.PathLike[str], batch_bytes: int) -> None:
        self.batch_bytes = batch_bytes
        if isinstance(log, LoggedBandit):
            self.memory: LoggedBandit | None = log
            self.label = "the log"
            self.n_rows = len(log)
        else:
            self.memory = None
            self.file = open_log(log)
            self.label = str(log)
            self.n_rows = self.file.n_rows

    def times(self) -> NDArray[np.int64]:
        if self.memory is not None:
            return self.memory.observation.times
        return self.file.read_times()

    def batches(
        self, keep: NDArray[np.bool_] | None
    ) -> Iterator[tuple[LoggedBandit, NDArray[np.int64]]]:
        """(batch restricted to ``keep``, its global row numbers), skipping empty batches."""
        start = 0
        for batch in self._all_batches():
            rows = np.arange(start, start + len(batch))
            start += len(batch)
            if keep is not None:
                chosen = keep[rows]
                if not chosen.any():
                    continue
                if not chosen.all():
                    batch, rows = batch.take(np.flatnonzero(chosen)), rows[chosen]
            if len(batch):
                yield batch, rows

    def _all_batches(self) -> Iterator[LoggedBandit]:
        if self.memory is None:
            yield from self.file.iter_batches(batch_bytes=self.batch_bytes)
            return
        log = self.memory
        size = max(1, self.batch_bytes // log.observation.bytes_per_row)
        for start in range(0, len(log), size):
            yield log.take(np.arange(start, min(start + size, len(log))))
