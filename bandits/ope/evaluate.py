"""Evaluate target policies on a log: optional training split, then every estimator, streamed
in this process or partition by partition on local processes or a Dask cluster.

This is the work behind ``bandits evaluate``, callable from Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from bandits.logged import LoggedBandit
from bandits.logs import DEFAULT_BATCH_BYTES
from bandits.logs.source import LogSource, RowRange, range_rule, split_rows
from bandits.ope.base import Estimator
from bandits.ope.partitioned import Partitions, check_rest, train_on_workers
from bandits.ope.sources import batch_statistics, fit_batches
from bandits.ope.targets import ProbabilityTarget
from bandits.policy import Policy
from bandits.run.executors import EXECUTORS
from bandits.run.replay import replay_updates
from bandits.validation import InputValueError, check_choice, check_integer, check_real

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
    targets: Mapping[str, Policy | ProbabilityTarget],
    estimators: Sequence[Estimator],
    *,
    train_fraction: float = 0.0,
    rows: RowRange | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    on_rows: Callable[[int], None] | None = None,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Estimate each target's value per request on ``log`` with each estimator.

    With ``train_fraction > 0`` the oldest share of rows (by time, ties by row order) trains
    each target first (replayed through ``update`` in row order) and the rest evaluates it;
    with 0 every row evaluates the targets as given. Estimators with a reward model (DM, DR,
    ...) fit it, cross-fitted, on the evaluation rows in one more pass before the estimating
    pass (see :mod:`bandits.ope.crossfit`); the model is of the log, so all targets share it,
    except cascade DR's backward ``Q``, fitted per target in the same pass.
    A log on disk is streamed in batches of about ``batch_bytes``, so memory stays flat in the
    number of rows (a scikit-learn reward model keeps its training rows), except that a training
    split reads the ``time`` column whole (about 9 bytes a row: 0.9 GB for 100 million rows);
    each target's probabilities are computed once per batch for all estimators.

    A target may also be given as probabilities aligned with the log's rows
    (:class:`~bandits.ope.targets.ProbabilityTarget`, e.g. from a file): it is checked
    against the log and every estimator before any work, and does not train (it is fixed;
    training rows are skipped).

    With an ``executor`` (a log file only), the fitting and estimating passes run in tasks of
    whole Parquet row groups (small ones joined) on local processes or a Dask cluster
    (:mod:`bandits.ope.partitioned`): the tasks' reward-model sums and statistics are merged
    in row-group order, giving the estimates of this process up to rounding (about 1e-15
    relative). A training split runs
    first as one task (replaying rows through ``update`` is sequential): it reads the times
    and the training rows on a worker and returns the trained targets and the split as a rule
    the other tasks apply to their own rows, so this process reads neither the log nor its
    times (only the file's metadata). The given target objects are then left untrained (the
    trained copies are used); in this process they are trained in place.

    Parameters
    ----------
    log : LoggedBandit or path-like
    targets : mapping of str to Policy or ProbabilityTarget
        Display name -> policy or probabilities.
    estimators : sequence of Estimator
    train_fraction : float in [0, 1)
    rows : (start, stop), optional
        Only these rows (file order, half-open, either side None, negative from the end, as
        a Python slice) train and evaluate; the training split is within them.
    batch_bytes : int
    on_rows : callable, optional
        Called with the number of rows done after each batch of each pass (progress bars):
        training, fitting reward models (when an estimator has one), estimating (after each
        task with an executor).
    executor : {"local", "dask"}, optional
        None (the default) estimates in this process; ``local`` on a pool of ``workers``
        processes; ``dask`` on the Dask cluster at ``scheduler`` or, without one, on a local
        cluster of ``workers`` (default 2) processes.
    workers : int, optional
    scheduler : str, optional
        A Dask scheduler's address (needs ``executor="dask"``).

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
    _check_executor(log, executor, workers, scheduler)
    source = LogSource(log, batch_bytes)
    for target in targets.values():
        if isinstance(target, ProbabilityTarget):
            target.check_log(source.n_rows, source.slate_size, source.label)
        for estimator in estimators:
            estimator.check_target(target)
    fitting = [estimator for estimator in estimators if estimator.needs_fit]
    if executor is None:
        split = split_rows(source, rows, fraction)
        check_rest(source.label, split.n_rest, source.n_rows, rows, fraction)
        n_train = split.n_train
        policies = [target for target in targets.values() if isinstance(target, Policy)]
        if split.train is not None:
            for batch, numbers in source.batches(split.train):
                for policy in policies:
                    replay_updates(policy, batch)
                if on_rows is not None:
                    on_rows(int(numbers.size))
        if fitting:
            for estimator in fitting:
                estimator.start_fit()
            fit_batches(source.batches(split.rest), fitting, source.label, on_rows, targets)
            for estimator in fitting:
                estimator.finish_fit()
        merged = batch_statistics(
            source.batches(split.rest), targets, estimators, source.label, on_rows
        )
    else:
        rule = range_rule(source.n_rows, rows)
        if fraction > 0:  # trained in a task: this process reads neither rows nor times
            targets, trained = train_on_workers(
                source.label,
                targets,
                rows=rows,
                train_fraction=fraction,
                batch_bytes=batch_bytes,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
            )
            rule, n_train = trained.rule, trained.n_train
            if on_rows is not None:
                on_rows(n_train)
        else:
            check_rest(source.label, rule.stop - rule.start, source.n_rows, rows, 0.0)
            n_train = 0
        partitions = Partitions(
            source.label,
            rule,
            source.file.row_group_starts(),
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            batch_bytes=batch_bytes,
            on_rows=on_rows,
        )
        if fitting:
            partitions.fit(fitting, targets)
        merged = partitions.statistics(targets, estimators)
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


def _check_executor(
    log: object, executor: str | None, workers: int | None, scheduler: str | None
) -> None:
    """Refuse an executor setting that cannot work, before any pass over the log."""
    if executor is None:
        if workers is not None or scheduler is not None:
            raise InputValueError(
                "evaluate_log takes 'workers' and 'scheduler' only with an executor "
                "('local' or 'dask')."
            )
        return
    check_choice(executor, EXECUTORS, "executor")
    if isinstance(log, LoggedBandit):
        raise InputValueError(
            f"The {executor} executor evaluates a log file partition by partition; got a log "
            f"in memory (write it with bandits.logs.write_log, or evaluate without one)."
        )
    if workers is not None:
        check_integer(workers, "workers", "evaluate_log", low=1)
    if scheduler is not None and executor != "dask":
        raise InputValueError("A scheduler address needs the dask executor (--executor dask).")
