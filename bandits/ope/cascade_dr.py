"""Cascade doubly robust estimation of slates (Kiyohara, Saito, Matsuhiro, Narita, Shimizu and
Yamamoto, WSDM 2022): reward-interaction IPS with a ``Q`` function (fitted backwards, per
target) as a control variate at every position."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.base import EstimatorInput
from bandits.ope.cascade_q import BackwardQ, CrossFittedQ
from bandits.ope.cascade_q_regressor import RegressorBackwardQ, check_sample_weights
from bandits.ope.crossfit import CrossFitted
from bandits.ope.extensions import conditional_probabilities
from bandits.ope.model_based import ModelBasedEstimator
from bandits.ope.reward_models import SklearnRewardModel
from bandits.ope.rips import RIPS
from bandits.ope.targets import TargetRows
from bandits.validation import InputTypeError, InputValueError, check_choice, shown

Q_KINDS = ("backward", "reward")
"""Cascade DR's ``q=``: the paper's backward-fitted ``Q`` (ridge), or the reward model."""

FITTING_METHODS = ("normal", "iw")
"""How the backward ``Q``'s regressions weigh a row at position ``k``: alike (``normal``) or
by its prefix importance weight ``w_1:k`` (``iw``, obp's ``fitting_method``), which fits
``Q`` to the target's prefixes rather than the logger's."""


class CascadeFit(NamedTuple):
    """What cascade DR learned in a fitting pass (its :meth:`~CascadeDR.fit_state`): the
    reward model's folds (``q="reward"``) and each target's backward ``Q`` folds."""

    rewards: CrossFitted | None
    backward: dict[str, CrossFittedQ]


class CascadeDR(ModelBasedEstimator, RIPS):
    """Cascade doubly robust (Cascade-DR; obp's ``SlateCascadeDoublyRobust``): the mean over
    rows of

        sum_k [ w_1:k (r_k - Q_k(x, s_1..s_k)) + w_1:k-1 sum_c pi(c at k | x, s_1..s_k-1)
                Q_k(x, s_1..s_k-1, c) ]

    with RIPS's prefix weights ``w_1:k = pi(s_1..s_k | x) / mu(s_1..s_k | x)`` (``w_1:0 = 1``).

    Assumption (cascade, as :class:`~bandits.ope.rips.RIPS`): the expected reward at position
    ``k`` depends only on the context and the items at positions ``1..k``, and the logger
    supports the target's prefixes. Then it is unbiased *whatever* ``Q``: given the prefix
    ``s_1..s_k-1``, the two ``Q_k`` terms have the same expectation under the logger, so they
    only cancel noise. A reward that depends on items below its position biases it (as it
    does RIPS).

    ``Q`` (``q=``):

    - ``"backward"`` (default; the paper's): ``Q_k`` is the expected reward from ``k`` to the
      bottom under the target given the logged prefix, fitted backwards from the last
      position by regressing ``r_k + E_{c ~ pi(. | x, s_1..s_k)}[Q_k+1(x, s_1..s_k, c)]`` on
      the prefix (:mod:`bandits.ope.cascade_q`: ridge over the context-item features and the
      sum of the features of the items above). It depends on the target, so it is fitted per
      target, cross-fitted over ``folds`` (a row's ``Q`` never saw its rewards), in the same
      fitting pass as the reward models (and partition by partition on a cluster). Its
      residuals carry the rewards below too, so when it is good the variance falls far below
      RIPS's and a per-position model's. With ``model="ridge"`` its statistics are sums
      (flat memory); with ``gbm``, ``forest`` or a scikit-learn regressor passed in, one copy
      per position is fitted backwards on rows kept in memory
      (:mod:`bandits.ope.cascade_q_regressor`).
    - ``"reward"``: ``Q_k(x, s_1..s_k-1, c) = q(x, c, k)``, the per-position reward model of
      the other model estimators (``model=``, any of them, cross-fitted), which sees neither
      the items above nor the rewards below: simpler, still unbiased, a smaller variance cut.

    What it asks: the target's prefix probabilities (as RIPS) and its probability of every
    one-item extension of each logged prefix
    (:func:`~bandits.ope.extensions.extension_probabilities`,
    ``max_candidates x slate_size`` calls a batch, in both passes with ``q="backward"``); the
    logger's prefix probabilities as RIPS gets them (the log, or ``logging_policy``). The
    diagnostics describe RIPS's weights. With one position it is DR.

    ``fitting_method="iw"`` (backward ``Q`` only; obp's option) weighs each row's regression
    at position ``k`` by its prefix weight ``w_1:k``, so ``Q`` is fitted where the target puts
    its prefixes; ``"normal"`` weighs rows alike. Either way the estimate stays unbiased.

    Parameters
    ----------
    q : {"backward", "reward"}, default "backward"
    fitting_method : {"normal", "iw"}, default "normal"
    logging_policy : Policy, optional
        As :class:`~bandits.ope.rips.RIPS`.
    **options
        :class:`~bandits.ope.model_based.ModelBasedEstimator`'s ``model``, ``ridge``,
        ``folds`` and the base's options.
    """

    name = "cascade-dr"
    target_needs = "its probabilities of each logged slate's prefixes and of their extensions"
    target_uses = frozenset({"prefix", "extensions"})

    def __init__(
        self, *, q: str = "backward", fitting_method: str = "normal", **options: Any
    ) -> None:
        owner = type(self).__name__
        self.q = check_choice(q, Q_KINDS, f"'q' of {owner}")
        self.fitting_method = check_choice(
            fitting_method, FITTING_METHODS, f"'fitting_method' of {owner}"
        )
        if self.fitting_method == "iw" and self.q != "backward":
            raise InputValueError(
                f"{owner}'s fitting_method='iw' weighs the backward Q's regressions; with "
                f"q={self.q!r} there is none: drop fitting_method or pass q='backward'."
            )
        super().__init__(**options)
        self.q_prototype: BackwardQ | RegressorBackwardQ | None = None
        if self.q == "backward":
            if isinstance(self.model, str) and self.model == "ridge":
                self.q_prototype = BackwardQ(self.ridge)
            elif isinstance(self.reward_model, SklearnRewardModel):
                estimator = self.reward_model.estimator
                self.q_prototype = RegressorBackwardQ(estimator, owner)
                if self.fitting_method == "iw":
                    check_sample_weights(estimator, owner)
            else:
                given = (
                    shown(self.model) if isinstance(self.model, str) else type(self.model).__name__
                )
                raise InputValueError(
                    f"{owner}'s backward Q (q='backward') is fitted by a regressor over the "
                    f"context, the item and the items above: model=ridge, gbm, forest or a "
                    f"scikit-learn regressor; got model={given}: pass one of those, or "
                    f"q='reward' to use it as a per-position reward model."
                )
        self.fits_target = self.q == "backward"
        self.backward_: dict[str, CrossFittedQ] = {}

    def start_fit(self) -> None:
        super().start_fit()
        self.backward_ = {}

    def fit_batch(self, log: LoggedBandit) -> None:
        if self.q == "reward":
            super().fit_batch(log)

    def fit_target(self, data: EstimatorInput) -> None:
        if self.q != "backward":
            return
        fits = self.backward_.get(data.key)
        if fits is None:
            fits = CrossFittedQ(self.q_prototype, folds=self.folds, salt=self.salt_)
            self.backward_[data.key] = fits
        weights = self._weights(data) if self.fitting_method == "iw" else None
        fits.learn(data.log, self.conditional(data), weights)

    def finish_fit(self) -> None:
        super().finish_fit()
        for fits in self.backward_.values():
            fits.finish()

    def fit_state(self) -> CascadeFit:
        return CascadeFit(self.crossfit_ if self.q == "reward" else None, self.backward_)

    def merge_fit(self, state: object) -> None:
        if not isinstance(state, CascadeFit):
            raise InputTypeError(f"{type(self).__name__} merges its own fitting state only.")
        super().merge_fit(state.rewards)
        for key, fits in state.backward.items():
            if key in self.backward_:
                self.backward_[key].merge(fits)
            else:
                self.backward_[key] = fits

    def conditional(self, data: EstimatorInput) -> NDArray[np.float64]:
        """The target's probability of each candidate at each position given the logged
        items above it, shape (n_requests, max_candidates, slate_size) (0 where the target
        never shows the logged prefix), once per batch."""

        def compute() -> NDArray[np.float64]:
            if isinstance(data.target, TargetRows):  # a cascade_dist column, or one position
                return data.target.conditional()
            if data.target is None:  # needs_policy refuses earlier; kept for direct callers
                raise InputTypeError(f"{type(self).__name__} needs the target policy")
            return conditional_probabilities(data.target, data.log)

        return data.memo(("conditional", self), compute)

    def q_values(self, data: EstimatorInput) -> NDArray[np.float64]:
        """``Q_k(x, s_1..s_k-1, c)`` of every candidate at every position, shape
        (n_requests, max_candidates, slate_size)."""
        if self.q == "reward":
            return self.predictions(data.log)
        fits = self.backward_.get(data.key)
        if fits is None:
            raise InputValueError(
                f"{type(self).__name__} has no Q fitted for the target {data.key!r}: call "
                f"estimate(), or fit with this target (start_fit(), learn_batch() on every "
                f"batch, finish_fit()) first."
            )
        return data.memo(("backward q", self), lambda: fits.predict(data.log))

    def weighted_parts(
        self, data: EstimatorInput
    ) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64]], ...]:
        """``(w_1:k, r_k - Q_k)`` and ``(w_1:k-1, b_k)``, ``b_k`` the target's expected
        ``Q_k`` given the logged items above (0 where the target never shows the prefix,
        whose weight is then 0)."""
        log = data.log
        q = self.q_values(data)
        weights = self._weights(data)
        shown_q = np.take_along_axis(q, log.slates[:, None, :], axis=1)[:, 0, :]
        baseline = (self.conditional(data) * q).sum(axis=1)
        before = np.column_stack([np.ones(len(log)), weights[:, :-1]])
        return (weights, log.rewards - shown_q), (before, baseline)
