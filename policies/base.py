"""What every policy shares: input checks, decisions built from probabilities, marginals.

A policy writes only what differs: how it draws slates (``_draw``) and, where a closed form
exists, the probability it gives any slate, any shown item and any candidate at any position
(``_slate_probability``, ``_position_probability``, ``_candidate_position_probability``), all
from the per-request quantities computed once by ``_prepare`` (for a greedy policy, its greedy
slates). ``act`` and the public probability methods call the same functions, so they agree.
A policy without a closed form derives from :class:`MonteCarloPolicy`, which estimates all
three from a stated number of draws.
"""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation
from bandits.slates import (
    RankedScores,
    rank_scores,
    shown_marginals,
    slate_indicator,
    tie_marginals,
    tie_probabilities,
    top_k,
    top_k_with_ties,
)
from bandits.specs import format_spec
from bandits.validation import (
    InputTypeError,
    as_array,
    check_generator,
    check_instance,
    check_integer,
    check_shape,
    check_slates,
)

MAX_PROBABILITY_DRAWS = 1_000_000
"""Most Monte Carlo draws a policy may spend on one request's probabilities."""

EVERY = slice(None)
"""Index of every row (or position) of a batch."""

ExaminedGroup = tuple[SlateObservation, NDArray[np.int64] | slice, NDArray[np.bool_] | slice]
"""Requests with the same examined positions: their observation, rows and positions."""

MAX_EXPLORATION = 1e6
"""Largest exploration scale (LinUCB's alpha, LinTS's v): beyond it scores lose all precision."""


