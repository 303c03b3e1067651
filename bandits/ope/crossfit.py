"""Cross-fitting: each row's reward is predicted by a model that never saw that row.

Rows are split into ``K`` folds by a seeded rule keyed by the row's request id and time
(:func:`bandits.ope.rowkeys.folds_of`), so a row's fold does not depend on batching. Model
``k`` learns the rows outside fold ``k``; a row of fold ``k`` is predicted by model ``k``.
DR's correction ``w (r - q(x, a))`` then uses a ``q`` independent of the row's own reward, which
keeps DR unbiased for any model (Chernozhukov et al. 2018's cross-fitting).

With streaming this takes two passes over the evaluation rows: the first feeds every batch to
the ``K`` models (``learn``; the ridge model keeps only its sums, so memory stays flat; a
scikit-learn model keeps its rows), ``finish`` fits, and the second pass predicts and
estimates. The cost of learning is ``K - 1`` times that of one model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.reward_models import RewardModel
from bandits.ope.rowkeys import folds_of, row_keys
from bandits.validation import InputValueError


class CrossFitted:
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
        self.folds = folds
        self.salt = salt
        self.models = [model.fresh() for _ in range(folds)]

    def fold_of(self, log: LoggedBandit) -> NDArray[np.int64]:
        """The fold of each row, shape (n_requests,)."""
        return folds_of(row_keys(log, self.salt), self.folds)

    def learn(self, log: LoggedBandit) -> None:
        """Give each model this batch's rows outside its fold."""
        fold = self.fold_of(log)
        for k, model in enumerate(self.models):
            outside = fold != k
            if outside.all():
                model.learn(log)
            elif outside.any():
                model.learn(log.take(np.flatnonzero(outside)))

    def merge(self, other: CrossFitted) -> None:
        """Learn what ``other`` (the same folds and salt, learned on other rows) learned."""
        if (other.folds, other.salt) != (self.folds, self.salt):
            raise InputValueError("Cross-fitted models of other folds cannot be merged.")
        for mine, theirs in zip(self.models, other.models, strict=True):
            mine.merge(theirs)

    def finish(self) -> None:
        for model in self.models:
            model.finish()

    def predict(self, log: LoggedBandit) -> NDArray[np.float64]:
        """Every row's predictions from the model that did not learn it, shape
        (n_requests, max_candidates, slate_size)."""
        obs = log.observation
        fold = self.fold_of(log)
        result = np.zeros((obs.n_requests, obs.max_candidates, obs.slate_size))
        for k, model in enumerate(self.models):
            rows = np.flatnonzero(fold == k)
            if rows.size:
                result[rows] = model.predict(obs.take(rows))
        return result
