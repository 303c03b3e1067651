"""Cascade DR's backward ``Q`` with any scikit-learn-style regressor, one per position
(obp's ``SlateRegressionModel`` with a ``base_model``; Kiyohara et al. 2022, Section 3.1).

The recursion is :mod:`bandits.ope.cascade_q`'s, over the features ``phi_k(x, s_1..s_k-1,
c) = [x, z_c, sum of z above k]`` (the context, the candidate's item features and the sum of
the item features above ``k``; a non-linear model forms its own interactions, so the ridge
fit's context-item products are left out): ``Q_K`` regresses ``r_K`` on the logged
``phi_K``, then each ``Q_k`` regresses

    y_k = r_k + sum_c pi(c at k+1 | x, s_1..s_k) Q_k+1(x, s_1..s_k, c)

with the fitted ``Q_k+1`` predicting every candidate the target may put at ``k + 1``. A
non-linear ``Q`` has no sums that stream, so the learned rows are kept in memory (as a
scikit-learn reward model keeps its rows) and the ``slate_size`` fits run one after another
in :meth:`RegressorBackwardQ.finish`. With ``Ridge(alpha, fit_intercept=False)`` each fit is
the ridge solve of the explicit recursion (tested).

Importance-weighted fits (``fitting_method="iw"``) pass each row's weight as the fit's
``sample_weight`` (:func:`sample_weight_key`). A scikit-learn ``Pipeline`` takes it for its
last step as ``<last step>__sample_weight``, the form scikit-learn routes while its metadata
routing is off (its default); with ``sklearn.set_config(enable_metadata_routing=True)`` a
Pipeline refuses that form, so a weighted Pipeline is refused up front there.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.cascade_q import prefix_item_sums
from bandits.validation import InputTypeError, InputValueError


def sample_weight_key(estimator: Any) -> str | None:
    """The keyword under which ``estimator.fit`` takes sample weights, or None if it takes
    none: for a scikit-learn ``Pipeline``, ``<last step>__`` and its last step's keyword
    (``scaler -> ridge`` gives ``ridge__sample_weight``; None for a ``"passthrough"`` last
    step); else ``sample_weight`` if ``fit`` names it or takes ``**kwargs`` (or has no
    signature to read: fit decides)."""
    steps = _pipeline_steps(estimator)
    if steps is not None:
        name, last = steps[-1]
        if last is None or (isinstance(last, str) and last == "passthrough"):
            return None
        key = sample_weight_key(last)
        return None if key is None else f"{name}__{key}"
    try:
        parameters = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return "sample_weight"
    takes = "sample_weight" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )
    return "sample_weight" if takes else None


def check_sample_weights(estimator: Any, owner: str) -> str:
    """:func:`sample_weight_key` of ``estimator``; raise, naming ``owner``, where there is
    none, or where scikit-learn's metadata routing is on and ``estimator`` is a Pipeline
    (which then refuses ``<step>__sample_weight``)."""
    steps = _pipeline_steps(estimator)
    if steps is not None:
        import sklearn

        if sklearn.get_config().get("enable_metadata_routing", False):
            raise InputValueError(
                f"{owner}'s fitting_method='iw' gives a Pipeline's last step its sample "
                f"weights as {steps[-1][0]}__sample_weight, which scikit-learn refuses while "
                f"its metadata routing is enabled; turn it off "
                f"(sklearn.set_config(enable_metadata_routing=False)) or pass the regressor "
                f"without the Pipeline."
            )
    key = sample_weight_key(estimator)
    if key is not None:
        return key
    if steps is not None:
        name, last = steps[-1]
        raise InputValueError(
            f"{owner}'s fitting_method='iw' fits the backward Q with sample weights; the "
            f"Pipeline's last step {name!r} ({type(last).__name__}) takes no sample_weight in "
            f"fit."
        )
    raise InputValueError(
        f"{owner}'s fitting_method='iw' fits the backward Q with sample weights; "
        f"{type(estimator).__name__}.fit takes no sample_weight."
    )


def _pipeline_steps(estimator: Any) -> list[tuple[str, Any]] | None:
    """A scikit-learn Pipeline's ``steps``; None for anything else (or without sklearn)."""
    try:
        from sklearn.pipeline import Pipeline
    except ImportError:
        return None
    return list(estimator.steps) if isinstance(estimator, Pipeline) and estimator.steps else None


Batch = tuple[LoggedBandit, NDArray[np.float64], NDArray[np.float64] | None]
"""A learned batch: the log, the target's conditional probabilities and the prefix weights."""


