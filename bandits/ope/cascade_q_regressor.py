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
from bandits.ope.cascade_q import position_features, prefix_item_sums
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
        self._batches: list[
            tuple[LoggedBandit, NDArray[np.float64], NDArray[np.float64] | None]
        ] = []

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

    def merge(self, other: RegressorBackwardQ) -> None:
        """Keep the rows ``other`` (a fresh copy that learned other rows) kept, after these."""
        if not isinstance(other, RegressorBackwardQ):
            raise InputTypeError(f"Cannot merge a {type(other).__name__} into a regressor Q.")
        self._batches.extend(other._batches)

    def finish(self) -> None:
        """Fit ``Q_K`` down to ``Q_1`` on the kept rows, then let them go (with no rows kept,
        the fit stays as it was)."""
        batches, self._batches = self._batches, []
        if not batches:
            return
        logs = [log for log, _, _ in batches]
        size = logs[0].slate_size
        features = [regressor_features(log) for log in logs]
        below = [np.zeros(len(log)) for log in logs]  # expected Q_k+1 of each row
        weighted = batches[0][2] is not None
        models: list[Any] = [None] * size
        for k in range(size - 1, -1, -1):
            x = np.concatenate(
                [
                    position_features(base, prefix[:, k], np.arange(len(log)), log.slates[:, k])
                    for log, (base, prefix) in zip(logs, features, strict=True)
                ]
            )
            y = np.concatenate([log.rewards[:, k] + b for log, b in zip(logs, below, strict=True)])
            model: Any = copy.deepcopy(self.estimator)
            if weighted:
                weights = np.concatenate([w[:, k] for _, _, w in batches if w is not None])
                if weights.any():
                    model.fit(x, y, **{check_sample_weights(model, self.owner): weights})
                else:  # no row's prefix is the target's: as the ridge fit, Q_k = 0
                    model = _Zero()
            else:
                model.fit(x, y)
            models[k] = model
            if k > 0:
                below = [
                    _expected_q(model, base, prefix[:, k], conditional[:, :, k])
                    for (_, conditional, _), (base, prefix) in zip(batches, features, strict=True)
                ]
        self.models_ = models

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
        base, prefix = regressor_features(log)
        rows, candidates = np.nonzero(obs.candidate_mask)
        for k, model in enumerate(self.models_):
            x = position_features(base, prefix[:, k], rows, candidates)
            result[rows, candidates, k] = _predicted(model, x)
        return result


def regressor_features(log: LoggedBandit) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every candidate's ``[context, item features]``, shape (n_requests, max_candidates,
    n_context_features + n_item_features), and the prefix sums
    (:func:`~bandits.ope.cascade_q.prefix_item_sums`), shape (n_requests, slate_size,
    n_item_features)."""
    obs = log.observation
    items = obs.candidate_features
    context = np.broadcast_to(obs.context[:, None, :], (*items.shape[:2], obs.n_context_features))
    return np.concatenate([context, items], axis=2), prefix_item_sums(log)


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
    base: NDArray[np.float64],
    above: NDArray[np.float64],
    conditional: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``sum_c conditional[i, c] Q(x_i, ..., c)`` per row, shape (n_requests,), predicting
    only the candidates the target may put there (``conditional > 0``)."""
    rows, candidates = np.nonzero(conditional > 0)
    values = _predicted(model, position_features(base, above, rows, candidates))
    weights = conditional[rows, candidates] * values
    return np.bincount(rows, weights=weights, minlength=len(conditional)).astype(np.float64)
