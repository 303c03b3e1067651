"""The statistics pass of an evaluation, one Parquet row group per task, on local processes or
a Dask cluster (:func:`bandits.run.executors.run_tasks`).

Each task opens the log, reads its row groups in batches, computes every (target, estimator)'s
sufficient statistics over its evaluation rows and returns them; the caller merges the tasks'
statistics in row-group order, so the estimates equal the in-process pass's up to the
rounding of a different grouping of the same sums (about 1e-15 relative). Nothing random
depends on the partition: cross-fitting folds and Poisson bootstrap weights come from streams
keyed by each row's request id and time (:mod:`bandits.ope.rowkeys`), and Monte-Carlo targets
draw per request.

What the tasks need is shipped to them once pickled: the targets (already trained on the
training split, on the caller's side, exactly as the in-process path trains them) and the
estimators (their reward models already fitted, cross-fitted, on the caller's side). A task
unpickles its own copy, so tasks sharing a process never share a cache. Each task also gets
its rows' share of the evaluation mask (None when every row evaluates).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from bandits.ope.base import Estimator
from bandits.ope.sources import LogSource, Statistics, batch_statistics, merge_statistics
from bandits.policy import Policy
from bandits.run.executors import run_tasks
from bandits.validation import InputTypeError


@dataclass(frozen=True)
class PartitionTask:
    """One task: a range of a log's row groups and what to compute on it.

    Attributes
    ----------
    path : str
    row_groups : range
    keep : ndarray of bool, shape (rows of the partition,), or None
        Which of the partition's rows evaluate (None: all).
    work : bytes
        ``pickle`` of ``(targets, estimators)``.
    batch_bytes : int
    blas_threads : int
    """

    path: str
    row_groups: range
    keep: NDArray[np.bool_] | None
    work: bytes
    batch_bytes: int
    blas_threads: int = 1


@dataclass(frozen=True)
class PartitionResult:
    """A task's statistics and how many rows it evaluated."""

    statistics: Statistics
    n_rows: int


def partition_statistics(task: PartitionTask) -> PartitionResult:
    """Run one task (in a worker): the merged statistics of its evaluation rows."""
    targets, estimators = pickle.loads(task.work)
    source = LogSource(task.path, task.batch_bytes, task.row_groups)
    counted = [0]

    def count(rows: int) -> None:
        counted[0] += rows

    with threadpool_limits(task.blas_threads, user_api="blas"):
        statistics = batch_statistics(
            source.batches(task.keep), targets, estimators, source.label, count
        )
    return PartitionResult(statistics, counted[0])


def partitioned_statistics(
    path: str | os.PathLike[str],
    keep: NDArray[np.bool_] | None,
    targets: Mapping[str, Policy],
    estimators: Sequence[Estimator],
    *,
    executor: str,
    workers: int | None = None,
    scheduler: str | None = None,
    batch_bytes: int,
    row_group_starts: NDArray[np.int64],
    on_rows: Callable[[int], None] | None = None,
) -> Statistics:
    """Every (target, estimator)'s statistics over the rows ``keep`` selects (all rows when
    None), one task per row group, merged in row-group order.

    Parameters
    ----------
    path : path-like
        The log file.
    keep : ndarray of bool, shape (n_rows,), or None
    targets, estimators
        Trained targets and fitted estimators (pickled to the tasks).
    executor : {"local", "dask"}
    workers, scheduler
        As :func:`bandits.run.executors.run_tasks` takes them.
    batch_bytes : int
        Memory of one batch within a task.
    row_group_starts : ndarray of int64, shape (n_row_groups + 1,)
        ``LogFile.row_group_starts()`` of the file.
    on_rows : callable, optional
        Called with each finished task's number of evaluated rows.
    """
    work = _pickled(targets, estimators)
    tasks = []
    for group in range(row_group_starts.shape[0] - 1):
        start, stop = int(row_group_starts[group]), int(row_group_starts[group + 1])
        part = None if keep is None else keep[start:stop]
        if part is not None and not part.any():
            continue
        tasks.append(PartitionTask(str(path), range(group, group + 1), part, work, batch_bytes))
    results: list[PartitionResult | None] = [None] * len(tasks)
    for index, result in run_tasks(
        partition_statistics, tasks, executor=executor, workers=workers, scheduler=scheduler
    ):
        results[index] = result
        if on_rows is not None:
            on_rows(result.n_rows)
    return merge_statistics(result.statistics for result in results if result is not None)


def _pickled(targets: Mapping[str, Policy], estimators: Sequence[Estimator]) -> bytes:
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
