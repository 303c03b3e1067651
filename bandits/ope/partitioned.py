"""The training, fitting and estimating passes of an evaluation on local processes or a Dask
cluster (:func:`bandits.run.executors.run_tasks`): training in one task, the other passes in
tasks of whole Parquet row groups (small ones joined, see :data:`MIN_TASK_ROWS`).

Training (a training split: the oldest share of the rows replayed through each target's
``update``, in row order) is sequential, so it is one task (:func:`run_training`): it reads the
``time`` column and the training rows on the worker, trains the targets, and returns them
pickled with the split as a :class:`~bandits.logs.source.SplitRule` (a time and a row number),
which every later task applies to its own rows: the caller reads neither the log nor a mask
of its rows. The caller's target objects are not trained (the trained copies come back).

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

from bandits.logs.source import LogSource, RowRange, SplitRule, split_rows, split_rule
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
from bandits.run.replay import replay_updates
from bandits.validation import InputTypeError, InputValueError

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
    keep : ndarray of bool, shape (rows of the partition,), SplitRule or None
        Which of the partition's rows evaluate (None: all).
    work : bytes
        ``pickle`` of ``(targets, estimators)`` (``fit``: the estimators that fit).
    batch_bytes : int
    blas_threads : int
    """

    job: str
    path: str
    row_groups: range
    keep: NDArray[np.bool_] | SplitRule | None
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


@dataclass(frozen=True)
class TrainTask:
    """Training the targets on a log file's training split, in one task.

    Attributes
    ----------
    path : str
    rows : (start, stop) or None
    train_fraction : float
    work : bytes
        ``pickle`` of the targets (name -> policy or probabilities; only policies train).
    batch_bytes : int
    blas_threads : int
    """

    path: str
    rows: RowRange | None
    train_fraction: float
    work: bytes
    batch_bytes: int
    blas_threads: int = 1


@dataclass(frozen=True)
class Trained:
    """A training task's result: the trained targets (pickled), the split as a rule, and the
    number of training and evaluation rows."""

    work: bytes
    rule: SplitRule
    n_train: int
    n_rest: int


def run_training(task: TrainTask) -> Trained:
    """Split the log by time and train the targets on the oldest rows (in a worker); refuses,
    naming the file, a split that leaves fewer than 2 rows to evaluate."""
    targets, _ = pickle.loads(task.work)
    source = LogSource(task.path, task.batch_bytes)
    split = split_rows(source, task.rows, task.train_fraction)
    check_rest(source.label, split.n_rest, source.n_rows, task.rows, task.train_fraction)
    policies = [target for target in targets.values() if isinstance(target, Policy)]
    with threadpool_limits(task.blas_threads, user_api="blas"):
        for batch, _ in source.batches(split.train):
            for policy in policies:
                replay_updates(policy, batch)
    rule = split_rule(source, task.rows, split)
    return Trained(pickle.dumps(targets), rule, split.n_train, split.n_rest)


def check_rest(
    label: str, n_rest: int, n_rows: int, rows: RowRange | None, train_fraction: float
) -> None:
    """Refuse an evaluation that leaves fewer than 2 rows to evaluate on, naming the rows
    asked for, the log's size and the training share."""
    if n_rest < 2:
        start, stop = rows or (None, None)
        chosen = f"rows {'' if start is None else start}:{'' if stop is None else stop} of"
        trained = (
            f" after training on the oldest {train_fraction:g} of them" if train_fraction else ""
        )
        raise InputValueError(
            f"{label}: {chosen if rows else 'all'} its {n_rows:,} rows{trained} leave "
            f"{n_rest} row(s) to evaluate on; it needs at least 2."
        )


def train_on_workers(
    path: str | os.PathLike[str],
    targets: Mapping[str, Policy | ProbabilityTarget],
    *,
    rows: RowRange | None,
    train_fraction: float,
    batch_bytes: int,
    executor: str,
    workers: int | None = None,
    scheduler: str | None = None,
) -> tuple[dict[str, Policy | ProbabilityTarget], Trained]:
    """The targets trained in one task (:func:`run_training`), and that task's result."""
    task = TrainTask(str(path), rows, train_fraction, _pickled(targets, []), batch_bytes)
    for _, done in run_tasks(
        run_training, [task], executor=executor, workers=workers, scheduler=scheduler
    ):
        trained: dict[str, Policy | ProbabilityTarget] = pickle.loads(done.work)
        return trained, done
    raise RuntimeError("the training task returned nothing")


MIN_TASK_ROWS = 65_536
"""Fewest rows of a task where the file's row groups are smaller: consecutive row groups are
joined until a task holds this many (a simulated log writes one row group per step of a few
dozen requests, and each task pays its start: the file opened, the targets unpickled)."""


def task_row_groups(row_group_starts: NDArray[np.int64], min_rows: int) -> list[range]:
    """Consecutive row groups joined into tasks of at least ``min_rows`` rows (the last may
    hold fewer); a row group is never split.

    Parameters
    ----------
    row_group_starts : ndarray of int64, shape (n_row_groups + 1,)
        The first row of each row group, then the number of rows.
    min_rows : int

    Returns
    -------
    list of range
        Each task's row groups, in order, covering every row group once.
    """
    tasks: list[range] = []
    first = 0
    n_groups = row_group_starts.shape[0] - 1
    for group in range(n_groups):
        if (
            row_group_starts[group + 1] - row_group_starts[first] >= min_rows
            or group == n_groups - 1
        ):
            tasks.append(range(first, group + 1))
            first = group + 1
    return tasks


class Partitions:
    """A log file's evaluation rows as tasks of whole row groups (joined up to
    :data:`MIN_TASK_ROWS` rows where the groups are small).

    Parameters
    ----------
    path : path-like
        The log file.
    keep : ndarray of bool, shape (n_rows,), SplitRule or None
        The evaluation rows (None: all); a rule is sent to every task that may hold rows of
        it, which applies it to its own rows.
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
        keep: NDArray[np.bool_] | SplitRule | None,
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
        self.parts: list[tuple[range, NDArray[np.bool_] | SplitRule | None]] = []
        for groups in task_row_groups(row_group_starts, MIN_TASK_ROWS):
            start, stop = int(row_group_starts[groups.start]), int(row_group_starts[groups.stop])
            if isinstance(keep, SplitRule):
                if start < keep.stop and keep.start < stop:
                    self.parts.append((groups, keep))
                continue
            part = None if keep is None else keep[start:stop]
            if part is None or part.any():
                self.parts.append((groups, part))

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
