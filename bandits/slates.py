"""Slate arithmetic shared by policies and estimators: top-k, uniform draws, slate counts,
candidate-position marginals, Plackett-Luce (softmax) slates and per-position epsilon-greedy
slates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.validation import InputValueError, first_index

SHORT_AXIS = 8
"""Below this length, :func:`sum_last_axis` adds slice by slice."""


def sum_last_axis(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``values.sum(axis=-1)``, slice by slice when the last axis is short (a slate's
    positions): numpy's reduction along a short contiguous axis is several times slower, and
    below 8 entries it adds in the same order, so the result is the same."""
    width = values.shape[-1]
    if not 0 < width < SHORT_AXIS:
        return values.sum(axis=-1)
    if width == 1:
        return values[..., 0].copy()
    total = np.add(values[..., 0], values[..., 1])  # one pass fewer than a copy, then +=
    for k in range(2, width):
        total += values[..., k]
    return total


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
    total = np.ones_like(counts) if slate_size == 0 else counts.copy()
    for offset in range(1, slate_size):  # n (n - 1) ... in order, as numpy.prod multiplies
        total *= counts - offset
    return total


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


def take_columns(values: NDArray[Any], columns: NDArray[np.int64]) -> NDArray[Any]:
    """``values[i, columns[i, j]]`` for every row ``i``: ``np.take_along_axis(values, columns,
    axis=1)`` for 2-D arrays, without its per-call overhead (it matters one request at a time).

    Parameters
    ----------
    values : ndarray, shape (n, m)
    columns : ndarray of int, shape (n, k)

    Returns
    -------
    ndarray, shape (n, k)
    """
    return values[np.arange(values.shape[0])[:, None], columns]


