"""Joint features of (context, candidate) pairs, so a linear model scores items it never saw."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation


def n_interaction_features(n_context_features: int, n_item_features: int) -> int:
    """Length of an :func:`interaction_features` vector: n_context * n_item + n_item + 1."""
    return n_context_features * n_item_features + n_item_features + 1


def interaction_features(
    obs: SlateObservation, slates: NDArray[np.int64] | None = None
) -> NDArray[np.float64]:
    """The vector ``concat([outer(context_i, item_j).ravel(), item_j, 1.0])`` per pair (i, j).

    The outer product lets the context reweight item features (user tastes); the item features
    alone carry the context-free effect and the trailing 1.0 the intercept.

    Parameters
    ----------
    obs : SlateObservation
    slates : ndarray of int64, shape (n_requests, slate_size), optional
        If given, only the shown candidates, in slate order.

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates or slate_size, n_features)
        ``n_features = n_context * n_item + n_item + 1``. Padded candidates get zero item
        features (so only the intercept is non-zero).
    """
    items = obs.candidate_features
    if slates is not None:
        items = np.take_along_axis(items, slates[:, :, None], axis=1)
    n_requests, width, _ = items.shape
    outer = obs.context[:, None, :, None] * items[:, :, None, :]
    return np.concatenate(
        [outer.reshape(n_requests, width, -1), items, np.ones((n_requests, width, 1))], axis=2
    )
