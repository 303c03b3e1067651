"""Off-policy learning of the linear policies: an importance-weighted ridge fit.

A logged row shows the logger's choices, not the target's: a model fitted on them fits the
logger's distribution of (context, item) pairs. Weighing each shown position's squared error
by ``1 / mu(s_k at k | x)``, the logger's probability of that item at that position (for
slates of one item, of the slate), makes the fit an unbiased estimate of the fit on every
candidate at once (each candidate's expected weight is 1 where the logger can show it), the
importance-weighted regression of off-policy learning. ``clip`` caps the weights
(``min(1 / mu, clip)``): less variance for a bias towards the logger's distribution.
The weighted fit is the ridge model's with ``x`` and ``r`` scaled by ``sqrt(weight)``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.models import CandidateModel
from bandits.observation import SlateObservation
from bandits.validation import InputValueError, check_real
from policies.base import BasePolicy


def importance_weights(decision: SlateDecision, clip: float) -> NDArray[np.float64]:
    """``min(1 / mu(s_k at k | x), clip)`` per shown position, shape (n_requests,
    slate_size), from the decision's logged position probabilities."""
    with np.errstate(divide="ignore", over="ignore"):
        weights = 1.0 / decision.position_probability
    return np.minimum(weights, clip)


def check_weight_clip(clip: object, owner: str) -> float:
    """A weight clip: a real >= 1 or inf (no clip)."""
    if clip == math.inf:
        return math.inf
    return check_real(clip, "clip", owner, low=1.0)


class WeightedModelLearner(BasePolicy):
    """A policy with a linear ``model_`` that learns off-policy by importance-weighted ridge."""

    model_: CandidateModel

    def learn_off_policy(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        *,
        clip: float = math.inf,
    ) -> None:
        """Learn from logged decisions (another policy's): each shown position weighs
        ``min(1 / logged position probability, clip)`` in the ridge fit (see the module
        notes); positions the user did not examine are skipped, as in ``update``.
        """
        clip = check_weight_clip(clip, f"{type(self).__name__}.learn_off_policy")
        weights = importance_weights(decision, clip)
        if not np.isfinite(weights).all():
            raise InputValueError(
                f"{type(self).__name__}.learn_off_policy needs logged position probabilities "
                f"above 0 (their inverse weighs each row); a row has 0: pass a finite clip."
            )
        groups = self._examined_groups(obs, decision, feedback, "learn_off_policy")
        for part, rows, pattern in groups:
            self.model_.learn(
                part,
                decision.slates[rows][:, pattern],
                feedback.rewards[rows][:, pattern],
                weights=weights[rows][:, pattern],
            )