def rank_scores(scores: NDArray[np.float64], n_candidates: NDArray[np.int64]) -> RankedScores:
    """Rank candidates by score and find the groups of exactly equal scores.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_requests, max_candidates)
    n_candidates : ndarray of int64, shape (n_requests,)
    """
    n, width = scores.shape
    positions = np.arange(width)
    real = positions < n_candidates[:, None]
    order = np.lexsort((-np.where(real, scores, 0.0), ~real), axis=1).astype(np.int64)
    ranked = take_columns(scores, order)
    real_rank = real  # the first n_candidates ranks hold the real candidates
    new_group = np.ones((n, width), dtype=np.bool_)
    new_group[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = positions
    if new_group[real_rank].all():  # no ties: every candidate its own group (the common case)
        group = np.where(real_rank, positions, -1)
        start = np.minimum(positions, n_candidates[:, None] - 1)
        return RankedScores(order, rank, group, real_rank.astype(np.int64), start)
    group = np.where(real_rank, np.cumsum(new_group & real_rank, axis=1) - 1, -1)
    starts = np.where(new_group & real_rank, positions, 0)
    start = np.maximum.accumulate(starts, axis=1)
    bins = np.where(real_rank, group, width) + np.arange(n)[:, None] * (width + 1)
    counts = np.bincount(bins.ravel(), minlength=n * (width + 1)).reshape(n, width + 1)
    size = take_columns(counts, np.maximum(group, 0)) * real_rank
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
    return take_columns(ranked.order, shuffled)


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
    uniforms = rng.random((n_candidates.shape[0], max_candidates))
    padded = bool((n_candidates < max_candidates).any())
    beyond = np.arange(max_candidates) >= n_candidates[:, None] if padded else None
    bits = max(int(max_candidates - 1).bit_length(), 1)
    if bits > 9:  # the int64 keys below and the padding's 2**(53 + bits) need 54 + bits <= 63
        if beyond is not None:
            uniforms[beyond] = np.inf
        return np.ascontiguousarray(np.argsort(uniforms, axis=1)[:, :k], dtype=np.int64)
    # The k lowest uniforms of each row's own candidates, by one int64 sort: a float64 uniform
    # is j / 2**53 for an integer j, and the keys j * 2**bits + column (2**(53 + bits) +
    # column past the count)
    # sort as np.argsort sorts the uniforms (ties, about one row in 2**54 / max_candidates**2,
    # to the lower column), several times faster.
    uniforms *= 2.0 ** (53 + bits)  # j * 2**bits exactly (a power of two)
    keys = uniforms.astype(np.int64)
    if beyond is not None:
        np.putmask(keys, beyond, 1 << (53 + bits))
    keys |= np.arange(max_candidates)
    keys.sort(axis=1)
    slates = np.ascontiguousarray(keys[:, :k])
    slates &= (1 << bits) - 1
    return slates


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


# Plackett-Luce (softmax) slates ------------------------------------------------------------
#
# A Plackett-Luce slate with logits l fills position 1 from softmax(l) over the candidates,
# position 2 from softmax(l) over the rest, and so on. The slate probability is a product of
# such factors. The candidate-position marginals have no closed form beyond position 1; they
# come from the exponential race: candidate i arrives at time T_i ~ Exp(w_i), w_i = exp(l_i),
# and the slate is the order of arrival, so
#
#     P(c at position j) = integral over t of  w_c exp(-w_c t) * P(exactly j-1 others arrived
#                          by t) dt,
#
# where the inner term is a Poisson-binomial of the others' arrivals, p_i(t) = 1 - exp(-w_i t).
# It is computed for all c at once by a product tree of the polynomials (1 - p_i + p_i z),
# truncated after z^(k-1): the product of all leaves but one ("leave one out") comes down the
# tree, so every term is a sum of products of numbers in [0, 1] (no cancellation). The integral
# is the trapezoidal rule on the variable u with t = exp(u - exp(-u) - 1): in tau = log t the
# integrand is analytic and decays double-exponentially to the right, and the map turns its
# exponential decay on the left into a double-exponential one, so the rule converges
# geometrically in 1 / step (tested against full enumeration and an exact grouped DP).

PLACKETT_LUCE_GAP = 60.0
"""Where the sorted logits of a row fall by more than this, the candidates above and below are
treated as separate races: the ones above fill the first positions (in Plackett-Luce order
among themselves) and the ones below the later ones. The Plackett-Luce distribution differs
from this by at most ``|above| |below| exp(-gap)`` in total variation (below 3e-17 for up to
100,000 candidates); it keeps the integration range bounded for extreme score gaps."""

PLACKETT_LUCE_STEP = 0.45
"""The quadrature step in ``u`` is ``min(0.25, PLACKETT_LUCE_STEP / sqrt(positions))``: the
integrand sharpens as more positions are filled (the count of arrivals it tracks grows), and
this step keeps the error near float64 rounding (about 1e-15) for slates of 2 to 100 (tested
against an exact DP; the error grows roughly like ``exp(-19 / (step sqrt(k)))``)."""

PLACKETT_LUCE_CHUNK = 1 << 19
"""Most float64 entries (4 MiB) in one array of the quadrature: larger batches are cut into
chunks (this size keeps them in cache, which was fastest on this project's machine)."""

_U_LOW = -3.0  # tau(-3) = -24: the left tail beyond holds less than exp(-48) of any marginal
_TAU_SHIFT = -1.0  # tau = u - exp(-u) + shift: the map is the identity (less 1) past u = 4


def softmax_logits(
    scores: NDArray[np.float64], n_candidates: NDArray[np.int64], temperature: float
) -> NDArray[np.float64]:
    """``(scores - row maximum) / temperature`` over each row's real candidates, ``-inf`` for
    padding: the logits of a softmax (Plackett-Luce) policy, largest 0.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_requests, max_candidates)
    n_candidates : ndarray of int64, shape (n_requests,)
    temperature : float
        Positive.

    Raises
    ------
    InputValueError
        If a real candidate's score is not finite, or the division overflows float64 (a score
        range above about 1.8e308 times the temperature), naming the row.
    """
    scores = np.asarray(scores, dtype=np.float64)
    width = scores.shape[1]
    real = np.arange(width) < n_candidates[:, None]
    bad = real & ~np.isfinite(scores)
    if bad.any():
        row, column = first_index(bad)
        raise InputValueError(
            f"Softmax needs finite scores; row {row}, candidate {column} scores "
            f"{scores[row, column].item()!r}."
        )
    masked = np.where(real, scores, -np.inf)
    top = masked.max(axis=1, keepdims=True, initial=-np.inf)
    with np.errstate(over="ignore"):
        logits = (masked - top) / temperature
    overflow = real & ~np.isfinite(logits)
    if overflow.any():
        row = first_index(overflow)[0]
        spread = float(top[row, 0] - masked[row, real[row]].min())
        raise InputValueError(
            f"The scores of row {row} span {spread:g}, which divided by the temperature "
            f"{temperature:g} overflows float64; use a larger temperature."
        )
    return logits


def _logsumexp(logits: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """log(sum(exp(logits))) over the True entries of each row (each row has one)."""
    masked = np.where(mask, logits, -np.inf)
    top = masked.max(axis=1, initial=-np.inf)
    with np.errstate(divide="ignore"):
        return top + np.log(np.exp(masked - top[:, None]).sum(axis=1))


def plackett_luce_log_probability(
    logits: NDArray[np.float64], slates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Log of each position's factor of a Plackett-Luce slate probability: at position p,
    ``logits[s_p] - logsumexp(logits over the candidates not shown before p)``.

    Their sum over positions is the log of the exact slate probability; computed by
    log-sum-exp, it is stable for any spread of logits and any number of candidates.

    Parameters
    ----------
    logits : ndarray of float64, shape (n_requests, max_candidates)
        ``-inf`` for padding (see :func:`softmax_logits`).
    slates : ndarray of int64, shape (n_requests, slate_size)
        Valid slates (distinct real candidates).

    Returns
    -------
    ndarray of float64, shape (n_requests, slate_size)
    """
    rows = np.arange(logits.shape[0])
    remaining = np.isfinite(logits)
    out = np.empty(slates.shape, dtype=np.float64)
    for position in range(slates.shape[1]):
        chosen = slates[:, position]
        out[:, position] = logits[rows, chosen] - _logsumexp(logits, remaining)
        remaining[rows, chosen] = False
    return out


def sample_plackett_luce(
    logits: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw one Plackett-Luce slate of ``k`` candidates per row.

    Position by position: the item is drawn from softmax(logits) over the candidates not yet
    shown, by inverting its cumulative sum at one uniform number. Each softmax is taken
    relative to the largest remaining logit, so the draw follows the stated probabilities even
    for logits far apart (Gumbel-top-k keys lose ties and near ties once the logits exceed
    about 1e16 in magnitude). Costs O(k n) per row.

    Parameters
    ----------
    logits : ndarray of float64, shape (n_requests, max_candidates)
        ``-inf`` for padding; at least ``k`` finite entries per row.

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    n, width = logits.shape
    rows = np.arange(n)
    remaining = np.isfinite(logits)
    uniform = rng.random((n, k))
    slates = np.empty((n, k), dtype=np.int64)
    for position in range(k):
        masked = np.where(remaining, logits, -np.inf)
        weights = np.exp(masked - masked.max(axis=1, keepdims=True, initial=-np.inf))
        cumulative = np.cumsum(weights, axis=1)
        target = uniform[:, position] * cumulative[:, -1]
        chosen = np.count_nonzero(cumulative <= target[:, None], axis=1)
        # rounding can put the target on the total: take the last item with weight instead
        last = width - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
        chosen = np.minimum(chosen, last)
        slates[:, position] = chosen
        remaining[rows, chosen] = False
    return slates


def plackett_luce_marginals(logits: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """The probability of each candidate at each of the first ``k`` positions of a
    Plackett-Luce slate.

    Position 1 is exact (softmax). Later positions come from the exponential-race integral
    (see the notes above this function's source): a product tree gives, at each quadrature
    node, every candidate's probability that exactly ``j - 1`` others arrived first, and the
    trapezoidal rule on a double-exponential map of log-time integrates it. It is not exact
    (no exact method is known that is polynomial in the number of candidates) but accurate to
    float64 rounding: within 1e-13 absolute, typically 1e-15, and 1e-11 relative for marginals
    above 1e-100, against full enumeration of every ordered slate (up to 12 candidates, with
    ties and logit gaps of thousands) and an exact DP over groups of equal logits (up to 1,000
    candidates and slates of 100); tests check these bounds. Rows whose logits fall by more
    than ``PLACKETT_LUCE_GAP`` are split there, which changes nothing above 3e-17. Logits of
    magnitude ``m`` carry their own rounding, ``m`` times 1e-16, which no method removes.

    Cost: about ``L n (6 k + k^2 / 8)`` floating-point operations per row for ``n``
    candidates, with ``L = (8 + s) sqrt(k) / PLACKETT_LUCE_STEP`` quadrature nodes, ``s`` the
    gap between the largest and the ``(k+1)``-th largest logit plus the log of the number of
    candidates near the top (90 to 130 nodes for 100 candidates, k = 10 and typical scores),
    in vectorised passes of at most ``PLACKETT_LUCE_CHUNK`` entries: about 1 ms per row for
    100 candidates and k = 10, 10 ms for 1,000. ``s`` is at most ``k`` times the split gap, so
    extreme scores cost at most a few hundred times more, never more memory.

    Parameters
    ----------
    logits : ndarray of float64, shape (n_requests, max_candidates)
        ``-inf`` for padding; at least ``k`` finite entries per row.
    k : int

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates, k)
        Zero for padding; each position sums to 1 (to the accuracy above).
    """
    return _plackett_luce(logits, k, None)


def plackett_luce_position_probability(
    logits: NDArray[np.float64], slates: NDArray[np.int64]
) -> NDArray[np.float64]:
    """The probability of each shown item at its own position: the entries of
    :func:`plackett_luce_marginals` for the slate (same method and accuracy), computed for
    those entries only: the quadrature's leave-one-out products come down the tree along the
    shown items' paths alone (a quarter of the cost at 1,000 candidates, about half at 100).

    Returns
    -------
    ndarray of float64, shape (n_requests, slate_size)
    """
    return _plackett_luce(logits, slates.shape[1], slates)


def _plackett_luce(
    logits: NDArray[np.float64], k: int, slates: NDArray[np.int64] | None
) -> NDArray[np.float64]:
    """Marginals (``slates`` None) or the shown items' position probabilities, by races split
    at large logit gaps into independent blocks of positions."""
    n, width = logits.shape
    order = np.argsort(-logits, axis=1, kind="stable")
    ranked = np.take_along_axis(logits, order, axis=1)
    real = np.isfinite(ranked)
    with np.errstate(invalid="ignore"):
        falls = ranked[:, :-1] - ranked[:, 1:] > PLACKETT_LUCE_GAP
    first = np.ones((n, width), dtype=np.bool_)
    first[:, 1:] = falls & real[:, 1:]
    starts = np.maximum.accumulate(np.where(first, np.arange(width), 0), axis=1)
    block_start = np.full((n, width), width, dtype=np.int64)  # per candidate; padding: width
    np.put_along_axis(block_start, order, np.where(real, starts, width), axis=1)

    # one race per block that reaches the first k positions
    sub_row, sub_start = np.nonzero(first & real & (np.arange(width) < k))
    members = block_start[sub_row] == sub_start[:, None]
    sizes = members.sum(axis=1)
    positions = np.minimum(k - sub_start, sizes)
    race = np.where(members, logits[sub_row], -np.inf)
    race -= _logsumexp(race, members)[:, None]
    winner = np.exp(race)  # local position 1, exact
    multi = np.flatnonzero(positions >= 2)

    if slates is None:
        out = np.zeros((n, width, k))
        local = np.zeros((len(sub_row), width, k))
        local[:, :, 0] = winner
        if multi.size:
            local[multi, :, 1:] = _race_quadrature(race[multi], positions[multi], None, k)[:, :, 1:]
        for j in range(k):  # local position j of a race is position start + j
            use = j < positions
            out[sub_row[use], :, sub_start[use] + j] = local[use, :, j]
        return out

    # the shown item at position p belongs to the race of its block, local position p - start
    sub_of = np.full((n, width + 1), -1, dtype=np.int64)
    sub_of[sub_row, sub_start] = np.arange(len(sub_row))
    rows = np.arange(n)[:, None]
    start = block_start[rows, slates]
    sub = sub_of[rows, np.minimum(start, width)]  # -1 for a block past position k
    local_position = np.arange(k)[None, :] - start
    inside = (sub >= 0) & (local_position >= 0)
    inside[inside] &= local_position[inside] < positions[sub[inside]]
    result = np.zeros(slates.shape)
    head = inside & (local_position == 0)
    result[head] = winner[sub[head], slates[head]]
    if multi.size:
        # queries[m, local position] = the candidate asked about there (or -1)
        queries = np.full((len(sub_row), k), -1, dtype=np.int64)
        tail = inside & (local_position >= 1)
        queries[sub[tail], local_position[tail]] = slates[tail]
        found = _race_quadrature(race[multi], positions[multi], queries[multi], k)
        answers = np.zeros((len(sub_row), k))
        answers[multi] = found
        result[tail] = answers[sub[tail], local_position[tail]]
    return result


def _race_quadrature(
    race: NDArray[np.float64],
    positions: NDArray[np.int64],
    queries: NDArray[np.int64] | None,
    k_out: int,
) -> NDArray[np.float64]:
    """The exponential-race integral of independent races.

    Parameters
    ----------
    race : ndarray of float64, shape (n_races, width)
        Logits normalised to log-sum-exp 0, ``-inf`` for items outside the race.
    positions : ndarray of int64, shape (n_races,)
        Positions to fill, at least 2.
    queries : ndarray of int64, shape (n_races, k_out), optional
        The candidate asked about at each local position (-1: none).
    k_out : int
        Positions in the result (at least ``positions.max()``).

    Returns
    -------
    ndarray of float64
        Shape (n_races, width, k_out) without queries, (n_races, k_out) with them; local
        position 0 (exact elsewhere), positions past a race's own and positions not asked
        about are 0.
    """
    n_races, width = race.shape
    k = int(positions.max())
    order = np.argsort(-race, axis=1, kind="stable")  # members first, largest first
    ranked = np.take_along_axis(race, order, axis=1)
    count = np.isfinite(ranked).sum(axis=1)
    # past tau_end, fewer than k others have arrived with probability below exp(-45), and
    # every one of the first items' arrival densities is spent
    rows = np.arange(n_races)
    kth = ranked[rows, np.minimum(positions, count - 1)]
    tau_end = -kth + np.log(45.0 + np.log(positions))
    step = np.minimum(0.25, PLACKETT_LUCE_STEP / np.sqrt(positions))
    u_end = tau_end - _TAU_SHIFT + 0.1
    n_nodes = np.ceil((u_end - _U_LOW) / step).astype(np.int64) + 1

    # every (race, node) pair is independent: cut them into chunks of bounded size
    pair_race = np.repeat(rows, n_nodes)
    pair_node = np.arange(pair_race.size) - np.repeat(np.cumsum(n_nodes) - n_nodes, n_nodes)
    u = _U_LOW + pair_node * step[pair_race]
    tau = u - np.exp(-u) + _TAU_SHIFT
    weight = step[pair_race] * (1.0 + np.exp(-u))

    if queries is None:
        result = np.zeros((n_races, width, k))
    else:
        rank_of = np.empty_like(order)
        rank_of[rows[:, None], order] = np.arange(width)
        asked = np.where(queries >= 0, np.take_along_axis(rank_of, np.maximum(queries, 0), 1), -1)
        asked = asked[:, :k]  # local positions past k are never asked about
        result = np.zeros((n_races, k))
    chunk = max(1, PLACKETT_LUCE_CHUNK // (k * int(count.max())))
    for begin in range(0, pair_race.size, chunk):
        pairs = slice(begin, begin + chunk)
        chunk_race = pair_race[pairs]
        members = int(count[chunk_race].max())
        x = ranked[chunk_race, :members].T + tau[pairs]  # (members, pairs)
        with np.errstate(over="ignore"):
            rate = np.exp(x)  # w_i t
            stay = np.exp(-rate)  # not yet arrived
            density = np.exp(x - rate) * weight[pairs]  # w_c t exp(-w_c t) dtau, with weight
        arrived = -np.expm1(-rate)
        # sum the pairs of each race (pairs of one race are consecutive)
        segment = np.flatnonzero(np.r_[True, chunk_race[1:] != chunk_race[:-1]])
        owner = chunk_race[segment]
        if queries is None:
            others = _leave_one_out(stay, arrived, k, None)  # (k, members, pairs)
            totals = np.add.reduceat(others * density, segment, axis=2)  # (k, members, races)
            result[owner, :members, :] += totals.transpose(2, 1, 0)
        else:
            item = asked[chunk_race].T  # (k, pairs): the rank asked about at each position
            safe = np.maximum(item, 0)
            columns = np.arange(chunk_race.size)
            others = _leave_one_out(stay, arrived, k, safe)  # (k, k asked, pairs)
            values = others[np.arange(k), np.arange(k)] * density[safe, columns]
            values[item < 0] = 0.0
            result[owner] += np.add.reduceat(values, segment, axis=1).T
    result *= np.arange(k) < positions[:, None, None] if queries is None else 1.0
    result[..., 0] = 0.0
    if queries is not None:
        padded = np.zeros(queries.shape)
        padded[:, :k] = result
        return padded
    unsorted = np.zeros((n_races, width, k_out))
    unsorted[rows[:, None], order, :k] = result
    return unsorted


def _leave_one_out(
    stay: NDArray[np.float64],
    arrived: NDArray[np.float64],
    k: int,
    items: NDArray[np.int64] | None,
) -> NDArray[np.float64]:
    """For each item c and column, the probability that exactly m of the *other* items have
    arrived, m < k: the coefficients of prod over i != c of (stay_i + arrived_i z).

    A product tree: polynomials are multiplied pairwise up to the root (truncated after
    z^(k-1)), then the product of everything outside each node comes down (a node's is its
    parent's times its sibling's), to every leaf or only along the paths to ``items``. All
    terms are non-negative, so the result is accurate to rounding whatever the probabilities.
    About ``n (6 k + k^2 / 8)`` operations per column for every item, ``20 n + q k^2 log2(n)``
    for ``q`` items.

    Parameters
    ----------
    stay, arrived : ndarray of float64, shape (n_items, n_columns)
    items : ndarray of int64, shape (n_asked, n_columns), optional
        The items wanted in each column (default all).

    Returns
    -------
    ndarray of float64, shape (k, n_items or n_asked, n_columns)
    """
    n_items, n_columns = stay.shape
    # node j of a level pairs with node j + half; their product is node j of the level above
    levels = [np.stack([stay, arrived])]  # coefficient, node, column
    while levels[-1].shape[1] > 1:
        node = levels[-1]
        if node.shape[1] % 2:  # an odd node out is paired with the polynomial 1
            one = np.zeros((node.shape[0], 1, n_columns))
            one[0] = 1.0
            node = levels[-1] = np.concatenate([node, one], axis=1)
        half = node.shape[1] // 2
        levels.append(_multiply(node[:, :half], node[:, half:], k))
    outside = np.ones((1, 1, n_columns))  # of the root: nothing
    if items is not None:
        siblings, index = [], items
        for node in levels[:-1]:
            half = node.shape[1] // 2
            siblings.append(np.where(index < half, index + half, index - half))
            index = np.where(index < half, index, index - half)  # the parent's index
        columns = np.arange(n_columns)
        for node, sibling in zip(reversed(levels[:-1]), reversed(siblings), strict=True):
            outside = _multiply(outside, node[:, sibling, columns], k)
        result = np.zeros((k, *items.shape))
        result[: outside.shape[0]] = outside
        return result
    for node in reversed(levels[:-1]):
        half = node.shape[1] // 2
        outside = outside[:, :half]  # drop a padding node of the level above
        degree = min(k, outside.shape[0] + node.shape[0] - 1)
        children = np.empty((degree, 2 * half, n_columns))
        _multiply(outside, node[:, half:], k, out=children[:, :half])
        _multiply(outside, node[:, :half], k, out=children[:, half:])
        outside = children
    result = np.zeros((k, n_items, n_columns))
    result[: outside.shape[0]] = outside[:, :n_items]
    return result


def _multiply(
    first: NDArray[np.float64],
    second: NDArray[np.float64],
    k: int,
    out: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Coefficient-wise products of polynomials (coefficients on axis 0), truncated after
    z^(k-1); written into ``out`` (of the right shape) when given."""
    if first.shape[0] > second.shape[0]:
        first, second = second, first
    degree = min(k, first.shape[0] + second.shape[0] - 1)
    if out is None:
        out = np.empty((degree, *np.broadcast_shapes(first.shape[1:], second.shape[1:])))
    span = min(second.shape[0], degree)
    np.multiply(first[0], second[:span], out=out[:span])
    out[span:] = 0.0
    scratch = np.empty_like(out[:span])
    for a in range(1, min(first.shape[0], degree)):
        span = min(second.shape[0], degree - a)
        np.multiply(first[a], second[:span], out=scratch[:span])
        out[a : a + span] += scratch[:span]
    return out


# Per-position epsilon-greedy slates ---------------------------------------------------------
#
# At each position, with probability epsilon a uniformly random candidate not yet shown,
# otherwise the best one not yet shown ("exploit"): a uniformly random member of the group of
# equal scores that ranks highest among the candidates not yet shown (what a top-k policy that
# breaks ties at random shows next), or, with a strict ranking, the next candidate in it.


def strict_ranking(ranked: RankedScores) -> RankedScores:
    """The same order with every candidate in a group of its own: exact ties resolved to the
    lower index, as a greedy policy without a random stream resolves them."""
    n, width = ranked.order.shape
    real = ranked.group >= 0
    ranks = np.broadcast_to(np.arange(width, dtype=np.int64), (n, width))
    return RankedScores(
        ranked.order,
        ranked.rank,
        np.where(real, ranks, -1),
        real.astype(np.int64),
        np.ascontiguousarray(ranks),
    )


def _candidate_groups(ranked: RankedScores) -> NDArray[np.int64]:
    """The group of each candidate (by candidate index; -1 for padding)."""
    rows = np.arange(ranked.order.shape[0])[:, None]
    return ranked.group[rows, ranked.rank]


def sample_per_position_epsilon_greedy(
    ranked: RankedScores, k: int, epsilon: float, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw one per-position epsilon-greedy slate of ``k`` candidates per row.

    Parameters
    ----------
    ranked : RankedScores
        The exploit order and its groups of ties (:func:`rank_scores`, or
        :func:`strict_ranking` of it for ties to the lower index).
    epsilon : float
        Exploration probability at each position, in [0, 1].

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    n, width = ranked.order.shape
    rows = np.arange(n)
    group = _candidate_groups(ranked)
    available = group >= 0
    slates = np.empty((n, k), dtype=np.int64)
    for position in range(k):
        explore = np.less(rng.random(n), epsilon)
        top = np.where(available, group, width).min(axis=1)
        allowed = available & (explore[:, None] | (group == top[:, None]))
        chosen = np.where(allowed, rng.random((n, width)), -1.0).argmax(axis=1)
        slates[:, position] = chosen
        available[rows, chosen] = False
    return slates


def per_position_epsilon_greedy_probability(
    ranked: RankedScores, slates: NDArray[np.int64], epsilon: float
) -> NDArray[np.float64]:
    """The exact probability of each slate under per-position epsilon-greedy: the product over
    positions ``p`` (counted from 0) of ``epsilon / (n - p) + (1 - epsilon) 1[s_p in G_p] /
    |G_p|``, with ``G_p`` the top group among the candidates not shown before ``p``.

    Returns
    -------
    ndarray of float64, shape (n_requests,)
    """
    n, width = ranked.order.shape
    rows = np.arange(n)
    group = _candidate_groups(ranked)
    available = group >= 0
    n_candidates = available.sum(axis=1)
    probability = np.ones(n)
    for position in range(slates.shape[1]):
        top = np.where(available, group, width).min(axis=1)
        in_top = available & (group == top[:, None])
        chosen = slates[:, position]
        exploit = in_top[rows, chosen] / in_top.sum(axis=1)
        probability *= epsilon / (n_candidates - position) + (1.0 - epsilon) * exploit
        available[rows, chosen] = False
    return probability


def per_position_epsilon_greedy_marginals(
    ranked: RankedScores, k: int, epsilon: float
) -> NDArray[np.float64]:
    """The exact probability of each candidate at each of the first ``k`` positions under
    per-position epsilon-greedy.

    Take a candidate ``c`` whose group has ``G`` members and starts at rank ``a`` (``a``
    candidates score higher). While ``c`` is not shown, what happens next depends only on
    ``X``, how many of the ``a`` better candidates are shown, and ``Y``, how many of the other
    ``G - 1`` members: with ``r = n - p`` candidates left at position ``p``, exploration shows
    a better one, another member, ``c`` or a worse one with probabilities proportional to
    ``a - X``, ``G - 1 - Y``, ``1`` and the rest; exploitation shows a better one while
    ``X < a``, then a uniformly random remaining member (``c`` with probability
    ``1 / (G - Y)``). So ``(X, Y)`` is a Markov chain and a DP over it, ``k`` steps of at most
    ``k x k`` states, gives ``P(c at p)`` exactly. It is the same for all members of a group,
    so it runs for the groups holding the first ``k`` ranks; a candidate of a group starting at
    rank ``k`` or later is only ever shown by exploration: ``P(c at p) = epsilon / (n - p)
    prod_{q < p} (1 - epsilon / (n - q))``. Cost O(k^3 t) per request, ``t`` the largest group
    of ties among the first ``k`` ranks (at most ``k``), whatever the number of candidates
    (plus O(n k) to fill the table).

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates, k)
    """
    n = ranked.order.shape[0]
    n_candidates = (ranked.group >= 0).sum(axis=1)
    start = ranked.start[:, :k, None, None]  # the groups holding ranks 0..k-1
    size = ranked.size[:, :k, None, None]
    ties = int(min(k, ranked.size[:, :k].max(initial=1)))  # Y < ties (no ties: one state)
    better = np.arange(k)[:, None]  # X
    members = np.arange(ties)[None, :]  # Y
    # what does not change from position to position
    exploit_pick = (1.0 - epsilon) * (better == start) / np.maximum(size - members, 1)
    exploit_member = exploit_pick * (size - 1 - members)
    exploit_better = (1.0 - epsilon) * (better < start)
    above = start - better
    others = size - 1 - members
    worse = n_candidates[:, None, None, None] - start - size + better + members
    state = np.zeros((n, k, k, ties))
    state[:, :, 0, 0] = 1.0
    shown = np.zeros((n, k, k))  # P(the slot's candidate at position p)
    for position in range(k):
        explore = (epsilon / (n_candidates - position))[:, None, None, None]
        shown[:, :, position] = (state * (explore + exploit_pick)).sum(axis=(2, 3))
        if position == k - 1:
            break
        moved = state * (explore * (worse - position))
        moved[:, :, 1:, :] += (state * (explore * above + exploit_better))[:, :, :-1, :]
        if ties > 1:
            moved[:, :, :, 1:] += (state * (explore * others + exploit_member))[:, :, :, :-1]
        state = moved
    # candidates of groups past rank k: exploration only
    left = n_candidates[:, None] - np.arange(k)[None, :]
    rate = epsilon / left
    unseen = np.cumprod(np.c_[np.ones(n), 1.0 - rate[:, :-1]], axis=1)
    rows = np.arange(n)[:, None]
    candidate_start = ranked.start[rows, ranked.rank]
    marginals = np.where(
        (candidate_start < k)[:, :, None],
        shown[rows, np.minimum(candidate_start, k - 1)],
        (rate * unseen)[:, None, :],
    )
    return marginals * (ranked.group[rows, ranked.rank] >= 0)[:, :, None]
