"""Supervised-to-bandit conversion (Dudik et al. 2011; obp's MultiClassToBanditReduction): a
classification data set becomes a bandit whose items are the classes, whose context is the
features and whose reward is 1 for the true class; logged feedback from a behaviour policy and
the exact value of any evaluation policy come with it."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation
from bandits.policy import Policy
from bandits.validation import (
    InputValueError,
    as_array,
    check_choice,
    check_finite,
    check_shape,
)

DATASETS = ("digits", "wine", "breast_cancer")
"""scikit-learn's bundled classification data sets (no download) :meth:`from_dataset` loads."""


def load_dataset(
    name: str, label: str = "'name' of load_dataset"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Features, shape (n_rows, n_features), and labels, shape (n_rows,), of one of
    ``DATASETS``, bundled with scikit-learn (the ``sklearn`` extra); ``label`` names the
    parameter in the error for another name."""
    chosen = check_choice(name, DATASETS, label)
    try:
        from sklearn import datasets
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "Loading a classification data set needs scikit-learn: pip install "
            "'bandits-recommender[sklearn]'."
        ) from error
    bunch = getattr(datasets, f"load_{chosen}")()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


class ClassificationBandit:
    """A classification data set as a contextual bandit: row ``i`` is a request with context
    ``x_i`` (standardised per column unless ``standardize=False``), the candidates are all
    ``n_classes`` classes (item ``k``, item features the one-hot of ``k``), slates of one, and
    showing class ``k`` earns ``1[k == y_i]``.

    So a policy's value on rows ``R`` is exactly ``mean_{i in R} pi(y_i | x_i)``
    (:meth:`true_value`), which is what OPE estimates on :meth:`logged_feedback` are compared
    with.

    Parameters
    ----------
    features : array-like of float, shape (n_rows, n_features)
    labels : array-like of int, shape (n_rows,)
        Classes ``0 .. n_classes - 1`` (at least two).
    standardize : bool

    Attributes
    ----------
    features, labels : ndarray
    n_classes : int
    items : ItemTable
    """

    def __init__(self, *, features: ArrayLike, labels: ArrayLike, standardize: bool = True) -> None:
        owner = "ClassificationBandit"
        x = as_array(features, f"'features' of {owner}", np.float64, 2)
        check_finite(x, f"'features' of {owner}")
        y = as_array(labels, f"'labels' of {owner}", np.int64, 1)
        check_shape(y, (x.shape[0],), f"'labels' of {owner}")
        if y.size == 0 or y.min() < 0:
            raise InputValueError(
                f"'labels' of {owner} must be classes >= 0 for at least one row; got "
                f"{'no rows' if y.size == 0 else f'{y.min()} in row {int(np.argmin(y))}'}."
            )
        self.n_classes = int(y.max()) + 1
        if self.n_classes < 2:
            raise InputValueError(f"'labels' of {owner} must hold at least 2 classes; got 1.")
        if standardize:
            spread = x.std(axis=0)
            x = (x - x.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        self.features, self.labels = x, y
        self.items = ItemTable(np.arange(self.n_classes), np.eye(self.n_classes))

    @classmethod
    def from_dataset(
        cls, name: str, *, standardize: bool = True, label: str = "'name' of from_dataset"
    ) -> ClassificationBandit:
        """One of scikit-learn's bundled data sets (``DATASETS``); ``label`` as
        :func:`load_dataset` takes it."""
        features, labels = load_dataset(name, label)
        return cls(features=features, labels=labels, standardize=standardize)

    @property
    def n_rows(self) -> int:
        return int(self.labels.shape[0])

    def _rows(self, rows: ArrayLike | None) -> NDArray[np.int64]:
        if rows is None:
            return np.arange(self.n_rows)
        index = as_array(rows, "'rows' of ClassificationBandit", np.int64, 1)
        bad = (index < 0) | (index >= self.n_rows)
        if bad.any():
            at = int(np.argmax(bad))
            raise InputValueError(
                f"'rows' of ClassificationBandit must lie in [0, {self.n_rows}); entry {at} is "
                f"{index[at]}."
            )
        return index

    def observation_mapping(self, rows: ArrayLike | None = None) -> dict[str, NDArray[Any]]:
        """The requests of ``rows`` (default all) in the ``SlateObservation.to_mapping()``
        layout: every class a candidate, no history, anonymous users, time 0."""
        index = self._rows(rows)
        n, k = index.size, self.n_classes
        return {
            "context": self.features[index],
            "candidate_ids": np.tile(np.arange(k, dtype=np.int64), (n, 1)),
            "candidate_features": np.broadcast_to(np.eye(k), (n, k, k)).copy(),
            "n_candidates": np.full(n, k, dtype=np.int64),
            "slate_size": np.asarray(1, dtype=np.int64),
            "history": np.zeros((n, 0), dtype=np.int64),
            "request_ids": index.astype(np.int64),
            "user_ids": np.full(n, PAD_ID, dtype=np.int64),
            "times": np.zeros(n, dtype=np.int64),
        }

    def observation(self, rows: ArrayLike | None = None) -> SlateObservation:
        """The requests of ``rows`` (default all), sharing the one item table."""
        values = self.observation_mapping(rows)
        del values["candidate_features"]
        return SlateObservation(
            items=self.items, slate_size=int(values.pop("slate_size")), **values
        )

    def rewards(self, rows: ArrayLike | None, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """``1[shown class == label]`` per request, shape (n_requests, 1), for slates of
        shape (n_requests, 1)."""
        index = self._rows(rows)
        return (slates == self.labels[index][:, None]).astype(np.float64)

    def true_value(self, policy: Policy, rows: ArrayLike | None = None) -> float:
        """Exact value of ``policy`` on ``rows`` (default all): ``mean_i pi(y_i | x_i)`` from
        its candidate-position probabilities (no sampling)."""
        index = self._rows(rows)
        marginals = policy.candidate_position_probability(self.observation(index))
        return float(marginals[np.arange(index.size), self.labels[index], 0].mean())

    def logged_feedback(
        self, behaviour: Policy, rows: ArrayLike | None = None, *, policy_name: str = "behaviour"
    ) -> LoggedBandit:
        """One logged decision of ``behaviour`` per row of ``rows`` (default all), with its
        probabilities and candidate marginals, and the reward ``1[shown == label]`` (also as
        the ``"click"`` signal). The randomness is the behaviour policy's own."""
        index = self._rows(rows)
        obs = self.observation(index)
        decision = behaviour.act(obs, with_marginals=True)
        rewards = self.rewards(index, decision.slates)
        feedback = SlateFeedback(rewards, {"click": rewards.copy()})
        return LoggedBandit.from_batch(obs, decision, feedback, policy_name)
