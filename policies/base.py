"""What every policy shares: input coercion, slate checks, decisions built from probabilities.

A policy writes only what differs: how it draws slates (``_draw``) and the exact probability it
gives any slate (``_slate_probability``, ``_position_probability``), both from the per-request
quantities computed once by ``_prepare`` (for a greedy policy, its greedy slates). ``act`` and
the public probability methods call the same functions, so they always agree.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits._checks import as_array, check_shape, check_slates
from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation, as_observation
from bandits.slates import top_k
from bandits.specs import format_spec

Observation = SlateObservation | Mapping[str, Any]


def greedy_slate_probability(
    greedy: NDArray[np.int64], slates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """1.0 where a slate equals the greedy slate of its row, else 0.0.

    Parameters
    ----------
    greedy, slates : ndarray of int64, shape (n_requests, slate_size)

    Returns
    -------
    ndarray of float64, shape (n_requests,)
    """
    return greedy_position_probability(greedy, slates).prod(axis=1)


def greedy_position_probability(
    greedy: NDArray[np.int64], slates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """1.0 where the item at position k is the greedy item at k, else 0.0.

    Parameters
    ----------
    greedy, slates : ndarray of int64, shape (n_requests, slate_size)

    Returns
    -------
    ndarray of float64, shape (n_requests, slate_size)
    """
    return (slates == greedy).astype(np.float64)


class BasePolicy(ABC):
    """Base of all policies in this package; follows :class:`bandits.policy.Policy`.

    Subclasses set ``spec_name`` (the registry name), take keyword-only constructor
    arguments stored under their own names, and implement ``_draw``, ``_slate_probability``
    and ``_position_probability``; learning policies also implement ``_learn``.
    """

    spec_name: ClassVar[str]

    @property
    def name(self) -> str:
        """The policy as a spec, e.g. ``"linucb:alpha=1.0,ridge=1.0"`` (see ``make_policy``)."""
        params = {
            key: value.name if isinstance(value, BasePolicy) else value
            for key, value in self.get_params().items()
        }
        return format_spec(self.spec_name, params)

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

    def act(self, obs: Observation) -> SlateDecision:
        """Choose one slate per request.

        Parameters
        ----------
        obs : SlateObservation or its dict

        Returns
        -------
        SlateDecision
            Slates (n_requests, slate_size) with their exact probabilities.
        """
        obs = as_observation(obs)
        prepared = self._prepare(obs)
        slates = self._draw(obs, prepared)
        return SlateDecision(
            slates,
            self._slate_probability(obs, prepared, slates),
            self._position_probability(obs, prepared, slates),
        )

    def slate_probability(self, obs: Observation, slates: ArrayLike) -> NDArray[np.float64]:
        """Probability that ``act`` would choose each given slate (the state is unchanged).

        Parameters
        ----------
        obs : SlateObservation or its dict
        slates : array-like of int, shape (n_requests, slate_size)
            Distinct indices into each row's candidates.

        Returns
        -------
        ndarray of float64, shape (n_requests,)
        """
        obs, slates = self._coerce(obs, slates, "slate_probability")
        return self._slate_probability(obs, self._prepare(obs), slates)

    def position_probability(self, obs: Observation, slates: ArrayLike) -> NDArray[np.float64]:
        """Probability that ``act`` would show the item at each position there.

        Parameters
        ----------
        obs : SlateObservation or its dict
        slates : array-like of int, shape (n_requests, slate_size)

        Returns
        -------
        ndarray of float64, shape (n_requests, slate_size)
        """
        obs, slates = self._coerce(obs, slates, "position_probability")
        return self._position_probability(obs, self._prepare(obs), slates)

    def update(self, obs: Observation, decision: SlateDecision, feedback: SlateFeedback) -> None:
        """Learn from the feedback to a whole batch of decisions (a no-op unless overridden).

        Parameters
        ----------
        obs : SlateObservation or its dict
        decision : SlateDecision
            What was shown, slates of shape (n_requests, slate_size).
        feedback : SlateFeedback
            Rewards of shape (n_requests, slate_size).
        """
        obs = as_observation(obs)
        owner = f"{type(self).__name__}.update"
        for label, value, kind in (
            ("decision", decision, SlateDecision),
            ("feedback", feedback, SlateFeedback),
        ):
            if not isinstance(value, kind):
                raise TypeError(
                    f"The {label!r} of {owner} must be a {kind.__name__}; "
                    f"got {type(value).__name__}."
                )
        decision.check_against(obs.n_candidates, obs.slate_size)
        check_shape(feedback.rewards, decision.slates.shape, f"'rewards' passed to {owner}")
        self._learn(obs, decision.slates, feedback.rewards)

    def _coerce(
        self, obs: Observation, slates: ArrayLike, method: str
    ) -> tuple[SlateObservation, NDArray[np.int64]]:
        obs = as_observation(obs)
        label = f"'slates' passed to {type(self).__name__}.{method}"
        slates = as_array(slates, label, np.int64, 2)
        check_shape(slates, (obs.n_requests, obs.slate_size), label)
        check_slates(slates, obs.n_candidates, label)
        return obs, slates

    def _prepare(self, obs: SlateObservation) -> Any:
        """Per-request quantities shared by drawing and the probabilities (default: None)."""
        return None

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        """Learn from validated shown slates and their (n_requests, slate_size) rewards."""
        return None

    @abstractmethod
    def _draw(self, obs: SlateObservation, prepared: Any) -> NDArray[np.int64]:
        """Slates of shape (n_requests, slate_size), int64."""

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


class GreedyPolicy(BasePolicy):
    """Deterministic top-k over ``scores``: shows the ``slate_size`` best candidates, best first.

    Ties go to the lower candidate index. The greedy slate has probability 1, any other 0.
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

    def greedy_slates(self, obs: Observation) -> NDArray[np.int64]:
        """The top-k slates by score, shape (n_requests, slate_size), int64."""
        obs = as_observation(obs)
        return top_k(self.scores(obs), obs.n_candidates, obs.slate_size)

    def _prepare(self, obs: SlateObservation) -> NDArray[np.int64]:
        return self.greedy_slates(obs)

    def _draw(self, obs: SlateObservation, prepared: NDArray[np.int64]) -> NDArray[np.int64]:
        return prepared

    def _slate_probability(
        self, obs: SlateObservation, prepared: NDArray[np.int64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return greedy_slate_probability(prepared, slates)

    def _position_probability(
        self, obs: SlateObservation, prepared: NDArray[np.int64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return greedy_position_probability(prepared, slates)
