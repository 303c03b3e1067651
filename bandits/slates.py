"""Slate arithmetic shared by policies and estimators: top-k, uniform draws, slate counts,
candidate-position marginals."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class RankedScores:
    """Each request's candidates ranked by score, with the groups of exactly equal scores.

    A top-k policy that breaks ties uniformly at random shows, at position ``p``, a uniformly
    random not-yet-shown member of the group holding rank ``p``; the probabilities below
    follow from that.

    Attributes
    ----------
    order : ndarray of int64, shape (n_requests, max_candidates)
        Candidate indices by descending score, ties by index, padding last.
    rank : ndarray of int64, shape (n_requests, max_candidates)
        The rank of each candidate (the inverse of ``order``).
    group : ndarray of int64, shape (n_requests, max_candidates)
        Group of equal scores of each rank, counted from 0 (-1 for padding).
    size, start : ndarray of int64, shape (n_requests, max_candidates)
        Size and first rank of the group of each rank.
    """

    order: NDArray[np.int64]
    rank: NDArray[np.int64]
    group: NDArray[np.int64]
    size: NDArray[np.int64]
    start: NDArray[np.int64]


def rank_scores(scores: NDArray[np.float64], n_candidates: NDArray[np.int64]) -> RankedScores:
    """Rank candidates by score and find the groups of exactly equal scores.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_requests, max_candidates)
    n_candidates : ndarray of int64, shape (n_requests,)
    """
    n, width = scores.shape
    real = np.arange(width) < n_candidates[:, None]
    order = np.lexsort((-np.where(real, scores, 0.0), ~real), axis=1).astype(np.int64)
    ranked = np.take_along_axis(scores, order, axis=1)
    real_rank = real  # the first n_candidates ranks hold the real candidates
    new_group = np.ones((n, width), dtype=np.bool_)
    new_group[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    group = np.where(real_rank, np.cumsum(new_group & real_rank, axis=1) - 1, -1)
    starts = np.where(new_group & real_rank, np.arange(width), 0)
    start = np.maximum.accumulate(starts, axis=1)
    bins = np.where(real_rank, group, width) + np.arange(n)[:, None] * (width + 1)
    counts = np.bincount(bins.ravel(), minlength=n * (width + 1)).reshape(n, width + 1)
    size = np.take_along_axis(counts, np.maximum(group, 0), axis=1) * real_rank
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(width)[None, :].repeat(n, axis=0), axis=1)
    return RankedScores(order, rank, group, size.astype(np.int64), start.astype(np.int64))


def top_k_with_ties(
    ranked: RankedScores, k: int, rng: np.random.Generator | None
) -> NDArray[np.int64]:
    """The top ``k`` candidates per row, best first; ties broken uniformly at random from
    ``rng`` (or, without one, to the lower index).

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    if rng is None:
        return np.ascontiguousarray(ranked.order[:, :k])
    n, width = ranked.order.shape
    keys = np.where(ranked.group >= 0, ranked.group + rng.random((n, width)), np.inf)
    shuffled = np.argsort(keys, axis=1)[:, :k]
    return np.ascontiguousarray(np.take_along_axis(ranked.order, shuffled, axis=1))


def tie_probabilities(
    ranked: RankedScores, slates: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The probability of each slate and of each shown item at its position under top-k with
    random tie-breaking.

    Position ``p`` shows a member of the group of rank ``p``: the item at ``p`` must be one,
    with probability ``1 / size``; the whole slate multiplies, position by position, the
    chance of that member among the group's members not yet shown, ``1 / (size - (p -
    start))``.

    Returns
    -------
    slate : ndarray of float64, shape (n_requests,)
    position : ndarray of float64, shape (n_requests, slate_size)
    """
    k = slates.shape[1]
    rows = np.arange(slates.shape[0])[:, None]
    positions = np.arange(k)[None, :]
    member = ranked.group[rows, ranked.rank[rows, slates]] == ranked.group[:, :k]
    size, start = ranked.size[:, :k], ranked.start[:, :k]
    position = member / size
    slate = (member / (size - (positions - start))).prod(axis=1)
    return slate, position


def tie_marginals(ranked: RankedScores, k: int) -> NDArray[np.float64]:
    """Each candidate's probability at each position under top-k with random tie-breaking:
    ``1 / size`` for the members of the group of rank ``p``.

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates, k)
    """
    rows = np.arange(ranked.order.shape[0])[:, None]
    candidate_group = ranked.group[rows, ranked.rank]  # (n, max_candidates)
    member = candidate_group[:, :, None] == ranked.group[:, None, :k]
    return member / ranked.size[:, None, :k]


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
