"""The protocol every decision maker follows."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation


@runtime_checkable
class Policy(Protocol):
    """Chooses slates, learns from feedback, and says how likely any slate was.

    ``slate_probability`` and ``position_probability`` make a policy usable as an OPE target:
    they are exact where a closed form exists and must agree with what ``act`` reports.
    They do not change the policy's state.
    """

    name: str

    def act(self, obs: SlateObservation) -> SlateDecision:
        """Choose one slate per request."""
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
