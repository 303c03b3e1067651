"""Cross-fitting: each row's reward is predicted by a model that never saw that row.

Rows are split into ``K`` folds by a seeded rule keyed by the row's request id and time
(:func:`bandits.ope.rowkeys.folds_of`), so a row's fold does not depend on batching. Model
``k`` learns the rows outside fold ``k``; a row of fold ``k`` is predicted by model ``k``.
DR's correction ``w (r - q(x, a))`` then uses a ``q`` independent of the row's own reward, which
keeps DR unbiased for any model (Chernozhukov et al. 2018's cross-fitting).

With streaming this takes two passes over the evaluation rows: the first feeds every batch to
the ``K`` models (``learn``; the ridge model keeps only its sums, so memory stays flat; a
scikit-learn model keeps its rows, once for all folds), ``finish`` fits, and the second
pass predicts and estimates. The cost of learning is ``K - 1`` times that of one model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.reward_models import RewardModel
from bandits.ope.rowkeys import folds_of, row_keys
from bandits.validation import InputValueError


class Folds:
    """``folds`` models, model ``k`` learning the rows outside fold ``k`` and predicting the
    rows inside it: the fold bookkeeping every cross-fitted model shares.

    A model that keeps its training rows (``keeps_rows``: a scikit-learn model) is not
    given ``K - 1`` copies of them: one more fresh copy, ``shared``, keeps every row once
    with its fold (its ``learn_in_folds``), and ``finish`` has it fit each fold's model on
    the rows outside that fold (its ``finish_folds``), one fold at a time. The fits are
    those of the copies (the same rows in the same order).

    Parameters
    ----------
    prototype : object
        The unfitted model (each with ``fresh``, ``merge`` and ``finish``; ``keeps_rows``).
    folds : int >= 2
    salt : int
        Salts the fold rule (drawn from the estimator's generator).
    """

    def __init__(self, prototype: Any, *, folds: int, salt: int) -> None:
        self.folds = folds
        self.salt = salt
        self.models = [prototype.fresh() for _ in range(folds)]
        self.shared = prototype.fresh() if getattr(prototype, "keeps_rows", False) else None

    def fold_of(self, log: LoggedBandit) -> NDArray[np.int64]:
        """The fold of each row, shape (n_requests,)."""
        return folds_of(row_keys(log, self.salt), self.folds)

    def outside(self, log: LoggedBandit) -> Iterator[tuple[Any, NDArray[np.int64] | None]]:
        """``(model, rows)`` for every model with rows of this batch outside its fold;
        ``rows`` is None when that is every row."""
        fold = self.fold_of(log)
        for k, model in enumerate(self.models):
            outside = fold != k
            if outside.all():
                yield model, None
            elif outside.any():
                yield model, np.flatnonzero(outside)

    def inside(self, log: LoggedBandit) -> Iterator[tuple[Any, NDArray[np.int64]]]:
        """``(model, rows)`` for every model with rows of this batch inside its fold."""
        fold = self.fold_of(log)
        for k, model in enumerate(self.models):
            rows = np.flatnonzero(fold == k)
            if rows.size:
                yield model, rows

    def merge(self, other: Folds) -> None:
        """Learn what ``other`` (the same folds and salt, learned on other rows) learned."""
        if (type(other), other.folds, other.salt) != (type(self), self.folds, self.salt):
            raise InputValueError("Cross-fitted models of other folds cannot be merged.")
        for mine, theirs in zip(self.models, other.models, strict=True):
            mine.merge(theirs)
        if self.shared is not None and other.shared is not None:
            self.shared.merge(other.shared)

    def finish(self) -> None:
        if self.shared is not None:
            self.shared.finish_folds(self.models)
        for model in self.models:
            model.finish()


class CrossFitted(Folds):
    """``folds`` copies of a reward model, each learning the rows outside its fold.

    Parameters
    ----------
    model : RewardModel
        The prototype (copied with ``fresh``).
    folds : int >= 2
    salt : int
        Salts the fold rule (drawn from the estimator's generator).
    """

    def __init__(self, model: RewardModel, *, folds: int, salt: int) -> None:
        super().__init__(model, folds=folds, salt=salt)

    def learn(self, log: LoggedBandit) -> None:
        """Give each model this batch's rows outside its fold (or ``shared`` every row)."""
        if self.shared is not None:
            self.shared.learn_in_folds(log, self.fold_of(log))
            return
        for model, rows in self.outside(log):
            model.learn(log if rows is None else log.take(rows))

    def predict(self, log: LoggedBandit) -> NDArray[np.float64]:
        """Every row's predictions from the model that did not learn it, shape
        (n_requests, max_candidates, slate_size)."""
        obs = log.observation
        result = np.zeros((obs.n_requests, obs.max_candidates, obs.slate_size))
        for model, rows in self.inside(log):
            result[rows] = model.predict(obs.take(rows))
        return result
