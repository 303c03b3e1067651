"""Slates filled slot by slot, each slot drawn from a distribution over the candidates not yet
shown: sampling, exact slate probabilities and exact candidate-position marginals.

This is how VW's conditional contextual bandit (``--ccb_explore_adf``) fills a slate: slot ``j``
gets a distribution over the candidates left after slots ``0..j-1`` that depends on *which*
candidates were taken, not on their order (VW excludes them and keeps the others in their
original order). So a slate's probability is the product of its slots' probabilities, and the
chance that candidate ``c`` sits at position ``j`` is a sum over the *sets* of ``j`` candidates
that can come first: one slot distribution per set of fewer than ``slate_size`` candidates
(see :func:`count_slot_distributions`). Nothing here knows about VW: a slot distribution is any
callable ``slot(taken) -> pmf``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

SlotDistribution = Callable[[frozenset[int]], NDArray[np.float64]]
"""``slot(taken)``: probabilities, shape (n_candidates,) float64 summing to 1, of each candidate
for the next slot once the candidates in ``taken`` are shown (zero on them)."""


def count_slot_distributions(n_candidates: int, slate_size: int) -> int:
    """How many slot distributions exact marginals may need: the sets of fewer than
    ``slate_size`` of ``n_candidates`` candidates, ``sum_{j < k} C(n, j)``."""
    return sum(math.comb(n_candidates, j) for j in range(slate_size))


def draw_slate(slot: SlotDistribution, uniforms: NDArray[np.float64]) -> NDArray[np.int64]:
    """Fill ``len(uniforms)`` slots in order, slot ``j`` by inverting the cumulative
    distribution of ``slot(taken so far)`` at ``uniforms[j]`` (a number in [0, 1)).

    Returns
    -------
    ndarray of int64, shape (slate_size,)
    """
    taken: list[int] = []
    for u in uniforms:
        pmf = slot(frozenset(taken))
        cumulative = np.cumsum(pmf)
        chosen = int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
        taken.append(min(chosen, int(np.flatnonzero(pmf)[-1])))  # u * total rounds up at most
    return np.asarray(taken, dtype=np.int64)


def invert_cdfs(pmfs: NDArray[np.float64], uniforms: NDArray[np.float64]) -> NDArray[np.int64]:
    """:func:`draw_slate`'s draw of one slot for many distributions at once: the index where
    the cumulative distribution of each row of ``pmfs`` passes ``uniforms`` times its total,
    never past the row's last candidate with mass.

    Parameters
    ----------
    pmfs : ndarray of float64, shape (..., n_candidates)
    uniforms : ndarray of float64, shape (...)
        Numbers in [0, 1).

    Returns
    -------
    ndarray of int64, shape (...)
    """
    cumulative = np.cumsum(pmfs, axis=-1)
    chosen = (cumulative <= (uniforms * cumulative[..., -1])[..., None]).sum(axis=-1)
    last = pmfs.shape[-1] - 1 - np.argmax(pmfs[..., ::-1] > 0, axis=-1)
    return np.minimum(chosen, last).astype(np.int64)


def slot_probabilities(slot: SlotDistribution, slate: NDArray[np.int64]) -> NDArray[np.float64]:
    """Probability of each slot's item given the items above it, shape (slate_size,): the
    factors whose product is the slate's probability."""
    return np.array([slot(frozenset(slate[:j].tolist()))[item] for j, item in enumerate(slate)])


def slate_probability(slot_probability: NDArray[np.float64]) -> NDArray[np.float64]:
    """Product of the slot probabilities along the last axis, computed in log space.

    Parameters
    ----------
    slot_probability : ndarray of float64, shape (..., slate_size)

    Returns
    -------
    ndarray of float64, shape (...)
    """
    if slot_probability.shape[-1] == 1:  # the one factor itself, not exp(log(p))
        return slot_probability[..., 0].copy()
    with np.errstate(divide="ignore"):
        return np.exp(np.log(slot_probability).sum(axis=-1))


def candidate_position_marginals(
    slot: SlotDistribution, n_candidates: int, slate_size: int
) -> NDArray[np.float64]:
    """Exact probability of each candidate at each position, shape (n_candidates,
    slate_size).

    Walks the sets of candidates that can fill the first ``j`` slots with their probabilities
    (``P(S + {a}) += P(S) * slot(S)[a]``), skipping sets of probability zero, so it calls
    ``slot`` at most :func:`count_slot_distributions` times.
    """
    marginals = np.zeros((n_candidates, slate_size))
    level: dict[frozenset[int], float] = {frozenset(): 1.0}
    for position in range(slate_size):
        following: dict[frozenset[int], float] = {}
        for taken, probability in level.items():
            pmf = slot(taken)
            marginals[:, position] += probability * pmf
            if position + 1 < slate_size:
                for item in np.flatnonzero(pmf).tolist():
                    key = taken | {item}
                    following[key] = following.get(key, 0.0) + probability * pmf[item]
        level = following
    return marginals
