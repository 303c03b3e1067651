"""The passes of an evaluation over the batches of a :class:`~bandits.logs.source.LogSource`
(a log in memory, a file, or a range of a file's row groups): fitting reward models and
merging statistics, shared by the in-process and the partitioned evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.base import Estimator, estimator_input
from bandits.ope.statistics import EstimatorStatistics
from bandits.ope.targets import ProbabilityTarget
from bandits.policy import Policy
from bandits.validation import InputError, renumber_rows

Statistics = dict[tuple[str, int], EstimatorStatistics]
"""Merged statistics per (target name, estimator index)."""


def fit_batches(
    batches: Iterable[tuple[LoggedBandit, NDArray[np.int64]]],
    estimators: Sequence[Estimator],
    label: str,
    on_batch: Callable[[int], None] | None = None,
    targets: Mapping[str, Policy | ProbabilityTarget] | None = None,
) -> None:
    """Feed every batch to each estimator's :meth:`~Estimator.learn_batch` (with ``targets``
    for the estimators whose model depends on the target), in order; input errors name
    ``label`` and the row in the whole log."""
    given = {} if targets is None else targets
    for batch, rows in batches:
        try:
            for estimator in estimators:
                estimator.learn_batch(batch, given, rows)
        except InputError as error:
            raise renumber_rows(error, rows, f"{label}: ") from None
        if on_batch is not None:
            on_batch(int(rows.size))


def batch_statistics(
    batches: Iterable[tuple[LoggedBandit, NDArray[np.int64]]],
    targets: Mapping[str, Policy | ProbabilityTarget],
    estimators: Sequence[Estimator],
    label: str,
    on_batch: Callable[[int], None] | None = None,
) -> Statistics:
    """Every (target, estimator)'s statistics merged over ``batches`` in their order; each
    target's probabilities are computed once per batch. Input errors name ``label`` and the
    row in the whole log. ``on_batch``, if given, gets each batch's number of rows."""
    merged: Statistics = {}
    for batch, rows in batches:
        # a file of target probabilities is read and checked here, naming the file and its row
        given = {
            name: estimator_input(batch, target, rows, key=name)
            for name, target in targets.items()
            if isinstance(target, ProbabilityTarget)
        }
        try:
            for name, target in targets.items():
                data = given[name] if name in given else estimator_input(batch, target, key=name)
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
