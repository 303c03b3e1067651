"""The shared part of every off-policy estimator: weights, statistics, errors, intervals."""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.logged import LoggedBandit
from bandits.ope.estimate import Estimate
from bandits.ope.intervals import (
    INTERVALS,
    bca_acceleration,
    bernstein_interval,
    bootstrap_interval,
    normal_interval,
    replicate_values,
)
from bandits.ope.rowkeys import poisson_weights, row_keys
from bandits.ope.statistics import BootstrapSums, EstimatorStatistics, Moments, third_comoment
from bandits.ope.targets import USES, ProbabilityTarget, TargetRows
from bandits.ope.weighted import weighted_reward_statistics
from bandits.policy import Policy
from bandits.validation import (
    ONE_BITS,
    InputTypeError,
    InputValueError,
    as_array,
    check_choice,
    check_generator,
    check_integer,
    check_real,
    check_shape,
    check_unit_interval,
    shown,
)

LOW_ESS_FRACTION = 0.01
"""Warn when the effective sample size falls below this fraction of the rows."""

MAX_WEIGHT = 1e100
"""Largest importance weight an estimate accepts (its square must stay far inside float64)."""

UNSUPPORTED_WARNING = 0.01
"""Warn when more than this share of the target's position mass has no logging support."""

BOOTSTRAP_CHUNK = 2**22
"""Poisson weights drawn at once (replicates x rows) while summing a batch's replicates."""

CHUNK_BYTES = 64 * 2**20
"""A policy target is asked for its probabilities on chunks of rows whose looked-up candidate
features take about this much memory."""

SUPPORT_TOLERANCE = 4.0
"""Warn when the mean weight is more than this many standard errors away from 1."""

TARGET_KEY = "target"
"""The key of the one target of :meth:`Estimator.estimate` (see :attr:`EstimatorInput.key`)."""


@dataclass(frozen=True, eq=False)
class EstimatorInput:
    """What an estimator sees of one batch: the log and the target's probability of each
    logged slate.

    Estimators that need more of the target (its position probabilities or candidate-position
    marginals, its whole slate distribution for a reward model) ask ``target`` for it: a
    policy, the batch's rows of a :class:`~bandits.ope.targets.ProbabilityTarget`, or None
    when the target was given only as the probability of each logged slate.

    Attributes
    ----------
    log : LoggedBandit
    target_probability : ndarray of float64, shape (n_requests,), or None
        None when the target's probabilities cannot give it (marginals of slates of more
        than one item); estimators that weigh by it are refused before they get here.
    target : Policy, TargetRows or None
    key : str
        The target's name (:func:`bandits.ope.evaluate_log`'s key, else :data:`TARGET_KEY`):
        what an estimator whose fitted model depends on the target (cascade DR's ``Q``)
        files that model under.
    """

    log: LoggedBandit
    target_probability: NDArray[np.float64] | None
    target: Policy | TargetRows | None = None
    key: str = "target"

    @cached_property
    def weights(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): pi(slate | x) / mu(slate | x).

        Raises when a weight is too large for float64 (a logged probability so small, e.g.
        1e-320, that dividing by it overflows), naming the row.
        """
        logged = self.log.decision.slate_probability
        if self.target_probability is None:
            label = self.target.label if isinstance(self.target, TargetRows) else "the target"
            raise InputValueError(f"{label} does not give {USES['slate']}.")
        with np.errstate(over="ignore", divide="ignore"):
            weights = self.target_probability / logged
        # one pass when all is well (the weights are >= 0: the target's probabilities are
        # checked in [0, 1] and the logged ones in (0, 1]; NaN fails the comparison too)
        top = weights.max(initial=0.0)
        if not top <= MAX_WEIGHT:
            row = int(np.flatnonzero(~(np.abs(weights) <= MAX_WEIGHT))[0])
            raise weight_error(row, self.target_probability, logged)
        self.__dict__["max_weight"] = float(top)  # the diagnostics' largest weight
        return weights

    @cached_property
    def max_weight(self) -> float:
        """The largest of :attr:`weights` (0 without rows); kept when they are checked."""
        return float(self.weights.max(initial=0.0))

    @property
    def rewards(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): the logged slate rewards."""
        return self.log.slate_rewards

    def memo(self, key: object, compute: Callable[[], NDArray[np.float64]]) -> NDArray[np.float64]:
        """``compute()``, once per batch and ``key`` (quantities several methods of an
        estimator ask for, e.g. its per-position weights). A key that names an estimator
        holds the estimator itself, not its ``id``: a freed estimator's id can be reused by
        the next one, which would then read the first one's quantities."""
        cache: dict[object, NDArray[np.float64]] = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @cached_property
    def target_marginals(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests, max_candidates, slate_size): the target's
        probability of each candidate at each position (asked once per batch)."""
        target = self._target("candidate-position probabilities")
        if isinstance(target, TargetRows):
            return target.marginals
        return np.asarray(
            target.candidate_position_probability(self.log.observation), dtype=np.float64
        )

    @cached_property
    def target_positions(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests, slate_size): the target's probability of
        each logged item at its position."""
        target = self._target("position probabilities")
        if isinstance(target, TargetRows):
            return target.positions(self.log.slates)
        return np.asarray(
            target.position_probability(self.log.observation, self.log.slates), dtype=np.float64
        )

    def _target(self, what: str) -> Policy | TargetRows:
        if self.target is None:
            raise InputTypeError(
                f"This estimator needs the target policy itself (its {what}), not only the "
                f"probability of each logged slate."
            )
        return self.target


