"""Evaluate target policies on a log: optional training split, then every estimator, streamed.

This is the work behind ``bandits evaluate``, callable from Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from bandits.logged import LoggedBandit
from bandits.logs import DEFAULT_BATCH_BYTES
from bandits.logs.source import LogSource, RowRange, split_rows
from bandits.ope.base import Estimator, estimator_input
from bandits.ope.statistics import EstimatorStatistics
from bandits.ope.targets import ProbabilityTarget
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
    targets: Mapping[str, Policy | ProbabilityTarget],
    estimators: Sequence[Estimator],
    *,
    train_fraction: float = 0.0,
    rows: RowRange | None = None,
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

    A target may also be given as probabilities aligned with the log's rows
    (:class:`~bandits.ope.targets.ProbabilityTarget`, e.g. from a file): it is checked
    against the log and every estimator before any work, and does not train (it is fixed;
    training rows are skipped).

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
    source = LogSource(log, batch_bytes)
    for target in targets.values():
        if isinstance(target, ProbabilityTarget):
            target.check_log(source.n_rows, source.slate_size, source.label)
        for estimator in estimators:
            estimator.check_target(target)
    split = split_rows(source, rows, fraction)
    if split.n_rest < 2:
        raise InputValueError(
            f"{source.label} leaves {split.n_rest} row(s) to evaluate on; it needs at least 2."
        )
    policies = [target for target in targets.values() if isinstance(target, Policy)]
    if split.train is not None:
        for batch, numbers in source.batches(split.train):
            for policy in policies:
                replay_updates(policy, batch)
            if on_rows is not None:
                on_rows(int(numbers.size))
    fitting = [estimator for estimator in estimators if estimator.needs_fit]
    if fitting:
        for estimator in fitting:
            estimator.start_fit()
        for batch, numbers in source.batches(split.rest):
            try:
                for estimator in fitting:
                    estimator.fit_batch(batch)
            except InputError as error:
                raise renumber_rows(error, numbers, f"{source.label}: ") from None
            if on_rows is not None:
                on_rows(int(numbers.size))
        for estimator in fitting:
            estimator.finish_fit()
    merged: dict[tuple[str, int], EstimatorStatistics] = {}
    for batch, numbers in source.batches(split.rest):
        # a file's rows are read and checked here, naming the file and its own row numbers
        given = {
            name: estimator_input(batch, target, numbers)
            for name, target in targets.items()
            if isinstance(target, ProbabilityTarget)
        }
        try:
            for name, target in targets.items():
                data = given[name] if name in given else estimator_input(batch, target)
                for index, estimator in enumerate(estimators):
                    part = estimator.statistics_of(data)
                    key = (name, index)
                    merged[key] = part if key not in merged else merged[key].merge(part)
        except InputError as error:  # name the log and its row, not the batch's
            raise renumber_rows(error, numbers, f"{source.label}: ") from None
        if on_rows is not None:
            on_rows(int(numbers.size))
    n_train = split.n_train
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
