"""Random observations and feedback built directly (no simulator), for the policy tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from factories import random_observation

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation


def random_feedback(rng: np.random.Generator, decision: SlateDecision) -> SlateFeedback:
    """Bernoulli(0.3) clicks per shown position."""
    return SlateFeedback((rng.random(decision.slates.shape) < 0.3).astype(np.float64))


@pytest.fixture
def make_observation() -> Callable[..., SlateObservation]:
    return random_observation


@pytest.fixture
def make_feedback() -> Callable[..., SlateFeedback]:
    return random_feedback
