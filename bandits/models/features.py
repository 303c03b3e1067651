"""Joint features of (context, candidate) pairs, so a linear model scores items it never saw.

The joint vector of request ``i`` and candidate ``j`` is
``x_ij = concat([outer(context_i, item_j).ravel(), item_j, 1.0])``: the outer product lets the
context reweight item features (user tastes), the item features alone carry the context-free
effect and the trailing 1.0 the intercept. Its length is ``n_context * n_item + n_item + 1``.

Scoring every candidate of a batch through the materialised vectors costs
(n_requests x max_candidates x n_features) memory; :func:`interaction_scores` and
:func:`interaction_quadratic` use the outer-product structure instead and never build them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation

QUADRATIC_CHUNK_BYTES = 64 * 2**20
"""Working memory of one chunk of requests in :func:`interaction_quadratic`."""


def n_interaction_features(n_context_features: int, n_item_features: int) -> int:
    """Length of an :func:`interaction_features` vector: n_context * n_item + n_item + 1."""
    return n_context_features * n_item_features + n_item_features + 1


def interaction_features(
    obs: SlateObservation, slates: NDArray[np.int64] | None = None
) -> NDArray[np.float64]:
    """The joint vector of each (request, candidate) pair, materialised.

    Parameters
    ----------
    obs : SlateObservation
    slates : ndarray of int64, shape (n_requests, slate_size), optional
        If given, only the shown candidates, in slate order (training rows).

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates or slate_size, n_features)
        Padded candidates get zero item features (so only the intercept is non-zero).
    """
    if slates is None:
        items = obs.candidate_features
    else:  # look up only the shown items
        items = obs.items.features[np.take_along_axis(obs.candidate_rows, slates, axis=1)]
    n_requests, width, _ = items.shape
    outer = obs.context[:, None, :, None] * items[:, :, None, :]
    return np.concatenate(
        [outer.reshape(n_requests, width, -1), items, np.ones((n_requests, width, 1))], axis=2
    )


def interaction_scores(obs: SlateObservation, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``theta . x_ij`` for every candidate, without materialising ``x``.

    With ``theta = [vec(Theta), theta_item, theta_0]`` the score is
    ``item_j . (context_i Theta + theta_item) + theta_0``.

    Parameters
    ----------
    obs : SlateObservation
    theta : ndarray of float64, shape (n_features,) or (n_requests, n_features)
        One coefficient vector for all requests, or one per request (posterior draws).

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates)
    """
    q, d = obs.n_context_features, obs.n_item_features
    thetas = np.broadcast_to(theta, (obs.n_requests, theta.shape[-1]))
    if theta.ndim == 1:
        per_request = obs.context @ theta[: q * d].reshape(q, d) + theta[q * d : q * d + d]
    else:
        weights = thetas[:, : q * d].reshape(-1, q, d)
        per_request = np.einsum("na,nab->nb", obs.context, weights) + thetas[:, q * d : q * d + d]
    return np.einsum("ncd,nd->nc", obs.candidate_features, per_request) + thetas[:, -1:]


def interaction_quadratic(
    obs: SlateObservation, matrix: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``x_ij^T M x_ij`` for every candidate, without materialising ``x``.

    Write ``x_ij = B(context_i) [item_j, 1]`` with ``B`` a (n_features x (n_item + 1)) matrix
    that depends on the request only. Per request, ``G = B^T M B`` costs about n_features^2
    operations, and each candidate then costs (n_item + 1)^2, against n_features^2 per
    candidate through the materialised vectors. Requests are processed in chunks of bounded
    memory (``QUADRATIC_CHUNK_BYTES``).

    Parameters
    ----------
    obs : SlateObservation
    matrix : ndarray of float64, shape (n_features, n_features)
        E.g. the inverse Gram matrix of a ridge model (confidence widths).

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates)
    """
    q, d = obs.n_context_features, obs.n_item_features
    p = n_interaction_features(q, d)
    n = obs.n_requests
    items = np.concatenate([obs.candidate_features, np.ones((n, obs.max_candidates, 1))], axis=2)
    # columns of M grouped as (outer block (q, d), item block d, intercept 1)
    outer_columns = matrix[:, : q * d].reshape(p, q, d)
    chunk = max(1, QUADRATIC_CHUNK_BYTES // (8 * p * (d + 1)))
    result = np.empty((n, obs.max_candidates))
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        context = obs.context[rows]
        # M B: (chunk, p, d + 1)
        mb = np.empty((context.shape[0], p, d + 1))
        mb[:, :, :d] = np.einsum("pab,na->npb", outer_columns, context) + matrix[:, q * d : -1]
        mb[:, :, d] = matrix[:, -1]
        # B^T (M B): (chunk, d + 1, d + 1)
        gram = np.empty((context.shape[0], d + 1, d + 1))
        outer_rows = mb[:, : q * d, :].reshape(context.shape[0], q, d, d + 1)
        gram[:, :d, :] = np.einsum("nabk,na->nbk", outer_rows, context) + mb[:, q * d : -1, :]
        gram[:, d, :] = mb[:, -1, :]
        result[rows] = np.einsum("nci,nij,ncj->nc", items[rows], gram, items[rows])
    return result
