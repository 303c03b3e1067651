"""The protocol every decision maker follows."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation


@runtime_checkable
class Policy(Protocol):
    """Chooses slates, learns from feedback, and says how likely any slate was.

    The probability methods make a policy usable as an OPE target. They are exact where a
    closed form exists; a policy without one (Thompson sampling, bagging) estimates them from a
    stated number of draws of its own, from a random stream separate from the one ``act`` uses
    (see ``policies.base.MonteCarloPolicy``). Asking never changes the policy's state or its
    next choices.

    ``name`` is for display (tables, log columns); a policy built from a spec also has a
    ``spec`` that rebuilds it.
    """

    name: str

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        """Choose one slate per request; ``with_marginals`` also returns the policy's
        probability of every candidate at every position (for logs the pseudo-inverse
        estimator can use)."""
        ...

    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Learn from the feedback to ``decision`` (a whole batch at once)."""
        ...

    def slate_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Probability of each given slate, shape (n_requests,), for slates (n_requests, k)."""
        ...

    def position_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Probability the item at each position is shown there, shape (n_requests, k)."""
        ...

    def candidate_position_probability(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Probability of each candidate at each position, shape (n_requests, max_candidates,
        slate_size): zero on padding, each position summing to 1 over the candidates."""
        ...


@runtime_checkable
class OffPolicyLearner(Protocol):
    """A policy that learns from another policy's logged decisions, correcting for the
    logger's choices with the logged probabilities (``bandits learn``,
    :func:`bandits.run.learn_from_log`); ``update`` learns from its own decisions."""

    name: str

    def learn_off_policy(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        *,
        clip: float = math.inf,
    ) -> None:
        """Learn from a batch of logged decisions whose probabilities are the logger's;
        ``clip`` caps the importance weights (``1 / logged probability``)."""
        ...
