"""The shared part of exploration policies that wrap a greedy scorer (epsilon-greedy, softmax):
checking the scorer, borrowing its scores and letting it learn from every shown slate."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation
from bandits.validation import InputTypeError
from policies.base import BasePolicy, GreedyPolicy
from policies.offpolicy import WeightedModelLearner


class ScorerWrapper(BasePolicy):
    """A policy that explores around the scores of ``base``, a :class:`GreedyPolicy`.

    Subclasses call :meth:`_wrap` in their constructor and write how they draw slates from
    the scores and the probabilities of those draws.
    """

    base: GreedyPolicy

    def _wrap(self, base: object) -> None:
        """Keep ``base`` as the scorer, or raise naming this policy's ``base`` parameter."""
        if not isinstance(base, GreedyPolicy):
            raise InputTypeError(
                f"The 'base' parameter of {type(self).__name__} must be a GreedyPolicy (a "
                f"top-k scorer such as RidgeGreedy or LinUCB); got {type(base).__name__}."
            )
        self.base = base

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """The base policy's scores, shape (n_requests, max_candidates), float64."""
        return self.base.scores(obs)

    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Let the base policy learn from the whole batch (explored rows included)."""
        self.base.update(obs, decision, feedback)

    def learn_off_policy(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        *,
        clip: float = math.inf,
    ) -> None:
        """Let the base policy learn from logged decisions, if it can (a linear scorer:
        importance-weighted ridge, see :mod:`policies.offpolicy`)."""
        if not isinstance(self.base, WeightedModelLearner):
            raise InputTypeError(
                f"{type(self).__name__} learns off-policy through its base policy, and "
                f"{type(self.base).__name__} cannot (only the linear ones: ridge-greedy, "
                f"linucb)."
            )
        self.base.learn_off_policy(obs, decision, feedback, clip=clip)
