"""The fitting and estimating passes of an evaluation, one Parquet row group per task, on local
processes or a Dask cluster (:func:`bandits.run.executors.run_tasks`).

Each task opens the log and reads its row groups in batches. A fitting task learns its
evaluation rows into fresh copies of the estimators' cross-fitted reward models and returns
what they learned (the ridge model's sums; a scikit-learn model's rows); the caller merges them
in row-group order and fits. An estimating task computes every (target, estimator)'s
sufficient statistics over its evaluation rows; the caller merges them in row-group order. The
estimates therefore equal the in-process passes' up to the rounding of a different grouping
of the same sums (about 1e-15 relative). Nothing random depends on the partition:
cross-fitting folds and Poisson bootstrap weights come from streams keyed by each row's request
id and time (:mod:`bandits.ope.rowkeys`) and the estimator's salt (pickled with it), and
Monte-Carlo targets draw per request. Tasks run with one BLAS thread.

What the tasks need is shipped to them pickled, in each task: the targets (already trained on
the training split, on the caller's side, exactly as the in-process path trains them; for
fitting only when a model depends on the target, as cascade DR's ``Q`` does) and the
estimators (with their fitted reward models, for estimating). A task unpickles its own copy,
so tasks sharing a process never share a cache. Each task also gets its rows' share of the
evaluation mask (None when every row evaluates).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from bandits.logs.source import LogSource
from bandits.ope.base import Estimator
from bandits.ope.sources import (
    Statistics,
    batch_statistics,
    fit_batches,
    merge_statistics,
)
from bandits.ope.targets import ProbabilityTarget
from bandits.policy import Policy
from bandits.run.executors import run_tasks
from bandits.validation import InputTypeError

FIT, STATISTICS = "fit", "statistics"
"""What a task does: learn its rows into the reward models, or compute the statistics."""


@dataclass(frozen=True)
class PartitionTask:
    """One task: a range of a log's row groups and what to do on it.

    Attributes
    ----------
    job : {"fit", "statistics"}
    path : str
    row_groups : range
    keep : ndarray of bool, shape (rows of the partition,), or None
        Which of the partition's rows evaluate (None: all).
    work : bytes
        ``pickle`` of ``(targets, estimators)`` (``fit``: the estimators that fit).
    batch_bytes : int
    blas_threads : int
    """

    job: str
    path: str
    row_groups: range
    keep: NDArray[np.bool_] | None
    work: bytes
    batch_bytes: int
    blas_threads: int = 1


@dataclass(frozen=True)
class PartitionResult:
    """A task's result (its statistics, or each fitting estimator's ``fit_state``) and how
    many rows it read."""

    result: Any
    n_rows: int


def run_partition(task: PartitionTask) -> PartitionResult:
    """Run one task (in a worker)."""
    targets, estimators = pickle.loads(task.work)
    source = LogSource(task.path, task.batch_bytes, task.row_groups)
    counted = [0]

    def count(rows: int) -> None:
        counted[0] += rows

    with threadpool_limits(task.blas_threads, user_api="blas"):
        batches = source.batches(task.keep)
        if task.job == FIT:
            for estimator in estimators:
                estimator.start_fit()
            fit_batches(batches, estimators, source.label, count, targets)
            result: Any = [estimator.fit_state() for estimator in estimators]
        else:
            result = batch_statistics(batches, targets, estimators, source.label, count)
    return PartitionResult(result, counted[0])


class Partitions:
    """A log file's evaluation rows as tasks of one row group each.

    Parameters
    ----------
    path : path-like
        The log file.
    keep : ndarray of bool, shape (n_rows,), or None
        The evaluation rows (None: all).
    row_group_starts : ndarray of int64, shape (n_row_groups + 1,)
        ``LogFile.row_group_starts()`` of the file.
    executor : {"local", "dask"}
    workers, scheduler
        As :func:`bandits.run.executors.run_tasks` takes them.
    batch_bytes : int
        Memory of one batch within a task.
    on_rows : callable, optional
        Called with each finished task's number of rows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        keep: NDArray[np.bool_] | None,
        row_group_starts: NDArray[np.int64],
        *,
        executor: str,
        workers: int | None = None,
        scheduler: str | None = None,
        batch_bytes: int,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        self.path = str(path)
        self.executor, self.workers, self.scheduler = executor, workers, scheduler
        self.batch_bytes = batch_bytes
        self.on_rows = on_rows
        self.parts: list[tuple[range, NDArray[np.bool_] | None]] = []
        for group in range(row_group_starts.shape[0] - 1):
            start, stop = int(row_group_starts[group]), int(row_group_starts[group + 1])
            part = None if keep is None else keep[start:stop]
            if part is None or part.any():
                self.parts.append((range(group, group + 1), part))

    def _run(self, job: str, work: bytes) -> list[Any]:
        """Every partition's result, in row order."""
        tasks = [
            PartitionTask(job, self.path, groups, keep, work, self.batch_bytes)
            for groups, keep in self.parts
        ]
        results: list[Any] = [None] * len(tasks)
        for index, done in run_tasks(
            run_partition,
            tasks,
            executor=self.executor,
            workers=self.workers,
            scheduler=self.scheduler,
        ):
            results[index] = done.result
            if self.on_rows is not None:
                self.on_rows(done.n_rows)
        return results

    def fit(
        self,
        estimators: Sequence[Estimator],
        targets: Mapping[str, Policy | ProbabilityTarget] | None = None,
    ) -> None:
        """Fit the estimators' reward models: each task learns its rows into fresh copies,
        and the copies' sums are merged into ``estimators`` in row order, then finished.
        ``targets`` go to the tasks only when an estimator's model depends on the target
        (cascade DR's ``Q``)."""
        for estimator in estimators:
            estimator.start_fit()
        needed = targets if targets and any(e.fits_target for e in estimators) else {}
        for states in self._run(FIT, _pickled(needed, estimators)):
            for estimator, state in zip(estimators, states, strict=True):
                estimator.merge_fit(state)
        for estimator in estimators:
            estimator.finish_fit()

    def statistics(
        self, targets: Mapping[str, Policy | ProbabilityTarget], estimators: Sequence[Estimator]
    ) -> Statistics:
        """Every (target, estimator)'s statistics over the rows, merged in row order."""
        return merge_statistics(self._run(STATISTICS, _pickled(targets, estimators)))


def _pickled(
    targets: Mapping[str, Policy | ProbabilityTarget], estimators: Sequence[Estimator]
) -> bytes:
    """``(targets, estimators)`` pickled, or an error naming the one that cannot be sent."""
    try:
        return pickle.dumps((dict(targets), list(estimators)))
    except Exception:  # pickling raises many types (TypeError, PicklingError, ...)
        pass
    for name, thing in [*targets.items(), *((e.label, e) for e in estimators)]:
        try:
            pickle.dumps(thing)
        except Exception as error:
            raise InputTypeError(
                f"{name} cannot be sent to the workers of a partitioned evaluation (it does "
                f"not pickle: {error}); evaluate it without an executor."
            ) from None
    raise InputTypeError("the targets and estimators cannot be sent to the workers together.")
