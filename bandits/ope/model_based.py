"""The shared part of the estimators with a reward model (DM, DR, SNDR, Switch-DR, DRos).

Slates. Every estimator here works on whole slates with the slate reward ``r = sum_k r_k``,
the same weight as slate IPS (``w = pi(s | x) / mu(s | x)``, the whole ordered slate) and a
reward model that is additive over positions, ``q(x, s) = sum_k q(x, s_k, k)``. Then the
target's expected model reward needs only its candidate-position marginals:

    DM(x) = E_{s ~ pi}[q(x, s)] = sum_k sum_c pi(c at k | x) q(x, c, k),

asked of the target (``policy.candidate_position_probability``) once per batch. DR is then
unbiased whenever the logger supports the target's slates, whatever the model; a model that is
not additive over positions (interactions between slots) only costs variance. Per-position
weights (independent IPS) are not used: they assume the reward decomposes by position, which
slate-specific estimators (not here) state separately.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.base import (
    Estimator,
    EstimatorInput,
    LinearEstimator,
    unsupported_position_mass,
)
from bandits.ope.crossfit import CrossFitted
from bandits.ope.reward_models import make_reward_model
from bandits.slates import shown_marginals, sum_last_axis
from bandits.validation import InputTypeError, InputValueError, check_integer, check_real


class ModelTerms(NamedTuple):
    """A batch's reward-model quantities.

    Attributes
    ----------
    direct : ndarray of float64, shape (n_requests,)
        ``sum_k sum_c pi(c at k | x) q(x, c, k)``: the target's expected model reward.
    logged : ndarray of float64, shape (n_requests,)
        ``sum_k q(x, s_k, k)`` of the logged slate ``s``.
    """

    direct: NDArray[np.float64]
    logged: NDArray[np.float64]


class ModelBasedEstimator(Estimator):
    """An estimator with a cross-fitted reward model ``q(x, c, k)``.

    Parameters
    ----------
    model : str, RewardModel or scikit-learn estimator, default "ridge"
        See :func:`bandits.ope.reward_models.make_reward_model`.
    ridge : float > 0, default 1.0
        The ridge models' L2 penalty.
    folds : int >= 2, default 5
        Cross-fitting folds (:mod:`bandits.ope.crossfit`).
    **options
        The base's ``confidence``, ``interval``, ``bootstrap_samples``, ``reward_range``,
        ``rng``.
    """

    needs_policy = True
    target_uses = frozenset({"slate", "marginals"})

    def __init__(
        self, *, model: Any = "ridge", ridge: float = 1.0, folds: int = 5, **options: Any
    ) -> None:
        owner = type(self).__name__
        self.model = model
        self.ridge = check_real(ridge, "ridge", owner, low=0.0, low_open=True)
        self.folds = check_integer(folds, "folds", owner, low=2, high=1000)
        self.reward_model = make_reward_model(model, ridge=self.ridge, owner=owner)
        super().__init__(**options)
        self.crossfit_: CrossFitted | None = None
        self._cache: tuple[LoggedBandit, NDArray[np.float64]] | None = None

    @property
    def needs_fit(self) -> bool:
        return True

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the last batch's predictions (sent to workers: the model only)."""
        state = self.__dict__.copy()
        state["_cache"] = None
        return state

    def start_fit(self) -> None:
        self.crossfit_ = CrossFitted(self.reward_model, folds=self.folds, salt=self.salt_)
        self._cache = None

    def fit_batch(self, log: LoggedBandit) -> None:
        if self.crossfit_ is None:
            self.start_fit()
        assert self.crossfit_ is not None
        self.crossfit_.learn(log)

    def finish_fit(self) -> None:
        if self.crossfit_ is not None:
            self.crossfit_.finish()

    def fit_state(self) -> object:
        return self.crossfit_

    def merge_fit(self, state: object) -> None:
        if state is None:
            return
        if not isinstance(state, CrossFitted):
            raise InputTypeError(f"{type(self).__name__} merges cross-fitted models only.")
        if self.crossfit_ is None:
            self.start_fit()
        assert self.crossfit_ is not None
        self.crossfit_.merge(state)

    def predictions(self, log: LoggedBandit) -> NDArray[np.float64]:
        """Cross-fitted ``q``, shape (n_requests, max_candidates, slate_size); computed once
        per batch however many targets ask."""
        if self.crossfit_ is None:
            raise InputValueError(
                f"{type(self).__name__} has no fitted reward model: call estimate(), or "
                f"start_fit(), fit_batch() on every batch and finish_fit() first."
            )
        if self._cache is None or self._cache[0] is not log:
            self._cache = (log, self.crossfit_.predict(log))
        return self._cache[1]

    def model_terms(self, data: EstimatorInput) -> ModelTerms:
        """The target's expected model reward and the model's reward of the logged slate."""
        return ModelTerms(self.direct_rewards(data), self.logged_model_rewards(data))

    def direct_rewards(self, data: EstimatorInput) -> NDArray[np.float64]:
        """``sum_k sum_c pi(c at k | x) q(x, c, k)`` per row, shape (n_requests,)."""
        return np.einsum("nck,nck->n", data.target_marginals, self.predictions(data.log))

    def logged_model_rewards(self, data: EstimatorInput) -> NDArray[np.float64]:
        """``sum_k q(x, s_k, k)`` of each logged slate ``s``, shape (n_requests,)."""
        q = self.predictions(data.log)
        return sum_last_axis(shown_marginals(q, data.log.slates))

    def unsupported_mass(self, data: EstimatorInput) -> NDArray[np.float64] | None:
        return unsupported_position_mass(data)


class DoublyRobustFamily(ModelBasedEstimator, LinearEstimator):
    """``term_i = DM_i + v_i (r_i - q_i)`` with ``v = adjusted_weights(w)``: DM (``v = 0``),
    DR (``v = min(w, clip)``), Switch-DR (``v = w 1{w <= tau}``), DRos
    (``v = lambda w / (w^2 + lambda)``). Subclasses write only :meth:`adjusted_weights`."""

    @abstractmethod
    def adjusted_weights(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """``v`` from the slate weights (n_requests,): shape (n_requests,) or
        (n_requests, n_candidates) for a grid of hyperparameters."""

    def affine_terms(self, data: EstimatorInput) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        direct, logged = self.model_terms(data)
        adjusted = self.adjusted_weights(data.weights)
        if adjusted.ndim == 2:
            direct, logged = direct[:, None], logged[:, None]
        return direct - adjusted * logged, adjusted