class Point(NamedTuple):
    """An estimate read off the terms' statistics.

    Attributes
    ----------
    value : float
    gradient : ndarray of float64, shape (n_terms,)
        d value / d means (delta-method standard error, BCa acceleration).
    value_of : callable
        The same estimate as a function of the terms' means, for bootstrap replicates.
    tuning : str
        What a data-driven choice chose (e.g. ``"threshold=16 (SLOPE)"``), else ``""``.
    """

    value: float
    gradient: NDArray[np.float64]
    value_of: Callable[[NDArray[np.float64]], float]
    tuning: str = ""


class Estimator(ABC):
    """Estimate a target policy's value on a logged table, in memory or batch by batch.

    An estimate is a smooth function ``value(means)`` of the means of a few per-row terms.
    Subclasses write only :meth:`row_terms` (and, for a ratio or another function of several
    means, :meth:`value` and :meth:`gradient`). The base keeps the terms' sufficient statistics
    per batch (:meth:`statistics`), merges batches exactly, and turns them into the value, the
    delta-method standard error ``sqrt(g' S g / n)`` (``S`` the terms' sample covariance, ``g``
    the gradient), an interval (``interval``: see :mod:`bandits.ope.intervals`) and the weight
    diagnostics (:meth:`finalize`).

    Estimators with a reward model fit it in a first pass over the rows (:meth:`start_fit`,
    :meth:`fit_batch`, :meth:`finish_fit`), then estimate in a second.

    Parameters
    ----------
    confidence : float in (0, 1), default 0.95
    interval : {"normal", "bootstrap", "bootstrap-percentile", "bernstein"}, default "normal"
    bootstrap_samples : int, default 1000
        Poisson bootstrap replicates (``bootstrap`` intervals).
    reward_range : pair of float, optional
        Bounds of a logged slate reward (the sum over positions), required by ``bernstein``.
    rng : numpy.random.Generator, optional
        Salts the per-row streams of cross-fitting folds and bootstrap weights (a 64-bit salt is
        drawn once); default ``numpy.random.default_rng(0)``, so results repeat.
    """

    name: ClassVar[str] = "estimator"
    needs_policy: ClassVar[bool] = False
    """True when the target must be a policy (its candidate-position probabilities), not only
    the probability of each logged slate."""
    target_needs: ClassVar[str] = "its candidate-position marginals for the reward model's term"
    """What the estimator asks of a target policy (for the error when given probabilities)."""
    target_uses: ClassVar[frozenset[str]] = frozenset({"slate"})
    """What the estimator asks of a target, among :data:`bandits.ope.targets.USES`: a target
    given as probabilities (:class:`~bandits.ope.targets.ProbabilityTarget`) is checked
    against it before any work."""
    fits_target: bool = False
    """True when what :meth:`fit_batch` learns depends on the target (cascade DR's backward
    ``Q``): the fitting pass then also gives it each target's rows (:meth:`fit_target`)."""
    weights_term: ClassVar[int | None] = None
    """The index of the term that is :meth:`importance_weights` itself (a self-normalised
    estimator's denominator), whose moments the diagnostics then reuse; None otherwise."""

    def __init__(
        self,
        *,
        confidence: float = 0.95,
        interval: str = "normal",
        bootstrap_samples: int = 1000,
        reward_range: Sequence[float] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        owner = type(self).__name__
        self.confidence = check_real(
            confidence, "confidence", owner, low=0, high=1, low_open=True, high_open=True
        )
        self.interval = check_choice(interval, INTERVALS, f"'interval' of {owner}")
        self.bootstrap_samples = check_integer(
            bootstrap_samples, "bootstrap_samples", owner, low=2, high=100_000
        )
        self.reward_range = _check_range(reward_range, owner)
        if self.interval == "bernstein":
            if not self.bounded_terms:
                raise InputValueError(
                    f"The 'interval' parameter of {owner} cannot be 'bernstein': the empirical "
                    f"Bernstein bound needs an estimate that is the mean of one per-row term "
                    f"with a fixed hyperparameter (ips, dm, dr, switch-dr or dros with a "
                    f"number); use 'normal' or 'bootstrap'."
                )
            if self.reward_range is None:
                raise InputValueError(
                    f"The 'bernstein' interval of {owner} needs 'reward_range' (the bounds of "
                    f"a slate reward, e.g. [0, slate_size] for clicks); got none."
                )
        generator = np.random.default_rng(0) if rng is None else check_generator(rng, owner)
        self.rng = generator
        self.salt_ = int(generator.integers(0, 2**63))
        self.label = self.name

    @property
    def bounded_terms(self) -> bool:
        """Whether the estimate is the mean of one term whose range :meth:`row_range` gives."""
        return False

    @abstractmethod
    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        """Per-row terms, shape (n_requests, n_terms), whose means the value is a function of."""

    def value(self, means: NDArray[np.float64]) -> float:
        """The estimate from the terms' means, shape (n_terms,) (default: the first mean)."""
        return float(means[0])

    def gradient(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """d value / d means, shape (n_terms,) (default: the first unit vector)."""
        unit = np.zeros(means.shape[0])
        unit[0] = 1.0
        return unit

    def point(self, terms: Moments) -> Point:
        """The estimate from the merged terms (a data-driven choice overrides this)."""
        return Point(self.value(terms.mean), self.gradient(terms.mean), self.value)

    def row_range(self, data: EstimatorInput) -> tuple[float, float] | None:
        """Smallest and largest term any row of the batch could take with a reward in
        ``reward_range`` (None where the estimator cannot say)."""
        return None

    def unsupported_mass(self, data: EstimatorInput) -> NDArray[np.float64] | None:
        """Per row, the target's mass on (candidate, position) pairs the logger never shows,
        shape (n_requests,), where computable (None otherwise)."""
        return None

    def importance_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        """The per-row importance weights, shape (n_requests,), that a one-weight estimator
        weighs by and the diagnostics (effective sample size, max and mean weight) describe:
        the whole-slate ``w`` unless the estimator weighs otherwise (their expectation under
        the logger is 1 when it supports the target)."""
        return data.weights

    # -- fitting (estimators with a reward model) -------------------------------------------

    @property
    def needs_fit(self) -> bool:
        """Whether :meth:`fit_batch` must see the rows before they are estimated on."""
        return False

    def start_fit(self) -> None:  # noqa: B027
        """Forget any earlier fit."""

    def fit_batch(self, log: LoggedBandit) -> None:  # noqa: B027
        """Learn from one batch of the rows to be estimated on."""

    def fit_target(self, data: EstimatorInput) -> None:  # noqa: B027
        """Learn from one batch of the rows to be estimated on, for the target ``data.key``
        (estimators with :attr:`fits_target`)."""

    def learn_batch(
        self,
        log: LoggedBandit,
        targets: Mapping[str, Policy | ProbabilityTarget | ArrayLike],
        rows: NDArray[np.int64] | None = None,
    ) -> None:
        """One batch of the fitting pass: :meth:`fit_batch`, then, with :attr:`fits_target`,
        :meth:`fit_target` of each target (``rows`` as :meth:`statistics` takes them)."""
        self.fit_batch(log)
        if self.fits_target:
            for key, target in targets.items():
                self.fit_target(estimator_input(log, target, rows, key=key))

    def finish_fit(self) -> None:  # noqa: B027
        """End the fitting pass."""

    def fit_state(self) -> object:
        """What :meth:`fit_batch` has learned since :meth:`start_fit` (before
        :meth:`finish_fit`), to be merged into another copy with :meth:`merge_fit`."""
        return None

    def merge_fit(self, state: object) -> None:  # noqa: B027
        """Learn what another copy of this estimator learned (its :meth:`fit_state`) on other
        rows, as if they had come after this one's; between :meth:`start_fit` and
        :meth:`finish_fit`."""

    # -- statistics -------------------------------------------------------------------------

    def statistics(
        self,
        log: LoggedBandit,
        target: Policy | ProbabilityTarget | ArrayLike,
        *,
        rows: NDArray[np.int64] | None = None,
    ) -> EstimatorStatistics:
        """The sufficient statistics of one batch (merge batches with ``merge``).

        A :class:`~bandits.ope.targets.ProbabilityTarget` is aligned with a whole log:
        ``rows`` are the batch's row numbers in it (default: the batch is the whole log).
        """
        self.check_target(target)
        form = self.weighted_reward_form()
        if form is not None and isinstance(target, Policy) and self._whole_slate_weights():
            # the target asked chunk by chunk, each used as it comes: no row-sized array
            statistics, row = weighted_reward_statistics(
                log,
                policy_probability_chunks(target, log, check=False),
                clip=form[0],
                self_normalised=form[1],
                weights=None,
                max_weight=MAX_WEIGHT,
                check=True,  # each block while in cache
            )
            if statistics is not None:
                return statistics
            probabilities = target_probabilities(target, log)
            raise weight_error(row, probabilities, log.decision.slate_probability)
        return self.statistics_of(estimator_input(log, target, rows))

    def weighted_reward_form(self) -> tuple[float, bool] | None:
        """``(clip, self_normalised)`` when this estimator's terms are ``min(w, clip) r``
        (or ``(w r, w)``) of its :meth:`importance_weights` ``w`` and its interval is the
        normal one: then :func:`bandits.ope.weighted.weighted_reward_statistics` computes its
        statistics in one pass. None otherwise (the default)."""
        return None

    def _whole_slate_weights(self) -> bool:
        """Whether the estimator weighs by the whole-slate weights ``pi / mu`` and reports no
        unsupported mass (then its statistics need only the target's slate probabilities)."""
        own = type(self)
        return (
            own.importance_weights is Estimator.importance_weights
            and own.unsupported_mass is Estimator.unsupported_mass
        )

    def check_target(self, target: object) -> None:
        """Raise, naming this estimator, unless ``target`` gives what it needs: a policy
        always does; probabilities of each candidate at each position do per
        :attr:`target_uses`; the probability of each logged slate only for estimators that
        do not need the policy."""
        if isinstance(target, ProbabilityTarget):
            target.check_uses(self.target_uses, self.label)
            return
        if self.needs_policy and not isinstance(target, Policy):
            raise InputTypeError(
                f"{type(self).__name__} needs the target policy itself ({self.target_needs}), "
                f"not only the probability of each logged slate."
            )

    def statistics_of(self, data: EstimatorInput) -> EstimatorStatistics:
        """The sufficient statistics of one batch whose target probabilities are known."""
        form = self.weighted_reward_form()
        if form is None:
            return self.row_statistics(data)
        probabilities = data.target_probability
        chunks: list[tuple[int, NDArray[np.float64]]] = []
        weights: NDArray[np.float64] | None
        if not self._whole_slate_weights():  # e.g. pseudo-inverse weights, checked, whole
            weights = self.importance_weights(data)
        elif probabilities is None:  # refused by the general path, naming what is missing
            return self.row_statistics(data)
        else:
            weights = data.__dict__.get("weights")
            chunks = [(0, probabilities)]
        statistics, row = weighted_reward_statistics(
            data.log,
            chunks,
            clip=form[0],
            self_normalised=form[1],
            weights=weights,  # another estimator's when cached, already checked
            max_weight=MAX_WEIGHT,
        )
        if statistics is None:  # only whole-slate weights are checked there
            assert probabilities is not None
            raise weight_error(row, probabilities, data.log.decision.slate_probability)
        unsupported = self.unsupported_mass(data)
        if unsupported is None:
            return statistics
        return replace(statistics, unsupported=Moments.of(unsupported[:, None]))

    def row_statistics(self, data: EstimatorInput) -> EstimatorStatistics:
        """:meth:`statistics_of` from the per-row terms (:meth:`row_terms`), for every
        estimator and interval."""
        terms = np.asarray(self.row_terms(data), dtype=np.float64)
        if terms.ndim == 1:
            terms = terms[:, None]
        moments = Moments.of(terms)
        column = self.weights_term
        top = None
        if column is None:
            weights = self.importance_weights(data)
            weight_moments = Moments.of(weights[:, None])
            if weights is data.__dict__.get("weights"):
                top = data.max_weight  # found when they were checked
        else:  # the same numbers as Moments.of(weights[:, None]), without the passes
            weights = terms[:, column]
            weight_moments = Moments(
                moments.n,
                moments.mean[column : column + 1].copy(),
                moments.comoment[column : column + 1, column : column + 1].copy(),
            )
        third = bootstrap = term_range = None
        if self.interval == "bootstrap":
            third = third_comoment(terms)
        if self.interval.startswith("bootstrap"):
            bootstrap = self._bootstrap_sums(data.log, terms)
        if self.interval == "bernstein":
            term_range = self.row_range(data)
        unsupported = self.unsupported_mass(data)
        return EstimatorStatistics(
            terms=moments,
            weights=weight_moments,
            max_weight=float(weights.max(initial=0.0)) if top is None else top,
            n_deterministic=data.log.decision.n_deterministic,
            third=third,
            bootstrap=bootstrap,
            term_range=term_range,
            unsupported=None if unsupported is None else Moments.of(unsupported[:, None]),
        )

    def _bootstrap_sums(self, log: LoggedBandit, terms: NDArray[np.float64]) -> BootstrapSums:
        """Each replicate's Poisson-weighted count and sums of the terms, in row chunks."""
        keys = row_keys(log, self.salt_)
        b = self.bootstrap_samples
        counts, sums = np.zeros(b), np.zeros((b, terms.shape[1]))
        chunk = max(1, BOOTSTRAP_CHUNK // b)
        for start in range(0, keys.shape[0], chunk):
            rows = slice(start, start + chunk)
            draws = poisson_weights(keys[rows], b)
            counts += draws.sum(axis=1)
            sums += draws @ terms[rows]
        return BootstrapSums(counts, sums)

    def finalize(self, statistics: EstimatorStatistics) -> Estimate:
        """The estimate, standard error, interval and diagnostics from merged statistics."""
        n = statistics.terms.n
        if n == 0:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        point = self.point(statistics.terms)
        value = point.value
        if n > 1 and np.isfinite(value):
            variance = float(point.gradient @ statistics.terms.covariance @ point.gradient) / n
            stderr = float(np.sqrt(max(variance, 0.0)))
        else:
            stderr = float("nan")
        low, high = self._interval(statistics, point, stderr)
        diagnostics = weight_diagnostics(statistics)
        unsupported = float("nan")
        warnings = diagnostics.warnings
        if statistics.unsupported is not None and statistics.unsupported.n:
            unsupported = float(statistics.unsupported.mean[0])
            if unsupported > UNSUPPORTED_WARNING:
                warnings += (
                    f"{unsupported:.1%} of the target's position mass falls on candidates the "
                    f"logger never shows at that position: only the reward model speaks for "
                    f"it, so the estimate is as biased as the model there",
                )
        overflowed = _overflowed(value, stderr, statistics.terms)
        if overflowed is not None:
            warnings += (
                f"the {overflowed} (rewards or importance weights too large; largest weight "
                f"{diagnostics.max_weight:.3g}): rescale the rewards, e.g. to [0, 1], and "
                f"evaluate again",
            )
        return Estimate(
            estimator=self.label,
            value=value,
            stderr=stderr,
            ci_low=low,
            ci_high=high,
            confidence=self.confidence,
            n=n,
            effective_sample_size=diagnostics.effective_sample_size,
            max_weight=diagnostics.max_weight,
            mean_weight=diagnostics.mean_weight,
            warnings=warnings,
            interval=self.interval,
            unsupported_mass=unsupported,
            tuning=point.tuning,
        )

    def _interval(
        self, statistics: EstimatorStatistics, point: Point, stderr: float
    ) -> tuple[float, float]:
        if self.interval == "normal":
            return normal_interval(point.value, stderr, self.confidence)
        if self.interval == "bernstein":
            if statistics.term_range is None:
                raise RuntimeError("bernstein statistics were kept without a term range")
            terms = statistics.terms
            variance = float(terms.covariance[0, 0]) if terms.n > 1 else 0.0
            return bernstein_interval(
                point.value, variance, terms.n, statistics.term_range, self.confidence
            )
        if statistics.bootstrap is None:
            raise RuntimeError("bootstrap statistics were not kept")
        replicates = replicate_values(statistics.bootstrap, point.value_of)
        acceleration = None
        if self.interval == "bootstrap" and statistics.third is not None:
            acceleration = bca_acceleration(statistics.terms, statistics.third, point.gradient)
        return bootstrap_interval(point.value, replicates, self.confidence, acceleration)

    # -- the user's calls -------------------------------------------------------------------

    def estimate(
        self, log: LoggedBandit, target: Policy | ProbabilityTarget | ArrayLike
    ) -> Estimate:
        """Estimate the value of ``target`` on ``log`` (fitting a reward model on ``log``
        first, cross-fitted, when the estimator has one).

        Parameters
        ----------
        log : LoggedBandit
            Logged slates with the logging policy's slate probabilities.
        target : Policy, ProbabilityTarget or array-like of float64, shape (n_requests,)
            A policy (asked for the probability of each logged slate), the target's
            probabilities of every candidate at every position on the log's rows
            (:func:`bandits.ope.probability_target`, :func:`bandits.ope.read_probability_target`),
            or the probability of each logged slate directly.
        """
        if len(log) == 0:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        self.check_target(target)
        if isinstance(target, ProbabilityTarget):
            target.check_log(len(log), log.slate_size, "the log")
        if self.needs_fit:
            self.start_fit()
            self.learn_batch(log, {TARGET_KEY: target})
            self.finish_fit()
        return self.finalize(self.statistics(log, target))

    def estimate_batches(
        self, batches: Iterable[LoggedBandit], target: Policy | ProbabilityTarget
    ) -> Estimate:
        """Estimate over a stream of tables (e.g. ``bandits.logs.iter_log_batches``) with
        memory flat in the number of rows; equal to :meth:`estimate` on their concatenation.

        An estimator with a reward model reads the batches twice (fit, then estimate), so
        ``batches`` must then be a collection, not a one-shot iterator. A
        :class:`~bandits.ope.targets.ProbabilityTarget` is aligned with the concatenation.
        """
        self.check_target(target)
        if self.needs_fit:
            if iter(batches) is batches:
                raise InputTypeError(
                    f"{type(self).__name__} reads the batches twice (its reward model is fitted "
                    f"on a first pass); pass a list or another re-iterable collection, not a "
                    f"one-shot iterator."
                )
            self.start_fit()
            start = 0
            for batch in batches:
                if len(batch):
                    numbers = np.arange(start, start + len(batch))
                    self.learn_batch(batch, {TARGET_KEY: target}, numbers)
                start += len(batch)
            self.finish_fit()
        merged: EstimatorStatistics | None = None
        start = 0
        for batch in batches:
            if len(batch):
                rows = np.arange(start, start + len(batch))
                part = self.statistics(batch, target, rows=rows)
                merged = part if merged is None else merged.merge(part)
            start += len(batch)
        if merged is None:
            raise InputValueError(f"{type(self).__name__} needs at least one logged row; got 0.")
        return self.finalize(merged)


class LinearEstimator(Estimator):
    """An estimator whose per-row term is affine in the row's slate reward:
    ``term_i = intercept_i + slope_i * r_i`` (IPS: ``0 + w r``; DR: ``DM_i + w (r - q_i)``).

    Subclasses write :meth:`affine_terms`; the base forms the terms and, for the ``bernstein``
    interval, the range of a row's term over rewards in ``reward_range``.
    """

    @abstractmethod
    def affine_terms(
        self, data: EstimatorInput
    ) -> tuple[NDArray[np.float64] | float, NDArray[np.float64]]:
        """``(intercept, slope)``, each shape (n_requests,) or (n_requests, n_terms); the
        intercept may be the number 0.0 (no intercept: one pass fewer)."""

    @property
    def bounded_terms(self) -> bool:
        return True

    def row_terms(self, data: EstimatorInput) -> NDArray[np.float64]:
        intercept, slope = self.affine_terms(data)
        rewards = data.rewards if np.ndim(slope) == 1 else data.rewards[:, None]
        terms = slope * rewards
        if not (np.isscalar(intercept) and intercept == 0.0):
            terms += intercept
        return terms

    def row_range(self, data: EstimatorInput) -> tuple[float, float] | None:
        if self.reward_range is None:
            return None
        intercept, slope = self.affine_terms(data)
        low, high = (intercept + slope * bound for bound in self.reward_range)
        return float(np.minimum(low, high).min()), float(np.maximum(low, high).max())


def unsupported_position_mass(data: EstimatorInput) -> NDArray[np.float64] | None:
    """Per row, the target's share of (candidate, position) mass where the logged marginals
    are 0, shape (n_requests,); None when the log carries no marginals."""
    logger = data.log.decision.candidate_position_probability
    if logger is None:
        return None
    unseen = (data.target_marginals * (logger == 0)).sum(axis=(1, 2))
    return unseen / data.log.slate_size


def check_clip(clip: float, owner: str) -> float:
    """A weight clip: a real > 0 (inf for none)."""
    return check_extended(clip, "clip", owner, low_open=True)


def check_extended(value: object, name: str, owner: str, *, low_open: bool = False) -> float:
    """A real >= 0 (> 0 with ``low_open``) or inf (a hyperparameter that may be switched off)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value == np.inf:
        return float("inf")
    return check_real(value, name, owner, low=0.0, low_open=low_open)


def clipped(weights: NDArray[np.float64], clip: float) -> NDArray[np.float64]:
    """``min(w, clip)``; the weights themselves when ``clip`` is inf."""
    return weights if clip == np.inf else np.minimum(weights, clip)


def _check_range(reward_range: Sequence[float] | None, owner: str) -> tuple[float, float] | None:
    """A (low, high) pair of finite reals with low < high, or None."""
    if reward_range is None:
        return None
    values = list(reward_range) if isinstance(reward_range, Sequence | np.ndarray) else None
    if values is None or len(values) != 2:
        raise InputValueError(
            f"The 'reward_range' parameter of {owner} must be a pair [low, high]; got "
            f"{shown(reward_range)}."
        )
    low = check_real(values[0], "reward_range[0]", owner)
    high = check_real(values[1], "reward_range[1]", owner)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InputValueError(
            f"The 'reward_range' parameter of {owner} must be finite with low < high; got "
            f"[{low}, {high}]."
        )
    return low, high


def estimator_input(
    log: LoggedBandit,
    target: Policy | ProbabilityTarget | ArrayLike,
    rows: NDArray[np.int64] | None = None,
    *,
    key: str = TARGET_KEY,
) -> EstimatorInput:
    """What estimators see of ``target`` (named ``key``) on the batch ``log``; ``rows`` are
    the batch's row numbers in the log a :class:`~bandits.ope.targets.ProbabilityTarget` is
    aligned with (default ``0..len(log)-1``)."""
    if isinstance(target, ProbabilityTarget):
        numbers = np.arange(len(log)) if rows is None else np.asarray(rows, dtype=np.int64)
        given = target.rows(numbers, log)
        return EstimatorInput(log, given.slate_probability, given, key)
    policy = target if isinstance(target, Policy) else None
    return EstimatorInput(log, target_probabilities(target, log), policy, key)


def target_probabilities(
    target: Policy | ArrayLike, log: LoggedBandit, *, chunk_bytes: int = CHUNK_BYTES
) -> NDArray[np.float64]:
    """The target's probability of each logged slate, shape (n_requests,), checked in [0, 1].

    A policy is asked in chunks of rows whose looked-up candidate features take about
    ``chunk_bytes``, so a large in-memory log is not expanded whole.
    """
    parts = [part for _, part in target_probability_chunks(target, log, chunk_bytes=chunk_bytes)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def target_probability_chunks(
    target: Policy | ArrayLike, log: LoggedBandit, *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """:func:`target_probabilities` chunk by chunk: (first row, the chunk's probabilities),
    each checked in [0, 1] when it is yielded (errors name the row in ``log``); one chunk
    unless ``target`` is a policy asked on a log larger than ``chunk_bytes``."""
    if isinstance(target, Policy):
        yield from policy_probability_chunks(target, log, chunk_bytes=chunk_bytes)
        return
    probabilities = as_array(target, "target probabilities", np.float64, 1)
    check_shape(probabilities, (len(log),), "target probabilities")
    yield 0, _checked_probabilities(probabilities, 0)


def policy_probability_chunks(
    policy: Policy, log: LoggedBandit, *, chunk_bytes: int = CHUNK_BYTES, check: bool = True
) -> Iterator[tuple[int, NDArray[np.float64]]]:
    """:func:`target_probability_chunks` of a policy; ``check`` False leaves the check of
    each chunk to the caller."""
    obs, slates = log.observation, log.decision.slates
    chunk = max(1, chunk_bytes // obs.bytes_per_row)
    whole = len(log) <= chunk  # then the policy is asked on the log itself
    for start in range(0, len(log), chunk) if not whole else [0]:
        rows = slice(start, start + chunk)  # slices: views of the log, not copies
        given = policy.slate_probability(
            obs if whole else obs.take(rows), slates if whole else slates[rows]
        )
        probabilities = as_array(given, "target probabilities", np.float64, 1)
        check_shape(probabilities, (min(chunk, len(log) - start),), "target probabilities")
        yield start, _checked_probabilities(probabilities, start) if check else probabilities


def _checked_probabilities(probabilities: NDArray[np.float64], first: int) -> NDArray[np.float64]:
    """``probabilities`` (rows ``first`` on of a log) if all lie in [0, 1]; else raise naming
    the row. One pass when all is well: the bits of a float64 in [+0, 1], read as an unsigned
    integer, are at most those of 1.0, while a negative number's (sign bit set), NaN's and
    any larger number's are above. Only -0.0, a probability too, takes the two comparisons."""
    if len(probabilities) and probabilities.view(np.uint64).max() > ONE_BITS:
        check_unit_interval(probabilities, "target probabilities", first)
    return probabilities


def weight_error(
    row: int, target: NDArray[np.float64], logged: NDArray[np.float64]
) -> InputValueError:
    """The error for an importance weight ``target[row] / logged[row]`` above
    :data:`MAX_WEIGHT` (or NaN)."""
    return InputValueError(
        f"The importance weight of row {row} is too large to estimate with (target "
        f"probability {float(target[row]):.6g} / logged slate "
        f"probability {float(logged[row]):.6g}, above {MAX_WEIGHT:.0e}); a logged "
        f"probability this small cannot weigh a row: drop such rows."
    )


class WeightDiagnostics(NamedTuple):
    """What the importance weights say about an estimate (see :class:`Estimate`)."""

    effective_sample_size: float
    max_weight: float
    mean_weight: float
    warnings: tuple[str, ...]


def _overflowed(value: float, stderr: float, terms: Moments) -> str | None:
    """What overflowed float64, said as ``"estimate overflowed float64"``, or None. An
    infinity overflowed; so did a NaN where the per-row terms' sums (or co-moments) are not
    finite: the rewards and probabilities were checked finite, so arithmetic made an infinity
    that met another (inf - inf, 0 * inf). A NaN of finite sums is no overflow (0 / 0 of a
    self-normalised estimator whose weights are all 0; the standard error of one row)."""
    to_nan = "overflowed float64 and came out NaN, an inf - inf"
    if np.isinf(value):
        return "estimate overflowed float64"
    if np.isnan(value):
        return None if np.isfinite(terms.mean).all() else f"estimate {to_nan}"
    if np.isinf(stderr):
        return "standard error overflowed float64"
    if np.isnan(stderr) and terms.n > 1 and not np.isfinite(terms.comoment).all():
        return f"standard error {to_nan}"
    return None


def weight_diagnostics(statistics: EstimatorStatistics) -> WeightDiagnostics:
    """Effective sample size, largest and mean weight, and warnings about them.

    The mean weight estimates the share of the target's probability that falls on slates the
    logger could choose; it should be 1, and a mean several standard errors below 1 says the
    target chooses slates the logger (almost) never shows, which IPS cannot see.
    """
    weights = statistics.weights
    n = weights.n
    total = float(weights.mean[0]) * n
    squares = float(weights.sum_of_squares[0, 0])
    ess = total**2 / squares if squares > 0 else 0.0
    mean_weight = float(weights.mean[0]) if n else float("nan")
    max_weight = statistics.max_weight
    warnings = []
    if n and statistics.n_deterministic == n:
        warnings.append(
            "the logging policy was deterministic (every logged probability is 1): only "
            "targets that always agree with it can be evaluated on this log"
        )
    if squares == 0:
        warnings.append(
            "every importance weight is 0: the target never chooses a logged slate "
            "(no support), so the estimate says nothing about it"
        )
    else:
        if ess < LOW_ESS_FRACTION * n:
            warnings.append(
                f"effective sample size {ess:.1f} is below {LOW_ESS_FRACTION:.0%} of the {n} "
                f"rows: the estimate rests on a few heavy weights (max {max_weight:.3g})"
            )
        spread = float(np.sqrt(weights.covariance[0, 0] / n)) if n > 1 else 0.0
        if abs(mean_weight - 1.0) > SUPPORT_TOLERANCE * spread + 1e-12:
            warnings.append(
                f"mean importance weight {mean_weight:.3g} is more than {SUPPORT_TOLERANCE:g} "
                f"standard errors from 1: the target puts probability on slates the logger "
                f"rarely or never chose (missing support), so the estimate is biased"
            )
    return WeightDiagnostics(ess, max_weight, mean_weight, tuple(warnings))