class RegressorBackwardQ:
    """The backward-fitted ``Q`` of one target with a copy of ``estimator`` per position.

    Parameters
    ----------
    estimator : object
        Unfitted regressor with ``fit(X, y)`` and ``predict(X)`` (copied with
        ``copy.deepcopy`` per position); a classifier is refused: ``y_k`` is a reward plus an
        expected ``Q``, not a class.
    owner : str
        Who asks, for error messages.
    """

    def __init__(self, estimator: Any, owner: str = "RegressorBackwardQ") -> None:
        if not callable(getattr(estimator, "fit", None)) or not callable(
            getattr(estimator, "predict", None)
        ):
            raise InputTypeError(
                f"{owner}'s backward Q needs a regressor with fit(X, y) and predict(X); got "
                f"{type(estimator).__name__}."
            )
        if callable(getattr(estimator, "predict_proba", None)):
            raise InputValueError(
                f"{owner}'s backward Q regresses each position's reward plus the expected Q "
                f"below it, which is not a class: got the classifier "
                f"{type(estimator).__name__}; pass a regressor (model=gbm, forest or ridge), "
                f"or q='reward' to use the classifier as a per-position reward model."
            )
        self.estimator = estimator
        self.owner = owner
        self.models_: list[Any] | None = None
        self._batches: list[Batch] = []
        self._folds: list[NDArray[np.int64]] = []

    keeps_rows = True
    """Cross-fitted, one copy keeps every row (:class:`bandits.ope.crossfit.Folds`)."""

    def fresh(self) -> RegressorBackwardQ:
        return RegressorBackwardQ(self.estimator, self.owner)

    def learn(
        self,
        log: LoggedBandit,
        conditional: NDArray[np.float64],
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Keep a batch's rows; ``conditional`` (n_requests, max_candidates, slate_size) and
        ``weights`` (n_requests, slate_size; each fit's ``sample_weight``) as
        :meth:`bandits.ope.cascade_q.BackwardQ.learn` takes them."""
        if len(log):
            self._batches.append((log, conditional, weights))

    def learn_in_folds(
        self,
        log: LoggedBandit,
        conditional: NDArray[np.float64],
        weights: NDArray[np.float64] | None,
        folds: NDArray[np.int64],
    ) -> None:
        """:meth:`learn`, keeping the fold of each row, ``folds`` (n_requests,), for
        :meth:`finish_folds`."""
        if len(log):
            self._batches.append((log, conditional, weights))
            self._folds.append(folds)

    def merge(self, other: RegressorBackwardQ) -> None:
        """Keep the rows ``other`` (a fresh copy that learned other rows) kept, after these."""
        if not isinstance(other, RegressorBackwardQ):
            raise InputTypeError(f"Cannot merge a {type(other).__name__} into a regressor Q.")
        self._batches.extend(other._batches)
        self._folds.extend(other._folds)

    def finish(self) -> None:
        """Fit ``Q_K`` down to ``Q_1`` on the kept rows, then let them go (with no rows kept,
        the fit stays as it was)."""
        batches, self._batches = self._batches, []
        if batches:
            inputs = [PositionInputs(log) for log, _, _ in batches]
            every = [np.arange(len(log)) for log, _, _ in batches]
            self.models_ = self._fitted(batches, inputs, every)

    def finish_folds(self, models: list[RegressorBackwardQ]) -> None:
        """Fit ``models[k]`` on the kept rows outside fold ``k`` (kept by
        :meth:`learn_in_folds`), one fold at a time, reading the kept batches by row index
        (no copy of them per fold): the rows, in the order, a copy learning only those rows
        would have kept."""
        batches, folds = self._batches, self._folds
        self._batches, self._folds = [], []
        if not batches:
            return
        inputs = [PositionInputs(log) for log, _, _ in batches]
        for k, model in enumerate(models):
            rows = [np.flatnonzero(fold != k) for fold in folds]
            if any(part.size for part in rows):
                model.models_ = self._fitted(batches, inputs, rows)

    def _fitted(
        self,
        batches: list[Batch],
        inputs: list[PositionInputs],
        rows: list[NDArray[np.int64]],
    ) -> list[Any]:
        """``Q_K`` down to ``Q_1`` fitted on rows ``rows[b]`` of each batch ``b`` (its
        ``PositionInputs`` ``inputs[b]``), one model per position."""
        size = batches[0][0].slate_size
        below = [np.zeros(part.size) for part in rows]  # expected Q_k+1 of each row
        weighted = batches[0][2] is not None
        models: list[Any] = [None] * size
        for k in range(size - 1, -1, -1):
            x = np.concatenate(
                [
                    phi.at(k, part, log.slates[part, k])
                    for (log, _, _), phi, part in zip(batches, inputs, rows, strict=True)
                ]
            )
            y = np.concatenate(
                [
                    log.rewards[part, k] + b
                    for (log, _, _), part, b in zip(batches, rows, below, strict=True)
                ]
            )
            model: Any = copy.deepcopy(self.estimator)
            if weighted:
                weights = np.concatenate(
                    [
                        w[part, k]
                        for (_, _, w), part in zip(batches, rows, strict=True)
                        if w is not None
                    ]
                )
                if weights.any():
                    model.fit(x, y, **{check_sample_weights(model, self.owner): weights})
                else:  # no row's prefix is the target's: as the ridge fit, Q_k = 0
                    model = _Zero()
            else:
                model.fit(x, y)
            del x
            models[k] = model
            if k > 0:
                below = [
                    _expected_q(model, phi, k, part, conditional[part, :, k])
                    for (_, conditional, _), phi, part in zip(batches, inputs, rows, strict=True)
                ]
        return models

    def predict(self, log: LoggedBandit) -> NDArray[np.float64]:
        """``Q_k(x, s_1..s_k-1, c)`` of every real candidate ``c`` at every position ``k``,
        shape (n_requests, max_candidates, slate_size); 0 on padding, and everywhere before
        any row was learned."""
        obs = log.observation
        result = np.zeros((obs.n_requests, obs.max_candidates, log.slate_size))
        if self.models_ is None:
            return result
        if len(self.models_) != log.slate_size:
            raise InputValueError(
                f"{self.owner}'s backward Q was fitted on {len(self.models_)} positions; this "
                f"batch has {log.slate_size}."
            )
        phi = PositionInputs(log)
        rows, candidates = np.nonzero(obs.candidate_mask)
        for k, model in enumerate(self.models_):
            result[rows, candidates, k] = phi.predicted(model, k, rows, candidates)
        return result


PREDICT_ROWS = 1 << 16
"""Feature rows per ``predict`` call of a fitted ``Q_k``: the rows of every candidate of a
batch (or of a whole fold, for the expected ``Q`` below a position) are built this many at
a time."""


class PositionInputs:
    """``phi_k(x, s_1..s_k-1, c) = [x, z_c, sum of z above k]`` of chosen (request,
    candidate) pairs of one log, built from its context, its item table and the prefix
    sums (:func:`~bandits.ope.cascade_q.prefix_item_sums`) per call, never for every
    candidate of every request at once."""

    def __init__(self, log: LoggedBandit) -> None:
        obs = log.observation
        self.context = obs.context
        self.candidate_rows = obs.candidate_rows
        self.items = obs.items.features
        self.prefix = prefix_item_sums(log)

    def at(
        self, k: int, requests: NDArray[np.int64], candidates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """``phi_k`` of real candidate ``candidates[i]`` of request ``requests[i]``, shape
        (m, n_context_features + 2 n_item_features)."""
        items = self.items[self.candidate_rows[requests, candidates]]
        return np.concatenate([self.context[requests], items, self.prefix[requests, k]], axis=1)

    def predicted(
        self,
        model: Any,
        k: int,
        requests: NDArray[np.int64],
        candidates: NDArray[np.int64],
    ) -> NDArray[np.float64]:
        """``model``'s prediction at each pair's ``phi_k``, shape (m,), ``PREDICT_ROWS``
        rows per call."""
        out = np.empty(len(requests))
        for start in range(0, len(requests), PREDICT_ROWS):
            part = slice(start, start + PREDICT_ROWS)
            out[part] = _predicted(model, self.at(k, requests[part], candidates[part]))
        return out


class _Zero:
    """The ``Q_k`` of a position whose rows all weigh 0 (no logged prefix the target shows):
    0 everywhere, as the ridge fit's ``theta = 0`` there."""

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros(len(x))


def _predicted(model: Any, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``model.predict(x)`` as float64, shape (len(x),); no call on no rows."""
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(model.predict(x), dtype=np.float64).reshape(-1)


def _expected_q(
    model: Any,
    phi: PositionInputs,
    k: int,
    requests: NDArray[np.int64],
    conditional: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``sum_c conditional[i, c] Q_k(x, ..., c)`` of request ``requests[i]`` per ``i``,
    shape (len(requests),), predicting only the candidates the target may put at ``k``
    (``conditional > 0``, shape (len(requests), max_candidates))."""
    at, candidates = np.nonzero(conditional > 0)
    values = phi.predicted(model, k, requests[at], candidates)
    weights = conditional[at, candidates] * values
    return np.bincount(at, weights=weights, minlength=len(requests)).astype(np.float64)
