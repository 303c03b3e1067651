"""Adaptive IPS (after Kiyohara, Uehara, Narita, Shimizu, Yamamoto and Saito, KDD 2023): each
request's positions weighed by the importance weight of the user behavior assumed for it
(independent, cascade or standard), the behavior given per row or chosen per context part
from the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope.base import EstimatorInput, Point
from bandits.ope.behavior_tree import BehaviorTree, estimated_mse
from bandits.ope.iips import independent_weights
from bandits.ope.positionwise import PositionwiseEstimator
from bandits.ope.rips import check_logging_policy, prefix_weights
from bandits.ope.rowkeys import folds_of, row_keys
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
      ``> split_at``), or the leaves of a tree learned from the data with ``max_depth >= 1``
      (:mod:`bandits.ope.behavior_tree`: greedy splits on any context feature, each kept
      where it lowers the sum over leaves of the leaf's smallest estimated MSE, leaves of at
      least ``min_leaf`` rows; grown per target in a fitting pass over the evaluation rows,
      which keeps each row's context and three terms in memory, 8 (q + 3) bytes a row, and
      its fold when cross-fitted).
      Every batch keeps, per part and behavior, the statistics of the terms; once all rows
      are merged, each part takes the behavior with the smallest estimated MSE
      (:func:`estimated_mse`: squared bias against slate IPS, debiased, plus variance; ties
      to the fewer interactions), reported in the estimate's ``tuning``. The standard error
      and interval are conditional on that choice and partition (as for SLOPE).
    - ``behavior=None, folds=K >= 2``: cross-fitted, as the paper's code does it. The rows
      fall into ``K`` folds by their request id and time; for each fold a tree (one leaf with
      ``max_depth=0``) is grown and each leaf's behavior chosen by estimated MSE on the other
      folds' rows only, and the fold's rows take those behaviors. A row's weights then never
      depend on its own reward, so the estimate is the plain mean of its terms (unbiased
      wherever the chosen behaviors hold), at the price of choosing on fewer rows.

    How this differs from the paper: Kiyohara et al. (2023) allow any interaction set per
    position (not only these three) and optimise the behavior per context with a tree grown
    by the estimated MSE; here the tree chooses among the three behaviors, on the same rows
    it estimates on unless ``folds >= 2``. With a data-driven choice the estimate is
    unbiased only as far as the choice is right; it tends to the least interacting behavior
    whose bias is not detectable at the sample size, which is the paper's bias-variance
    trade-off too.

    What the log must carry: as IIPS (position probabilities), RIPS (prefix probabilities:
    from the log, or ``logging_policy``) and IPS (slate probabilities), for the behaviors in
    use. The diagnostics describe the chosen per-row weights with a given or cross-fitted
    behavior, and the whole-slate weights (the heaviest) with a data-driven choice.

    Parameters
    ----------
    behavior : {"independent", "cascade", "standard"}, callable or None, default None
    split_feature : int >= 0, optional
        Context column that splits the rows into two parts (data-driven choice only).
    split_at : float, default 0.0
    max_depth : int >= 0, default 0
        Depth of the learned tree (data-driven choice only); 0: no tree.
    min_leaf : int >= 1, default 200
        Fewest rows in a leaf of the learned tree.
    folds : int >= 1, default 1
        Cross-fitting folds of the data-driven choice; 1: chosen on the rows it estimates on.
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
        max_depth: int = 0,
        min_leaf: int = 200,
        folds: int = 1,
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
        self.max_depth = check_integer(max_depth, "max_depth", owner, low=0, high=32)
        self.min_leaf = check_integer(min_leaf, "min_leaf", owner, low=1)
        if self.max_depth and (behavior is not None or self.split_feature is not None):
            raise InputValueError(
                f"The 'max_depth' parameter of {owner} learns the partition for a behavior chosen "
                f"from the data; it cannot be combined with 'behavior' or 'split_feature': drop "
                f"one."
            )
        self.folds = check_integer(folds, "folds", owner, low=1, high=1000)
        if self.folds > 1 and (behavior is not None or self.split_feature is not None):
            raise InputValueError(
                f"The 'folds' parameter of {owner} cross-fits the behavior chosen from the data "
                f"(one for all rows, or per leaf of the tree with max_depth >= 1); it cannot be "
                f"combined with 'behavior' or 'split_feature': drop one."
            )
        self.logging_policy = check_logging_policy(logging_policy, owner)
        super().__init__(**options)
        self.fits_target = self.max_depth > 0 or self.folds > 1
        self.trees_: dict[str, BehaviorTree] = {}
        self.fold_choices_: dict[str, list[tuple[BehaviorTree, NDArray[np.int64]]]] = {}
        self._rows: dict[str, tuple[list[NDArray[Any]], ...]] = {}
        """Per target: the kept rows' contexts, per-behavior terms and folds, batch by batch."""

    @property
    def needs_fit(self) -> bool:
        return self.fits_target

    def start_fit(self) -> None:
        self.trees_, self.fold_choices_, self._rows = {}, {}, {}

    def fit_target(self, data: EstimatorInput) -> None:
        """Keep the batch's contexts and per-behavior terms (and, cross-fitted, its rows'
        folds) for growing ``data.key``'s tree (or choosing its behavior)."""
        contexts, terms, folds = self._rows.setdefault(data.key, ([], [], []))
        contexts.append(np.asarray(data.log.observation.context, dtype=np.float64))
        terms.append(self.behavior_terms(data))
        if self.folds > 1:  # one fold: no row keys to hash
            folds.append(self.fold_of(data.log))

    def fit_state(self) -> object:
        return self._rows

    def merge_fit(self, state: object) -> None:
        if not isinstance(state, dict):
            raise InputTypeError(f"{type(self).__name__} merges its own fitting state only.")
        for key, lists in state.items():
            mine = self._rows.setdefault(key, ([], [], []))
            for kept, theirs in zip(mine, lists, strict=True):
                kept.extend(theirs)

    def finish_fit(self) -> None:
        for key, (contexts, terms, folds) in self._rows.items():
            context, term = np.concatenate(contexts), np.concatenate(terms)
            if self.folds == 1:
                self.trees_[key] = self._grow(context, term)
                continue
            fold = np.concatenate(folds)
            self.fold_choices_[key] = [
                self._grow_and_choose(context[fold != f], term[fold != f])
                for f in range(self.folds)
            ]
        self._rows = {}

    def fold_of(self, log: LoggedBandit) -> NDArray[np.int64]:
        """Each row's cross-fitting fold, shape (n_requests,) (from its request id and time,
        so it does not depend on batching; all 0 with ``folds=1``)."""
        return folds_of(row_keys(log, self.salt_), self.folds)

    def _grow(self, context: NDArray[np.float64], terms: NDArray[np.float64]) -> BehaviorTree:
        return BehaviorTree.grow(context, terms, max_depth=self.max_depth, min_leaf=self.min_leaf)

    def _grow_and_choose(
        self, context: NDArray[np.float64], terms: NDArray[np.float64]
    ) -> tuple[BehaviorTree, NDArray[np.int64]]:
        """A tree grown on these rows (one leaf with ``max_depth=0``) and each leaf's
        behavior with the smallest estimated MSE on them, shape (n_leaves,)."""
        tree = self._grow(context, terms)
        leaf = tree.leaf_of(context)
        columns = [
            np.where(leaf == part, terms[:, behavior], 0.0)
            for part in range(tree.n_leaves)
            for behavior in range(len(BEHAVIORS))
        ]
        moments = Moments.of(np.stack(columns).T)
        return tree, np.asarray(choose_behaviors(moments, tree.n_leaves), dtype=np.int64)

    def behavior_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        """Each row's term under each behavior, ``sum_k w_k^(b) r_k``, shape (n_requests, 3)."""
        rewards = data.log.rewards
        return np.column_stack(
            [
                (self.behavior_weights(data, behavior) * rewards).sum(axis=1)
                for behavior in range(len(BEHAVIORS))
            ]
        )

    @property
    def parts(self) -> int:
        """How many context parts choose their behavior (data-driven choice, no tree)."""
        return 1 if self.split_feature is None else 2

    def tree(self, key: str) -> BehaviorTree:
        """The tree learned for the target ``key`` (``max_depth >= 1``)."""
        if key not in self.trees_:
            raise InputValueError(
                f"{type(self).__name__} has no tree learned for the target {key!r}: call "
                f"estimate(), or fit with this target first."
            )
        return self.trees_[key]

    def part_of(self, obs: SlateObservation, key: str = "target") -> NDArray[np.int64]:
        """Each row's part, shape (n_requests,): 0, or 1 where ``context[:, j] > split_at``,
        or its leaf of the target ``key``'s tree."""
        if self.max_depth:
            return self.tree(key).leaf_of(obs.context)
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
        is given (``behavior`` a name or a function) or cross-fitted (``folds > 1``)."""
        n, owner = len(data.log), type(self).__name__
        if self.folds > 1:
            return self.crossfit_behaviors(data)
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

    @property
    def per_row(self) -> bool:
        """Whether each row's behavior is fixed before its terms are averaged (given, or
        cross-fitted), rather than chosen per part from the merged terms."""
        return self.behavior is not None or self.folds > 1

    def crossfit_behaviors(self, data: EstimatorInput) -> NDArray[np.int64]:
        """Each row's behavior from its fold's choice (made on the other folds' rows), shape
        (n_requests,)."""
        choices = self.fold_choices_.get(data.key)
        if choices is None:
            raise InputValueError(
                f"{type(self).__name__} has no cross-fitted behaviors for the target "
                f"{data.key!r}: call estimate(), or fit with this target first."
            )
        fold, context = self.fold_of(data.log), data.log.observation.context
        behaviors = np.zeros(len(data.log), dtype=np.int64)
        for f, (tree, chosen) in enumerate(choices):
            rows = np.flatnonzero(fold == f)
            behaviors[rows] = chosen[tree.leaf_of(context[rows])]
        return behaviors

    def position_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        if not self.per_row:
            return self.behavior_weights(data, len(BEHAVIORS) - 1)
        rows = self.row_behaviors(data)
        weights = np.zeros((len(data.log), data.log.slate_size))
        for behavior in np.unique(rows):
            chosen = rows == behavior
            weights[chosen] = self.behavior_weights(data, int(behavior))[chosen]
        return weights

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        if self.per_row:
            return super().row_terms(data)
        part = self.part_of(data.log.observation, data.key)
        parts = self.tree(data.key).n_leaves if self.max_depth else self.parts
        terms = self.behavior_terms(data)
        columns = []
        for p in range(parts):
            inside = part == p
            for behavior in range(len(BEHAVIORS)):
                columns.append(np.where(inside, terms[:, behavior], 0.0))
        return np.column_stack(columns)

    def point(self, terms: Moments) -> Point:
        if self.folds > 1:
            tuning = f"behavior cross-fitted over {self.folds} folds (estimated MSE)"
            return super().point(terms)._replace(tuning=tuning)
        if self.behavior is not None:
            return super().point(terms)
        chosen = choose_behaviors(terms, terms.mean.size // len(BEHAVIORS))
        columns = [p * len(BEHAVIORS) + b for p, b in enumerate(chosen)]
        gradient = np.zeros(terms.mean.size)
        gradient[columns] = 1.0

        def value_of(means: NDArray[np.float64]) -> float:
            return float(means[columns].sum())

        if self.max_depth:
            names = [BEHAVIORS[b] for b in chosen]
            trees = [t for t in self.trees_.values() if t.n_leaves == len(chosen)]
            if len(trees) == 1:
                tuning = f"tree {trees[0].root.describe(names)} (estimated MSE)"
            else:
                tuning = f"behavior by leaf {', '.join(names)} (estimated MSE)"
        elif self.split_feature is None:
            tuning = f"behavior={BEHAVIORS[chosen[0]]} (estimated MSE)"
        else:
            j, at = self.split_feature, self.split_at
            tuning = (
                f"behavior={BEHAVIORS[chosen[0]]} where x{j} <= {at:g}, "
                f"{BEHAVIORS[chosen[1]]} where x{j} > {at:g} (estimated MSE)"
            )
        return Point(value_of(terms.mean), gradient, value_of, tuning)
