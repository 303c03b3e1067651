"""Adaptive IPS (after Kiyohara, Uehara, Narita, Shimizu, Yamamoto and Saito, KDD 2023): each
request's positions weighed by the importance weight of the user behavior assumed for it
(independent, cascade or standard), the behavior given per row or chosen per context part
from the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.ope.base import EstimatorInput, Point
from bandits.ope.iips import independent_weights
from bandits.ope.positionwise import PositionwiseEstimator
from bandits.ope.rips import check_logging_policy, prefix_weights
from bandits.ope.statistics import Moments
from bandits.policy import Policy
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_choice,
    check_integer,
    check_real,
    shown,
)

BEHAVIORS = ("independent", "cascade", "standard")
"""The user behaviors, from the fewest interactions to the most; their position weights:
``pi(s_k at k) / mu(s_k at k)`` (IIPS), ``pi(s_1..s_k) / mu(s_1..s_k)`` (RIPS) and the whole
slate's ``pi(s) / mu(s)`` at every position (slate IPS)."""


def estimated_mse(
    means: NDArray[np.float64], covariance: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """The estimated mean squared error of each behavior's estimate of one part's value.

    ``means`` (3,) and ``covariance`` (3, 3) are those of the part's per-row terms under the
    :data:`BEHAVIORS` (a row outside the part has term 0), over ``n`` rows. The standard
    behavior's estimate is unbiased (given support), so behavior ``b``'s bias is estimated by
    ``D_b = V_b - V_standard``, and its square, less the variance of ``D_b`` that inflates it,
    by ``max(D_b^2 - var(D_b), 0)``; the MSE estimate adds ``var(V_b)``:

        MSE_b = max((V_b - V_std)^2 - var(V_b - V_std), 0) + var(V_b)

    with ``var`` the sample (co)variances over ``n``. Returns shape (3,).
    """
    if n < 2:
        return np.array([np.inf, np.inf, 0.0])
    standard = len(BEHAVIORS) - 1
    variance = np.diag(covariance) / n
    difference = means - means[standard]
    spread = (variance + variance[standard] - 2 * covariance[:, standard] / n).clip(min=0.0)
    return np.maximum(difference**2 - spread, 0.0) + variance


def choose_behaviors(terms: Moments, parts: int) -> list[int]:
    """Per part, the behavior (index into :data:`BEHAVIORS`) with the smallest
    :func:`estimated_mse`, the fewer interactions winning ties; the terms are laid out part
    by part, behavior by behavior."""
    width = len(BEHAVIORS)
    covariance = terms.covariance if terms.n > 1 else np.zeros((terms.mean.size,) * 2)
    chosen = []
    for part in range(parts):
        block = slice(part * width, (part + 1) * width)
        mse = estimated_mse(terms.mean[block], covariance[block, block], terms.n)
        chosen.append(int(np.argmin(mse)))
    return chosen


class AdaptiveIPS(PositionwiseEstimator):
    """Adaptive IPS (AIPS): the mean of ``sum_k w_k^(c(x)) r_k``, where ``c(x)`` is the user
    behavior assumed for the request and ``w^(c)`` its position weights (:data:`BEHAVIORS`):
    ``independent`` (IIPS's ``pi(s_k at k) / mu(s_k at k)``), ``cascade`` (RIPS's
    ``pi(s_1..s_k) / mu(s_1..s_k)``), ``standard`` (the whole slate's ``pi(s) / mu(s)``).

    Assumption: for every request the reward at position ``k`` depends only on the items the
    behavior ``c(x)`` says it does (``independent``: the item at ``k``; ``cascade``: items
    ``1..k``; ``standard``: any), and the logger supports what those weights divide by. Then,
    with ``c`` fixed in advance, it is unbiased; it is biased where a request's rewards
    interact more than its assumed behavior allows (e.g. ``independent`` on a cascade).

    Choosing ``c``:

    - ``behavior="independent" | "cascade" | "standard"``: the same for every row (IIPS,
      RIPS, slate IPS);
    - ``behavior=callable``: the known behavior of each row, ``behavior(obs)`` giving an
      array (n_requests,) of names or indices into :data:`BEHAVIORS` (e.g. read from a
      column the simulation or an experiment recorded);
    - ``behavior=None`` (default): chosen from the data, per context part. The rows fall into
      one part, or two with ``split_feature=j`` (``context[:, j] <= split_at`` and
      ``> split_at``). Every batch keeps, per part and behavior, the statistics of the terms;
      once all rows are merged, each part takes the behavior with the smallest estimated MSE
      (:func:`estimated_mse`: squared bias against slate IPS, debiased, plus variance; ties
      to the fewer interactions), reported in the estimate's ``tuning``. The standard error
      and interval are conditional on that choice (as for SLOPE).

    How this differs from the paper: Kiyohara et al. (2023) allow any interaction set per
    position (not only these three), learn the context partition (a tree grown by the
    estimated MSE) and optimise the behavior per context; here the partition is one split
    the user names (or none) and the choice is among the three behaviors. With a data-driven
    choice the estimate is unbiased only as far as the choice is right; it tends to the
    least interacting behavior whose bias is not detectable at the sample size, which is
    the paper's bias-variance trade-off too.

    What the log must carry: as IIPS (position probabilities), RIPS (prefix probabilities:
    from the log, or ``logging_policy``) and IPS (slate probabilities), for the behaviors in
    use. The diagnostics describe the chosen per-row weights with a given behavior, and the
    whole-slate weights (the heaviest) with a data-driven choice.

    Parameters
    ----------
    behavior : {"independent", "cascade", "standard"}, callable or None, default None
    split_feature : int >= 0, optional
        Context column that splits the rows into two parts (data-driven choice only).
    split_at : float, default 0.0
    logging_policy : Policy, optional
        As :class:`~bandits.ope.rips.RIPS` (for the cascade behavior's prefixes).
    **options
        The base's ``confidence``, ``interval``, ``bootstrap_samples``, ``reward_range``,
        ``rng``.
    """

    name = "adaptive-ips"
    target_needs = "its position and prefix probabilities of the logged slates"
    target_uses = frozenset({"position", "prefix", "slate"})

    def __init__(
        self,
        *,
        behavior: str | Callable[[SlateObservation], Any] | None = None,
        split_feature: int | None = None,
        split_at: float = 0.0,
        logging_policy: Policy | None = None,
        **options: Any,
    ) -> None:
        owner = type(self).__name__
        if isinstance(behavior, str):
            behavior = check_choice(behavior, BEHAVIORS, f"'behavior' of {owner}")
        elif behavior is not None and not callable(behavior):
            raise InputTypeError(
                f"The 'behavior' parameter of {owner} must be one of {', '.join(BEHAVIORS)}, a "
                f"function of the observation giving each row's behavior, or None (chosen from "
                f"the data); got {type(behavior).__name__} {shown(behavior)}."
            )
        self.behavior = behavior
        self.split_feature = (
            None
            if split_feature is None
            else check_integer(split_feature, "split_feature", owner, low=0)
        )
        self.split_at = check_real(split_at, "split_at", owner)
        if self.split_feature is not None and behavior is not None:
            raise InputValueError(
                f"The 'split_feature' parameter of {owner} splits the rows for a behavior chosen "
                f"from the data; with 'behavior'={shown(behavior)} given it has no use: drop one."
            )
        self.logging_policy = check_logging_policy(logging_policy, owner)
        super().__init__(**options)

    @property
    def parts(self) -> int:
        """How many context parts choose their behavior (data-driven choice)."""
        return 1 if self.split_feature is None else 2

    def part_of(self, obs: SlateObservation) -> NDArray[np.int64]:
        """Each row's part, shape (n_requests,): 0, or 1 where ``context[:, j] > split_at``."""
        if self.split_feature is None:
            return np.zeros(obs.n_requests, dtype=np.int64)
        if self.split_feature >= obs.n_context_features:
            raise InputValueError(
                f"The 'split_feature' parameter of {type(self).__name__} names context column "
                f"{self.split_feature}; the log's context has {obs.n_context_features} columns."
            )
        return (obs.context[:, self.split_feature] > self.split_at).astype(np.int64)

    def behavior_weights(self, data: EstimatorInput, behavior: int) -> NDArray[np.float64]:
        """The position weights of one behavior (index into :data:`BEHAVIORS`), shape
        (n_requests, slate_size), computed once per batch."""

        def compute() -> NDArray[np.float64]:
            if behavior == 0:
                return independent_weights(data)
            if behavior == 1:
                return prefix_weights(data, self.logging_policy, type(self).__name__)
            return np.repeat(data.weights[:, None], data.log.slate_size, axis=1)

        return data.memo(("behavior weights", self, behavior), compute)

    def row_behaviors(self, data: EstimatorInput) -> NDArray[np.int64]:
        """Each row's behavior (index into :data:`BEHAVIORS`), shape (n_requests,), when it
        is given (``behavior`` a name or a function)."""
        n, owner = len(data.log), type(self).__name__
        if isinstance(self.behavior, str):
            return np.full(n, BEHAVIORS.index(self.behavior), dtype=np.int64)
        if self.behavior is None:
            raise RuntimeError("row_behaviors needs a given behavior")
        given = np.asarray(self.behavior(data.log.observation))
        if given.shape != (n,):
            raise InputValueError(
                f"The 'behavior' function of {owner} must give one behavior per row, shape "
                f"({n},); got shape {given.shape}."
            )
        if given.dtype.kind in "iu":
            bad = (given < 0) | (given >= len(BEHAVIORS))
            indices = given.astype(np.int64)
        else:
            names = given.astype(str)
            bad = ~np.isin(names, BEHAVIORS)
            lookup = {name: i for i, name in enumerate(BEHAVIORS)}
            indices = np.array([lookup.get(name, 0) for name in names], dtype=np.int64)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputValueError(
                f"The 'behavior' function of {owner} gave row {row} {shown(given[row].item())}; "
                f"allowed: {', '.join(BEHAVIORS)} or their indices 0-{len(BEHAVIORS) - 1}."
            )
        return indices

    def position_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        if self.behavior is None:
            return self.behavior_weights(data, len(BEHAVIORS) - 1)
        rows = self.row_behaviors(data)
        weights = np.zeros((len(data.log), data.log.slate_size))
        for behavior in np.unique(rows):
            chosen = rows == behavior
            weights[chosen] = self.behavior_weights(data, int(behavior))[chosen]
        return weights

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        if self.behavior is not None:
            return super().row_terms(data)
        rewards = data.log.rewards
        part = self.part_of(data.log.observation)
        columns = []
        for p in range(self.parts):
            inside = part == p
            for behavior in range(len(BEHAVIORS)):
                weighted = (self.behavior_weights(data, behavior) * rewards).sum(axis=1)
                columns.append(np.where(inside, weighted, 0.0))
        return np.column_stack(columns)

    def point(self, terms: Moments) -> Point:
        if self.behavior is not None:
            return super().point(terms)
        chosen = choose_behaviors(terms, self.parts)
        columns = [p * len(BEHAVIORS) + b for p, b in enumerate(chosen)]
        gradient = np.zeros(terms.mean.size)
        gradient[columns] = 1.0

        def value_of(means: NDArray[np.float64]) -> float:
            return float(means[columns].sum())

        if self.split_feature is None:
            tuning = f"behavior={BEHAVIORS[chosen[0]]} (estimated MSE)"
        else:
            j, at = self.split_feature, self.split_at
            tuning = (
                f"behavior={BEHAVIORS[chosen[0]]} where x{j} <= {at:g}, "
                f"{BEHAVIORS[chosen[1]]} where x{j} > {at:g} (estimated MSE)"
            )
        return Point(value_of(terms.mean), gradient, value_of, tuning)
