"""Random observations and feedback built directly (no simulator), for the policy tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import PAD_ID, SlateObservation


def random_observation(
    rng: np.random.Generator,
    *,
    n_requests: int = 8,
    max_candidates: int = 6,
    min_candidates: int | None = None,
    n_context: int = 3,
    n_item: int = 2,
    slate_size: int = 2,
) -> SlateObservation:
    """Requests with between ``min_candidates`` (default slate_size) and max_candidates each."""
    low = slate_size if min_candidates is None else min_candidates
    counts = rng.integers(low, max_candidates + 1, size=n_requests)
    mask = np.arange(max_candidates) < counts[:, None]
    ids = np.where(mask, rng.integers(0, 1000, size=mask.shape), PAD_ID)
    features = rng.normal(size=(n_requests, max_candidates, n_item)) * mask[:, :, None]
    return SlateObservation(
        context=rng.normal(size=(n_requests, n_context)),
        candidate_ids=ids,
        candidate_features=features,
        n_candidates=counts,
        slate_size=slate_size,
        history=np.full((n_requests, 3), PAD_ID),
        request_ids=np.arange(n_requests),
        user_ids=rng.integers(0, 50, size=n_requests),
        times=np.zeros(n_requests, dtype=np.int64),
    )


def random_feedback(rng: np.random.Generator, decision: SlateDecision) -> SlateFeedback:
    """Bernoulli(0.3) clicks per shown position."""
    return SlateFeedback((rng.random(decision.slates.shape) < 0.3).astype(np.float64))


@pytest.fixture
def make_observation() -> Callable[..., SlateObservation]:
    return random_observation


@pytest.fixture
def make_feedback() -> Callable[..., SlateFeedback]:
    return random_feedback