class BasePolicy(ABC):
    """Base of all policies in this package; follows :class:`bandits.policy.Policy`.

    Subclasses take keyword-only constructor arguments stored under their own names;
    stochastic ones keep their ``numpy.random.Generator`` as ``rng``. A registered policy sets
    ``spec_name`` (its registry name), which gives it a ``spec``.

    Attributes
    ----------
    rng : numpy.random.Generator or None
        The acting stream of a stochastic policy (None for a deterministic one).
    """

    spec_name: ClassVar[str | None] = None
    param_choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    """The allowed values of parameters that take a name (shown by ``bandits list``)."""
    rng: np.random.Generator | None = None
    _display_name: str | None = None

    @property
    def spec(self) -> str | None:
        """The string that rebuilds this policy, e.g. ``"linucb:alpha=1.0,ridge=1.0"`` (see
        ``policies.make_policy``), or None for a policy that is not registered."""
        if self.spec_name is None:
            return None
        params: dict[str, Any] = {}
        for key, value in self.get_params().items():
            if isinstance(value, BasePolicy):
                if value.spec is None:
                    return None
                value = value.spec
            params[key] = value
        return format_spec(self.spec_name, params)

    @property
    def name(self) -> str:
        """The display name: set by the user or the command line; by default the spec (or the
        class name for an unregistered policy)."""
        return self._display_name or self.spec or type(self).__name__

    @name.setter
    def name(self, value: str) -> None:
        check_instance(value, str, f"name of {type(self).__name__}")
        self._display_name = value

    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameters except ``rng``."""
        return [name for name in inspect.signature(cls).parameters if name != "rng"]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (except ``rng``) by name."""
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        """Choose one slate per request.

        Parameters
        ----------
        obs : SlateObservation
        with_marginals : bool, default False
            Also return the policy's probability of every candidate at every position (for a
            log that the pseudo-inverse estimator can use).

        Returns
        -------
        SlateDecision
            Slates (n_requests, slate_size) with their probabilities.
        """
        obs = _observation(obs, self, "act")
        prepared = self._prepare(obs)
        slates = self._draw(obs, prepared, self.rng)
        return self._decide(obs, prepared, slates, with_marginals)

    def slate_probability(self, obs: SlateObservation, slates: ArrayLike) -> NDArray[np.float64]:
        """Probability that ``act`` would choose each given slate (the state is unchanged).

        Parameters
        ----------
        obs : SlateObservation
        slates : array-like of int, shape (n_requests, slate_size)
            Distinct indices into each row's candidates.

        Returns
        -------
        ndarray of float64, shape (n_requests,)
        """
        obs, checked = self._slates(obs, slates, "slate_probability")
        return self._slate_probability(obs, self._prepare(obs), checked)

    def position_probability(self, obs: SlateObservation, slates: ArrayLike) -> NDArray[np.float64]:
        """Probability that ``act`` would show the item at each position there.

        Parameters
        ----------
        obs : SlateObservation
        slates : array-like of int, shape (n_requests, slate_size)

        Returns
        -------
        ndarray of float64, shape (n_requests, slate_size)
        """
        obs, checked = self._slates(obs, slates, "position_probability")
        return self._position_probability(obs, self._prepare(obs), checked)

    def candidate_position_probability(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Probability that ``act`` would show each candidate at each position.

        Parameters
        ----------
        obs : SlateObservation

        Returns
        -------
        ndarray of float64, shape (n_requests, max_candidates, slate_size)
            Zero for padding; each position sums to 1 over the candidates.
        """
        obs = _observation(obs, self, "candidate_position_probability")
        return self._candidate_position_probability(obs, self._prepare(obs))

    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Learn from the feedback to a whole batch of decisions (a no-op unless overridden).

        Parameters
        ----------
        obs : SlateObservation
        decision : SlateDecision
            What was shown, slates of shape (n_requests, slate_size).
        feedback : SlateFeedback
            Rewards of shape (n_requests, slate_size). If it carries the ``examined`` signal
            (:data:`bandits.feedback.EXAMINED`, e.g. from a cascade model), positions the user
            never reached are not learned from: they are not negatives. Requests are then
            learned in groups of the same examined positions.
        """
        for part, rows, pattern in self._examined_groups(obs, decision, feedback, "update"):
            if isinstance(rows, slice):  # the whole batch (no copies)
                self._learn(part, decision.slates, feedback.rewards)
            else:
                slates, rewards = (
                    decision.slates[rows][:, pattern],
                    feedback.rewards[rows][:, pattern],
                )
                self._learn(part, slates, rewards)

    def _examined_groups(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback, method: str
    ) -> list[ExaminedGroup]:
        """Check a batch of feedback, then list its groups of requests with the same examined
        positions: (their observation, their rows, the examined positions); one group
        ``(obs, slice(None), slice(None))`` of every row and position when the feedback does
        not say what was examined or all was."""
        obs = _observation(obs, self, method)
        if not (isinstance(decision, SlateDecision) and isinstance(feedback, SlateFeedback)):
            owner = f"{type(self).__name__}.{method}"
            check_instance(decision, SlateDecision, f"'decision' of {owner}")
            check_instance(feedback, SlateFeedback, f"'feedback' of {owner}")
        decision.check_against(obs)
        if feedback.rewards.shape != decision.slates.shape:
            label = f"'rewards' passed to {type(self).__name__}.{method}"
            check_shape(feedback.rewards, decision.slates.shape, label)
        examined = feedback.examined()
        if examined is None or examined.all():
            return [(obs, EVERY, EVERY)]
        patterns, group = np.unique(examined, axis=0, return_inverse=True)
        groups: list[ExaminedGroup] = []
        for index, pattern in enumerate(patterns):
            if pattern.any():
                rows = np.flatnonzero(group.ravel() == index)
                groups.append((obs.take(rows), rows, pattern))
        return groups

    def _slates(
        self, obs: SlateObservation, slates: ArrayLike, method: str
    ) -> tuple[SlateObservation, NDArray[np.int64]]:
        obs = _observation(obs, self, method)
        label = f"'slates' passed to {type(self).__name__}.{method}"
        checked = as_array(slates, label, np.int64, 2)
        check_shape(checked, (obs.n_requests, obs.slate_size), label)
        check_slates(checked, obs.n_candidates, label)
        return obs, checked

    def _decide(
        self,
        obs: SlateObservation,
        prepared: Any,
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        """The decision for ``slates`` drawn by ``act``, with its exact probabilities."""
        marginals = self._candidate_position_probability(obs, prepared) if with_marginals else None
        return SlateDecision(
            slates,
            self._slate_probability(obs, prepared, slates),
            self._position_probability(obs, prepared, slates),
            marginals,
        )

    def _prepare(self, obs: SlateObservation) -> Any:
        """Per-request quantities shared by drawing and the probabilities (default: None)."""
        return None

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        """Learn from validated shown slates and their (n_requests, slate_size) rewards."""
        return None

    @abstractmethod
    def _draw(
        self, obs: SlateObservation, prepared: Any, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        """Slates of shape (n_requests, slate_size), int64, drawn from ``rng``."""

    @abstractmethod
    def _slate_probability(
        self, obs: SlateObservation, prepared: Any, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Probability of each valid slate, shape (n_requests,)."""

    @abstractmethod
    def _position_probability(
        self, obs: SlateObservation, prepared: Any, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Probability of each item at its position, shape (n_requests, slate_size)."""

    @abstractmethod
    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: Any
    ) -> NDArray[np.float64]:
        """Marginals, shape (n_requests, max_candidates, slate_size)."""


class GreedyPolicy(BasePolicy):
    """Top-k over ``scores``: shows the ``slate_size`` best candidates, best first.

    Candidates with exactly equal scores (items a model has not told apart yet, such as
    unseen items) are ordered uniformly at random from the policy's stream ``rng``, so a batch
    of requests explores different tied items instead of all showing the lowest index; the
    probabilities are exact (see :func:`bandits.slates.tie_probabilities`). Without an ``rng``
    ties go to the lower index and the greedy slate has probability 1.
    """

    @abstractmethod
    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Score of every candidate.

        Parameters
        ----------
        obs : SlateObservation

        Returns
        -------
        ndarray of float64, shape (n_requests, max_candidates)
            Entries past a row's ``n_candidates`` are ignored.
        """

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        """Choose one slate per request (see :meth:`BasePolicy.act`); one request with a slate
        of one item takes a short path with the same draws and probabilities."""
        obs = _observation(obs, self, "act")
        if obs.n_requests == 1 and obs.slate_size == 1 and not with_marginals:
            decision = self._act_on_one(obs)
            if decision is not None:
                return decision
        return super().act(obs, with_marginals=with_marginals)

    def _act_on_one(self, obs: SlateObservation) -> SlateDecision | None:
        """The decision for one request and one position, as the general path makes it: the
        best candidate; among tied best ones (in index order), the one whose uniform from
        ``rng`` (one per candidate, drawn as :func:`~bandits.slates.top_k_with_ties` draws
        them) is smallest, with probability 1 / number tied. None if no score is comparable
        (NaN): the general path decides then."""
        scores = self.scores(obs)[0]
        n = int(obs.n_candidates[0])
        if n < scores.size:
            scores = scores[:n]
        best = int(scores.argmax())  # the first best, or the first NaN if there is one
        values = scores.tolist()  # a few Python floats compare faster than numpy calls
        top = values[best]
        if top != top:  # NaN: no score is comparable
            return None
        n_tied = values.count(top)
        choice, probability = best, 1.0
        if self.rng is not None:
            uniforms = self.rng.random(obs.max_candidates)  # the general path's (1, width)
            probability = 1.0 / n_tied
            if n_tied > 1:
                tied = [i for i, value in enumerate(values) if value == top]
                choice = tied[int(uniforms[:n_tied].argmin())]
        return SlateDecision.trusted(
            obs,
            np.array([[choice]], dtype=np.int64),
            np.array([probability]),
            np.array([[probability]]),
        )

    def greedy_slates(self, obs: SlateObservation) -> NDArray[np.int64]:
        """The top-k slates by score with ties to the lower index, shape (n_requests,
        slate_size), int64."""
        obs = _observation(obs, self, "greedy_slates")
        return top_k(self.scores(obs), obs.n_candidates, obs.slate_size)

    def _prepare(self, obs: SlateObservation) -> RankedScores:
        return rank_scores(self.scores(obs), obs.n_candidates)

    def _draw(
        self, obs: SlateObservation, prepared: RankedScores, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        return top_k_with_ties(prepared, obs.slate_size, rng if self.rng is not None else None)

    def _slate_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self._probabilities(obs, prepared, slates)[0]

    def _position_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self._probabilities(obs, prepared, slates)[1]

    def _probabilities(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The probability of each slate (n_requests,) and of each shown item at its position
        (n_requests, slate_size), computed together."""
        if self.rng is None:
            shown = slates == prepared.order[:, : obs.slate_size]
            return shown.all(axis=1).astype(np.float64), shown.astype(np.float64)
        return tie_probabilities(prepared, slates)

    def _decide(
        self,
        obs: SlateObservation,
        prepared: RankedScores,
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        """The decision with its slate and position probabilities from one computation."""
        slate, position = self._probabilities(obs, prepared, slates)
        marginals = self._candidate_position_probability(obs, prepared) if with_marginals else None
        return SlateDecision(slates, slate, position, marginals)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: RankedScores
    ) -> NDArray[np.float64]:
        if self.rng is None:
            return slate_indicator(prepared.order[:, : obs.slate_size], obs.max_candidates)
        return tie_marginals(prepared, obs.slate_size)


class MonteCarloPolicy(BasePolicy):
    """A stochastic policy whose probabilities are estimated by drawing slates.

    For a policy with no closed form (Thompson sampling, bagging), the probability of a slate,
    of a shown item and of each candidate at each position is the frequency among
    ``probability_draws`` slates drawn by ``_draw`` for that request. Each request's draws come
    from its own *probability stream*, a generator seeded from entropy taken once at
    construction and from the request itself (its id, time and candidates). So asking never
    touches the acting stream ``rng`` (the next choices are unchanged), and a request gets the
    same answer whatever batch it is asked in, alone or in a log of millions. An estimate's
    standard error is at most ``0.5 / sqrt(probability_draws)``.

    ``act`` counts its own chosen slate as one more draw: the logged probability is
    ``(1 + count) / (1 + probability_draws)``, never zero for a slate the policy actually
    chose. Subclasses pass ``probability_draws`` and ``rng`` to ``__init__`` and write
    ``_draw`` (and ``_prepare``, ``_learn``); ``_prepare`` and ``_draw`` are called on
    ``probability_draws`` copies of one request at a time.
    """

    probability_draws: int

    def __init__(self, *, probability_draws: int, rng: np.random.Generator) -> None:
        owner = type(self).__name__
        self.probability_draws = check_integer(
            probability_draws, "probability_draws", owner, low=1, high=MAX_PROBABILITY_DRAWS
        )
        self.rng = check_generator(rng, owner)
        self._probability_entropy = [int(word) for word in rng.integers(0, 2**32, size=4)]

    def probability_stream(self, obs: SlateObservation, row: int) -> np.random.Generator:
        """The generator the probability estimates for request ``row`` of ``obs`` draw from."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.asarray([obs.request_ids[row], obs.times[row]], dtype=np.int64).tobytes())
        digest.update(obs.candidate_ids[row, : obs.n_candidates[row]].tobytes())
        words = np.frombuffer(digest.digest(), dtype=np.uint32)
        return np.random.default_rng([*self._probability_entropy, *(int(w) for w in words)])

    def _counts(
        self, obs: SlateObservation, slates: NDArray[np.int64] | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Over each request's probability draws: how often ``slates[i]`` came up, shape
        (n_requests,), and how often each candidate sat at each position, shape
        (n_requests, max_candidates, slate_size)."""
        n, width, k = obs.n_requests, obs.max_candidates, obs.slate_size
        draws = self.probability_draws
        slate_counts = np.zeros(n)
        marginal_counts = np.zeros((n, width, k))
        flat = np.arange(k)  # candidate c at position j counts at c * k + j
        for row in range(n):
            copies = obs.take(np.full(draws, row))
            drawn = self._draw(copies, self._prepare(copies), self.probability_stream(obs, row))
            counts = np.bincount((drawn * k + flat).ravel(), minlength=width * k)
            marginal_counts[row] = counts.reshape(width, k)
            if slates is not None:
                slate_counts[row] = np.count_nonzero((drawn == slates[row]).all(axis=1))
        return slate_counts, marginal_counts

    def _slate_probability(
        self, obs: SlateObservation, prepared: Any, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self._counts(obs, slates)[0] / self.probability_draws

    def _position_probability(
        self, obs: SlateObservation, prepared: Any, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return shown_marginals(self._candidate_position_probability(obs, prepared), slates)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: Any
    ) -> NDArray[np.float64]:
        return self._counts(obs, None)[1] / self.probability_draws

    def _decide(
        self,
        obs: SlateObservation,
        prepared: Any,
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        """Probabilities from the probability draws plus the chosen slate itself."""
        slate_counts, marginal_counts = self._counts(obs, slates)
        total = self.probability_draws + 1
        marginals = (marginal_counts + slate_indicator(slates, obs.max_candidates)) / total
        return SlateDecision(
            slates,
            (slate_counts + 1.0) / total,
            shown_marginals(marginals, slates),
            marginals if with_marginals else None,
        )


def _observation(obs: object, policy: BasePolicy, method: str) -> SlateObservation:
    if not isinstance(obs, SlateObservation):
        raise InputTypeError(
            f"{type(policy).__name__}.{method} takes a SlateObservation; got "
            f"{type(obs).__name__} (turn an environment's dict into one with "
            f"SlateObservation.from_mapping)."
        )
    return obs
