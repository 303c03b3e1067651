"""Slate arithmetic shared by policies and estimators: top-k, uniform draws, slate counts,
candidate-position marginals."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import InputValueError


def count_ordered_slates(n_candidates: NDArray[np.int64], slate_size: int) -> NDArray[np.float64]:
    """Number of ordered slates of ``slate_size`` distinct items, n! / (n - k)!.

    Parameters
    ----------
    n_candidates : ndarray of int64, shape (n_requests,)

    Returns
    -------
    ndarray of float64, shape (n_requests,)
    """
    counts = np.asarray(n_candidates, dtype=np.float64)
    offsets = np.arange(slate_size, dtype=np.float64)
    return np.prod(counts[:, None] - offsets[None, :], axis=1)


def top_k(scores: NDArray[np.float64], n_candidates: NDArray[np.int64], k: int) -> NDArray:
    """Indices of the ``k`` highest scores per row among the real candidates, best first.

    Ties go to the lower index, so the choice is deterministic.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_requests, max_candidates)
    n_candidates : ndarray of int64, shape (n_requests,)

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    masked = np.where(np.arange(scores.shape[1]) < n_candidates[:, None], scores, -np.inf)
    order = np.argsort(-masked, axis=1, kind="stable")
    return np.ascontiguousarray(order[:, :k], dtype=np.int64)


def sample_uniform_slates(
    n_candidates: NDArray[np.int64], k: int, max_candidates: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw one ordered slate of ``k`` distinct candidates per row, uniformly.

    Parameters
    ----------
    n_candidates : ndarray of int64, shape (n_requests,)

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    keys = rng.random((n_candidates.shape[0], max_candidates))
    keys[np.arange(max_candidates) >= n_candidates[:, None]] = np.inf
    return np.ascontiguousarray(np.argsort(keys, axis=1)[:, :k], dtype=np.int64)


SMALLEST_PROBABILITY = float(np.finfo(np.float64).tiny)
"""The smallest slate probability a log can hold (float64's smallest normal number)."""


def uniform_slate_probability(obs: SlateObservation) -> NDArray[np.float64]:
    """1 / (n! / (n - k)!) per request: every ordered slate of distinct candidates is as likely.

    Computed in log space; a configuration whose probability is below float64's range (e.g.
    slates of 100 out of 1,000 candidates) is refused, naming the row, instead of rounding the
    probability to 0.

    Returns
    -------
    ndarray of float64, shape (n_requests,)
    """
    counts = obs.n_candidates.astype(np.float64)
    offsets = np.arange(obs.slate_size, dtype=np.float64)
    log_count = np.log(counts[:, None] - offsets[None, :]).sum(axis=1)
    too_small = log_count > -np.log(SMALLEST_PROBABILITY)
    if too_small.any():
        row = int(np.flatnonzero(too_small)[0])
        raise InputValueError(
            f"A uniform slate of {obs.slate_size} out of {obs.n_candidates[row]} candidates "
            f"(row {row}) has probability 10^{-log_count[row] / np.log(10):.0f}, below what "
            f"float64 holds; use smaller slates or fewer candidates."
        )
    return np.exp(-log_count)


def uniform_position_probability(obs: SlateObservation) -> NDArray[np.float64]:
    """1 / n for every position: each candidate is as likely at any position.

    Returns
    -------
    ndarray of float64, shape (n_requests, slate_size)
    """
    return np.repeat(1.0 / obs.n_candidates[:, None], obs.slate_size, axis=1)


def uniform_candidate_position_probability(obs: SlateObservation) -> NDArray[np.float64]:
    """1 / n for every real candidate at every position (0 for padding).

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates, slate_size)
    """
    share = obs.candidate_mask / obs.n_candidates[:, None]
    return np.repeat(share[:, :, None], obs.slate_size, axis=2)


def slate_indicator(slates: NDArray[np.int64], max_candidates: int) -> NDArray[np.float64]:
    """1.0 where candidate ``c`` is shown at position ``k`` (the marginals of a fixed slate).

    Parameters
    ----------
    slates : ndarray of int64, shape (n_requests, slate_size)

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates, slate_size)
    """
    return (np.arange(max_candidates)[None, :, None] == slates[:, None, :]).astype(np.float64)


def shown_marginals(
    marginals: NDArray[np.float64], slates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """The marginal of each shown item at its own position.

    Parameters
    ----------
    marginals : ndarray of float64, shape (n_requests, max_candidates, slate_size)
    slates : ndarray of int64, shape (n_requests, slate_size)

    Returns
    -------
    ndarray of float64, shape (n_requests, slate_size)
    """
    return np.take_along_axis(marginals, slates[:, None, :], axis=1)[:, 0, :]
