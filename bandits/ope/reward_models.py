"""Reward models for DM and DR: the predicted reward ``q(x, c, k)`` of every candidate ``c`` of
a request ``x`` at every position ``k``, learned from logged rows.

Two kinds: the kernel's joint ridge model (:class:`RidgeRewardModel`, the default; its
statistics stream, so memory is flat in the rows) and any scikit-learn-style regressor or
classifier (:class:`SklearnRewardModel`, duck-typed ``fit`` / ``predict`` /
``predict_proba``; it keeps its training rows in memory until ``finish``). Estimators use
them cross-fitted (:class:`bandits.ope.crossfit.CrossFitted`).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.models import JointRidge
from bandits.observation import SlateObservation
from bandits.validation import InputTypeError, InputValueError, check_real, shown, suggest

SKLEARN_MODELS = ("logistic", "gbm", "forest")
"""Named scikit-learn reward models (need the ``sklearn`` extra)."""

REWARD_MODELS = ("ridge", "ridge-pooled", *SKLEARN_MODELS)
"""Names a spec's ``model=`` takes."""


class RewardModel(ABC):
    """Learns ``q(x, c, k)`` from logged rows and predicts it for every candidate."""

    keeps_rows: ClassVar[bool] = False
    """True for a model that keeps its training rows until :meth:`finish`: cross-fitted,
    one such model keeps every row once with its fold (:meth:`learn_in_folds`), and
    :meth:`finish_folds` fits each fold's model on the rows outside its fold."""

    def learn_in_folds(self, log: LoggedBandit, folds: NDArray[np.int64]) -> None:
        """Keep a batch's rows with the fold of each, ``folds`` (n_requests,); for a model
        that ``keeps_rows``."""
        raise InputTypeError(f"{type(self).__name__} keeps no rows to fit folds from.")

    def finish_folds(self, models: list[Any]) -> None:
        """Fit ``models[k]`` (fresh copies) on the rows outside fold ``k`` of those kept by
        :meth:`learn_in_folds`, one after another; for a model that ``keeps_rows``."""
        raise InputTypeError(f"{type(self).__name__} keeps no rows to fit folds from.")

    @abstractmethod
    def learn(self, log: LoggedBandit) -> None:
        """Add the shown (candidate, position, reward) triples of a batch of rows."""

    def finish(self) -> None:  # noqa: B027  (most models learn as they go)
        """End learning (a model that fits on all its rows at once fits here)."""

    @abstractmethod
    def predict(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Predicted rewards, ndarray of float64, shape (n_requests, max_candidates,
        slate_size) (padding candidates get some value the estimators never use)."""

    @abstractmethod
    def fresh(self) -> RewardModel:
        """An unfitted copy with the same settings."""

    def merge(self, other: RewardModel) -> None:
        """Learn what ``other`` (a :meth:`fresh` copy that learned other rows, not finished)
        learned, as if those rows had come after this model's (partitions of a log learned
        apart, merged in row order)."""
        raise InputTypeError(
            f"{type(self).__name__} cannot merge models learned apart, so it cannot be fitted "
            f"partition by partition."
        )


class RidgeRewardModel(RewardModel):
    """The kernel's joint ridge model (:class:`bandits.models.JointRidge`) over the joint
    features ``[context (x) item, item, 1]``: one model per position (``per_position``, so
    position effects such as examination are learned) or one pooled over positions.

    Its statistics are sums (``A = ridge I + sum x x'``, ``b = sum x r``), so it learns batch
    by batch in flat memory and equals the in-memory fit up to rounding.

    Parameters
    ----------
    ridge : float > 0, default 1.0
    per_position : bool, default True
    """

    def __init__(self, *, ridge: float = 1.0, per_position: bool = True) -> None:
        self.ridge = check_real(ridge, "ridge", "RidgeRewardModel", low=0.0, low_open=True)
        self.per_position = bool(per_position)
        self.models_: list[JointRidge] = []

    def fresh(self) -> RidgeRewardModel:
        return RidgeRewardModel(ridge=self.ridge, per_position=self.per_position)

    def _models(self, slate_size: int) -> list[JointRidge]:
        if not self.models_:
            count = slate_size if self.per_position else 1
            self.models_ = [JointRidge(ridge=self.ridge) for _ in range(count)]
        return self.models_

    def learn(self, log: LoggedBandit) -> None:
        obs, slates, rewards = log.observation, log.slates, log.rewards
        models = self._models(log.slate_size)
        if not self.per_position:
            models[0].learn(obs, slates, rewards)
            return
        for k, model in enumerate(models):
            model.learn(obs, slates[:, k : k + 1], rewards[:, k : k + 1])

    def merge(self, other: RewardModel) -> None:
        if not isinstance(other, RidgeRewardModel):
            raise InputTypeError(f"Cannot merge a {type(other).__name__} into a ridge model.")
        if not other.models_:
            return
        if not self.models_:
            self.models_ = [JointRidge(ridge=self.ridge) for _ in other.models_]
        for mine, theirs in zip(self.models_, other.models_, strict=True):
            mine.merge(theirs)

    def predict(self, obs: SlateObservation) -> NDArray[np.float64]:
        models = self._models(obs.slate_size)
        means = [model.candidate_means(obs) for model in models]
        if not self.per_position:
            means = means * obs.slate_size
        return np.stack(means, axis=2)


class SklearnRewardModel(RewardModel):
    """Any scikit-learn-style model over ``[context, item features, one-hot position]``.

    A classifier (it has ``predict_proba`` and numeric ``classes_``) predicts
    ``sum_y P(y | features) y``, the expected reward; a regressor its ``predict``. The
    training rows (one per shown position) are kept until :meth:`finish` fits a fresh copy of
    ``estimator`` on them: memory grows with the rows (the ridge model's does not).

    Parameters
    ----------
    estimator : object
        Unfitted, with ``fit(X, y)`` and ``predict(X)`` or ``predict_proba(X)``; copied with
        ``copy.deepcopy`` before fitting.
    """

    keeps_rows = True

    def __init__(self, estimator: Any) -> None:
        if not callable(getattr(estimator, "fit", None)) or not (
            callable(getattr(estimator, "predict", None))
            or callable(getattr(estimator, "predict_proba", None))
        ):
            raise InputTypeError(
                f"A reward model must be a RewardModel or have fit(X, y) and predict(X) or "
                f"predict_proba(X) (a scikit-learn estimator); got {type(estimator).__name__}."
            )
        self.estimator = estimator
        self.fitted_: Any = None
        self._features: list[NDArray[np.float64]] = []
        self._targets: list[NDArray[np.float64]] = []
        self._folds: list[NDArray[np.int64]] = []

    def fresh(self) -> SklearnRewardModel:
        return SklearnRewardModel(self.estimator)

    def learn(self, log: LoggedBandit) -> None:
        self._keep(log)

    def learn_in_folds(self, log: LoggedBandit, folds: NDArray[np.int64]) -> None:
        self._keep(log)
        self._folds.append(np.repeat(folds, log.slate_size))

    def _keep(self, log: LoggedBandit) -> None:
        """Keep the batch's shown rows, one per position."""
        obs = log.observation
        items = obs.items.features[np.take_along_axis(obs.candidate_rows, log.slates, axis=1)]
        every = _features(obs.context, items, obs.slate_size)  # (n, k, k, width)
        positions = np.arange(obs.slate_size)
        self._features.append(every[:, positions, positions].reshape(-1, every.shape[-1]))
        self._targets.append(log.rewards.reshape(-1))

    def merge(self, other: RewardModel) -> None:
        if not isinstance(other, SklearnRewardModel):
            raise InputTypeError(
                f"Cannot merge a {type(other).__name__} into {type(self).__name__}."
            )
        self._features.extend(other._features)
        self._targets.extend(other._targets)
        self._folds.extend(other._folds)

    def finish(self) -> None:
        if not self._targets:
            return
        x, y = np.concatenate(self._features), np.concatenate(self._targets)
        self._features, self._targets = [], []
        self.fitted_ = self._fitted(x, y)

    def finish_folds(self, models: list[Any]) -> None:
        """Fit ``models[k]`` on the kept rows outside fold ``k``, in the order kept: the
        rows (and the fits) a copy learning only those rows would have; memory holds the
        rows once and one fold's selection at a time."""
        if not self._targets:
            return
        x, y = np.concatenate(self._features), np.concatenate(self._targets)
        folds = np.concatenate(self._folds)
        self._features, self._targets, self._folds = [], [], []
        for k, model in enumerate(models):
            outside = folds != k
            if outside.all():
                model.fitted_ = self._fitted(x, y)
            elif outside.any():
                model.fitted_ = self._fitted(x[outside], y[outside])

    def _fitted(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
        """A fresh copy of the estimator fitted on ``x`` (n, width) and ``y`` (n,)."""
        model = copy.deepcopy(self.estimator)
        model.fit(x, y)
        return model

    def predict(self, obs: SlateObservation) -> NDArray[np.float64]:
        shape = (obs.n_requests, obs.max_candidates, obs.slate_size)
        result = np.zeros(shape)
        if self.fitted_ is None:
            return result
        mask = obs.candidate_mask
        rows = _features(obs.context, obs.candidate_features, obs.slate_size)[mask]
        flat = rows.reshape(-1, rows.shape[-1])
        result[mask] = self._expected(flat).reshape(rows.shape[:2])
        return result

    def _expected(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        model = self.fitted_
        if callable(getattr(model, "predict_proba", None)) and hasattr(model, "classes_"):
            classes = np.asarray(model.classes_)
            if classes.dtype.kind not in "biuf":
                raise InputValueError(
                    f"A classifier used as a reward model needs numeric classes (the rewards); "
                    f"got {shown(classes.tolist())}."
                )
            return np.asarray(model.predict_proba(x), dtype=np.float64) @ classes.astype(float)
        return np.asarray(model.predict(x), dtype=np.float64).reshape(-1)


def _features(
    context: NDArray[np.float64], items: NDArray[np.float64], slate_size: int
) -> NDArray[np.float64]:
    """``[context, item, one-hot position]`` of items (n, m, d) at each of ``slate_size``
    positions, shape (n, m, slate_size, q + d + slate_size)."""
    n, m, d = items.shape
    q = context.shape[1]
    out = np.zeros((n, m, slate_size, q + d + slate_size))
    out[..., :q] = context[:, None, None, :]
    out[..., q : q + d] = items[:, :, None, :]
    out[..., q + d :] = np.eye(slate_size)
    return out


def make_reward_model(model: object, *, ridge: float, owner: str) -> RewardModel:
    """A reward model from a name (:data:`REWARD_MODELS`), a :class:`RewardModel`, or a
    scikit-learn-style estimator.

    ``ridge`` and ``ridge-pooled`` are :class:`RidgeRewardModel` per position and pooled;
    ``logistic`` is ``LogisticRegression(max_iter=1000)``, ``gbm``
    ``HistGradientBoostingRegressor(random_state=0)`` (above 10,000 rows it stops early on
    validation rows it draws, the same ones every run) and ``forest``
    ``RandomForestRegressor(n_estimators=100, min_samples_leaf=5, random_state=0)``, each
    over ``[context, item, one-hot position]`` (scikit-learn: ``pip install
    'bandits-recommender[sklearn]'``).
    """
    if isinstance(model, RewardModel):
        return model
    if not isinstance(model, str):
        return SklearnRewardModel(model)
    if model not in REWARD_MODELS:
        raise InputValueError(
            f"The 'model' parameter of {owner} must be one of {', '.join(REWARD_MODELS)} (or, "
            f"from Python, a RewardModel or a scikit-learn estimator); got {shown(model)}."
            f"{suggest(model, REWARD_MODELS)}"
        )
    if model.startswith("ridge"):
        return RidgeRewardModel(ridge=ridge, per_position=model == "ridge")
    try:
        from sklearn import ensemble, linear_model
    except ImportError:
        raise InputValueError(
            f"The reward model {model!r} of {owner} needs scikit-learn: pip install "
            f"'bandits-recommender[sklearn]'."
        ) from None
    estimators: dict[str, Any] = {
        "logistic": linear_model.LogisticRegression(max_iter=1000),
        "gbm": ensemble.HistGradientBoostingRegressor(random_state=0),
        "forest": ensemble.RandomForestRegressor(
            n_estimators=100, min_samples_leaf=5, random_state=0
        ),
    }
    return SklearnRewardModel(estimators[model])
