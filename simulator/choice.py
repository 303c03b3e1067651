"""Choice models: how a user responds to a slate, with exact expectations and best slates.

Every model sees, per request, the utility logits ``l`` of the candidates (``a = sigmoid(l)``
is the attraction: the chance of a click on an examined item) and the expected reward of a
click on each candidate, ``v >= 0`` (1 for click reward). With ``e`` the examination
probabilities of the positions (non-increasing):

========== ============================================= ===================================
model      P(click at position k) for slate s            best slate (exact)
========== ============================================= ===================================
position   ``e_k a_{s_k}``, positions independent        top-k by ``a v``, best first
cascade    ``a_{s_k} prod_{j<k} (1 - a_{s_j})``; the      ``v`` descending within the slate;
           scan stops at the first click                 which items: dynamic programming
mnl        ``e_k w_{s_k} / (w_0 + sum_j e_j w_{s_j})``,  Dinkelbach iterations over
           ``w = exp(l)``, ``w_0 = exp(no_click_logit)`` top-k slates (exact, finite)
           at most one click
========== ============================================= ===================================

Proofs of the best slates are in each class's docstring.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logsumexp

from bandits.validation import (
    InputValueError,
    as_array,
    check_choice,
    check_probability,
    check_real,
    check_shape,
)

MAX_LOGIT = 700.0
"""Largest no-click logit (beyond it ``exp`` leaves float64)."""

LOG_WEIGHT_FLOOR = -460.0
"""The MNL's best slates take the log-domain path (:meth:`MultinomialLogit._best_from_logs`)
in rows where a candidate's logit or the no-click one is this far below the row's largest:
their weights from one shift (``exp(l - max l)``, under about 1e-200) would underflow in the
scores ``w (v - lambda)``, ranking an underflowed candidate like one worth ``lambda``."""


def _rounding_margin(level: NDArray[np.float64], slate_size: int) -> NDArray[np.float64]:
    """How far a slate's computed value (a ratio of sums of ``slate_size`` terms) may be off
    its exact one, per row: where one weight dwarfs the rest of its slate, the value rounds to
    that item's own value ``v_j`` (or an ulp off), and its Dinkelbach score ``w_j (v_j -
    level)`` to 0 or a sliver of either sign; ``level`` raised by this margin puts that score
    below 0, as it is in exact arithmetic when the rest of the slate adds value."""
    margin = (4 * slate_size + 16) * np.finfo(np.float64).eps
    return np.maximum(margin * np.abs(level), np.finfo(np.float64).tiny)


class ChoiceModel(ABC):
    """A user's response to a slate: clicks per position and their exact probabilities.

    Parameters
    ----------
    slate_size : int
    examination : array-like of float, shape (slate_size,), optional
        Examination probability of each position, in (0, 1] and non-increasing; default
        ``1 / sqrt(1 + k)``. Models that do not use it (cascade) refuse it.
    owner : str
        Named in error messages (the environment).
    """

    name: ClassVar[str]
    uses_examination: ClassVar[bool] = True
    emits_examined: ClassVar[bool] = False
    """True if :meth:`simulate` says which positions were looked at."""

    def __init__(
        self, *, slate_size: int, examination: ArrayLike | None = None, owner: str = "ChoiceModel"
    ) -> None:
        if examination is not None and not self.uses_examination:
            raise InputValueError(
                f"The 'examination' parameter of {owner} does not apply to the {self.name!r} "
                f"choice model (it examines positions until the first click); leave it unset."
            )
        self.slate_size = slate_size
        self.examination = _check_examination(examination, slate_size, owner)

    @abstractmethod
    def click_probabilities(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """Exact probability of a click at each position of the slates shown.

        Parameters
        ----------
        logits : ndarray of float64, shape (n_requests, slate_size)
            Utility logits of the items shown, in slate order.

        Returns
        -------
        ndarray of float64, shape (n_requests, slate_size)
        """

    @abstractmethod
    def simulate(
        self,
        logits: NDArray[np.float64],
        uniforms: NDArray[np.float64],
        probabilities: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
        """Clicks on the slates shown, from uniforms drawn whatever the slates.

        Parameters
        ----------
        logits : ndarray of float64, shape (n_requests, slate_size)
        uniforms : ndarray of float64, shape (n_requests, slate_size)
        probabilities : ndarray of float64, shape (n_requests, slate_size), optional
            ``click_probabilities(logits)`` if the caller has it (not computed again).

        Returns
        -------
        clicks : ndarray of bool, shape (n_requests, slate_size)
        examined : ndarray of bool, shape (n_requests, slate_size), or None
            The positions looked at, if the model says (``emits_examined``).
        """

    @abstractmethod
    def best_slates(
        self, logits: NDArray[np.float64], values: NDArray[np.float64], real: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """The slates with the highest expected reward.

        Parameters
        ----------
        logits, values : ndarray of float64, shape (n_requests, max_candidates)
            Utility logits and expected reward of a click, per candidate.
        real : ndarray of bool, shape (n_requests, max_candidates)
            True for real candidates (at least ``slate_size`` per row).

        Returns
        -------
        ndarray of int64, shape (n_requests, slate_size)
        """

    def candidate_rewards(
        self, logits: NDArray[np.float64], values: NDArray[np.float64]
    ) -> NDArray[np.float64] | None:
        """Expected reward of each candidate at each position, if it does not depend on the
        rest of the slate (None otherwise).

        Returns
        -------
        ndarray of float64, shape (n_requests, max_candidates, slate_size), or None
        """
        return None

    def expected_rewards(
        self, logits: NDArray[np.float64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Exact expected reward per position of the slates shown, shape (n_requests,
        slate_size); ``logits`` and ``values`` are those of the shown items, in slate order."""
        return self.click_probabilities(logits) * values


class PositionBased(ChoiceModel):
    """Position ``k`` is examined with probability ``e_k`` and, if examined, clicked with the
    item's attraction, independently of the other positions.

    Best slate: the expected reward ``sum_k e_k a_{s_k} v_{s_k}`` pairs non-increasing
    weights ``e_k`` with item scores ``a v >= 0``; by the rearrangement inequality the
    ``slate_size`` highest scores, in descending order, are best.
    """

    name = "position"

    def click_probabilities(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        return expit(logits) * self.examination

    def simulate(
        self,
        logits: NDArray[np.float64],
        uniforms: NDArray[np.float64],
        probabilities: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
        if probabilities is None:
            probabilities = self.click_probabilities(logits)
        return uniforms < probabilities, None

    def best_slates(
        self, logits: NDArray[np.float64], values: NDArray[np.float64], real: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        scores = expit(logits) * values
        return ranked_top_k(
            scores if real.all() else np.where(real, scores, -np.inf), self.slate_size
        )

    def candidate_rewards(
        self, logits: NDArray[np.float64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return (expit(logits) * values)[:, :, None] * self.examination


class Cascade(ChoiceModel):
    """The user scans down the slate, clicks each item with its attraction and stops at the
    first click (Craswell et al. 2008); positions up to and including that one are examined.

    Best slate. Two adjacent items ``i`` then ``j``, reached with probability ``P``, earn
    ``P (a_i v_i + (1 - a_i) a_j v_j)`` and leave ``P (1 - a_i)(1 - a_j)`` to the rest, which
    is symmetric; swapping them changes the reward by ``P a_i a_j (v_j - v_i)``. So an optimal
    slate lists its items by ``v`` descending, and which items to take is a dynamic programme
    over the candidates in that order: ``g(i, m) = max(g(i+1, m), a_i v_i + (1 - a_i)
    g(i+1, m-1))``, the best reward of ``m`` items from the ``i``-th on (O(max_candidates x
    slate_size) per request, as ``slate_size`` numpy passes: see :meth:`_programme`). Where
    ``v`` is the same for every candidate (click reward) the expected reward is ``v (1 - prod
    (1 - a))`` whatever the order, so the top-k by attraction, best first, are best; those rows
    skip the programme.

    Pruning. A candidate ``j`` with ``slate_size`` others of ``v_i >= v_j`` and ``a_i > a_j``
    (dominators) is in no slate the programme needs: in an optimal slate (ordered by ``v``)
    holding ``j``, the items after it are worth at most ``R <= v_j`` once reached, and putting
    a dominator ``i`` left out of the slate in ``j``'s place changes the reward by ``P (a_i v_i -
    a_j v_j - (a_i - a_j) R) >= P a_i (v_i - v_j) >= 0``; repeating (``sum a`` rises each
    time) ends at an optimal slate without dominated candidates. :meth:`_undominated` drops,
    cheaply, most of them (about 60 of 100 candidates for slates of 10) before the programme.
    Of several slates with exactly the same reward the one returned may differ from the
    unpruned programme's; the reward does not.
    """

    name = "cascade"
    uses_examination = False
    emits_examined = True

    def __init__(
        self, *, slate_size: int, examination: ArrayLike | None = None, owner: str = "ChoiceModel"
    ) -> None:
        super().__init__(slate_size=slate_size, examination=examination, owner=owner)
        self.examination = np.ones(slate_size)
        self.examination.flags.writeable = False

    def click_probabilities(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        attraction = expit(logits)
        reached = np.ones_like(attraction)
        np.cumprod(1.0 - attraction[:, :-1], axis=1, out=reached[:, 1:])
        return attraction * reached

    def simulate(
        self,
        logits: NDArray[np.float64],
        uniforms: NDArray[np.float64],
        probabilities: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
        would = uniforms < expit(logits)
        last = self.slate_size - 1
        stop = np.where(would.any(axis=1), would.argmax(axis=1), last)
        positions = np.arange(self.slate_size)
        clicks = would & (positions == stop[:, None])
        return clicks, positions <= stop[:, None]

    def best_slates(
        self, logits: NDArray[np.float64], values: NDArray[np.float64], real: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        first = values[:, :1]
        padded = not real.all()
        if padded:
            varies = (np.where(real, values, first) != first).any(axis=1)
        else:
            # Most rows differ in their first two values; only the others are scanned.
            varies = np.zeros(values.shape[0], dtype=np.bool_)
            if values.shape[1] > 1:
                np.not_equal(values[:, 1], values[:, 0], out=varies)
            alike = np.flatnonzero(~varies)
            if alike.size:
                varies[alike] = (values[alike] != first[alike]).any(axis=1)
        if varies.all():  # no row skips the programme: no top-k to compute
            return self._programme(logits, values, real, prune=True)
        attraction = expit(logits[~varies])
        slates = np.empty((logits.shape[0], self.slate_size), dtype=np.int64)
        slates[~varies] = ranked_top_k(
            np.where(real[~varies], attraction, -np.inf), self.slate_size
        )
        if varies.any():  # rows where v is not constant: the dynamic programme
            slates[varies] = self._programme(
                logits[varies], values[varies], real[varies], prune=True
            )
        return slates

    def _undominated(
        self, order: NDArray[np.int64], logits: NDArray[np.float64], counts: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The programme's order without most dominated candidates (see the class docstring).

        ``logits`` are the candidates' logits in the order (``v`` descending, real candidates
        first, the first ``counts`` real). A candidate at position ``p`` has ``slate_size``
        dominators if its logit is below the ``slate_size``-th highest of the first ``L <= p``
        positions (all earlier, so of ``v`` at least its own; a higher logit is a higher
        attraction ``a``); one value partition per breakpoint ``L`` (about 1.5, 2.5, 4 and 6
        slate sizes) gives those thresholds. Comparing logits, not attractions, keeps the
        same candidates except where ``expit`` rounds two different logits to one ``a``
        (then the lower one is dropped: it is dominated, and swapping it for an item of the
        same ``a`` and no lower ``v`` loses nothing), and needs no ``expit`` of the dropped.

        Returns
        -------
        order : ndarray of int64, shape (n_requests, width')
            The kept candidates in the same order, first in each row; the rest 0 (beyond
            ``counts``).
        counts : ndarray of int64, shape (n_requests,)
            Kept candidates per row (at least ``slate_size``: the first ones are always kept).
        """
        n, width = logits.shape
        k = self.slate_size
        breaks = sorted({max(k + 1, (k * step) // 2) for step in (3, 5, 8, 12)})
        breaks = [cut for cut in breaks if cut < width]
        if not breaks:
            return order, counts
        kept = np.empty((n, width), dtype=np.bool_)
        kept[:, : breaks[0]] = True
        for cut, end in zip(breaks, [*breaks[1:], width], strict=True):
            kth = np.partition(logits[:, :cut], cut - k, axis=1)[:, cut - k]
            np.greater_equal(logits[:, cut:end], kth[:, None], out=kept[:, cut:end])
        if bool((counts < width).any()):
            kept &= np.arange(width) < counts[:, None]
        flat = np.flatnonzero(kept)  # ascending, so in the order within each row
        kept_counts = kept.sum(axis=1)
        narrow = int(kept_counts.max())
        starts = np.cumsum(kept_counts) - kept_counts
        slots = np.arange(flat.size) + np.repeat(np.arange(n) * narrow - starts, kept_counts)
        out = np.zeros(n * narrow, dtype=np.int64)
        out[slots] = np.take(order, flat)
        return out.reshape(n, narrow), kept_counts

    def _programme(
        self,
        logits: NDArray[np.float64],
        values: NDArray[np.float64],
        real: NDArray[np.bool_],
        *,
        prune: bool = False,
    ) -> NDArray[np.int64]:
        """The best slates by dynamic programming over the candidates by ``v`` descending.

        With ``c_i(m) = a_i v_i + (1 - a_i) g(i+1, m-1)`` (the best reward of ``m`` items
        that start with candidate ``i``), ``g(i, m) = max(g(i+1, m), c_i(m)) = max_{j >= i}
        c_j(m)``, a reversed running maximum: for many requests candidate by candidate from
        the last, every layer at once (:func:`_starts_by_candidate`), for few layer by layer
        (:func:`_starts_by_layer`). Candidate ``i`` starts
        the best ``m`` items from ``i`` on when ``c_i(m) > g(i+1, m)`` (strictly: of equal
        ones, the last in the order); the slate is read off from the first candidate on.

        The order is real candidates first, then ``v`` descending, then the logit (so ``a``)
        descending, then the candidate index. One sort by ``v`` gives it for rows whose real
        ``v`` are distinct (:func:`_descending_order`); rows with tied ``v`` are sorted again
        on all three keys.
        The arrays are candidate-major (shape (width, n_requests)), so every pass is
        contiguous over the requests. With ``prune``,
        the programme runs over the candidates :meth:`_undominated` keeps; ``a = expit(l)`` is
        computed for those only.
        """
        n, width = logits.shape
        k = self.slate_size
        order, ties = _descending_order(values, real)
        if ties.any():
            key = np.where(real[ties], -values[ties], np.inf)
            order[ties] = np.lexsort((-logits[ties], key), axis=1)
        # Real candidates come first in the order.
        counts = np.full(n, width) if real.all() else real.sum(axis=1)
        base = (np.arange(n) * width)[:, None]
        if prune:
            order, counts = self._undominated(order, np.take(logits, order + base), counts)
        width = order.shape[1]
        flat = np.empty((width, n), dtype=np.int64)  # (width, n): candidate-major
        np.add(order.T, base.T, out=flat)
        a = expit(np.take(logits, flat))
        gain = a * np.take(values, flat)
        keep = 1.0 - a
        if bool((counts < width).any()):  # slots past a row's count: never worth taking
            padding = np.arange(width)[:, None] >= counts[None, :]
            np.copyto(gain, -np.inf, where=padding)
            np.copyto(keep, 1.0, where=padding)
        if n >= CANDIDATE_LOOP_ROWS:
            chosen = _read_off_by_candidate(_starts_by_candidate(gain, keep, k), k)
        else:
            chosen = _read_off_by_layer(_starts_by_layer(gain, keep, k))
        chosen += (np.arange(n) * width)[:, None]  # flat cells of the (pruned) order
        return np.take(order, chosen)


def _read_off_by_layer(take: NDArray[np.bool_]) -> NDArray[np.int64]:
    """The slates' slots from ``take`` (shape (k + 1, width, n), as
    :func:`_starts_by_layer` gives it): per request, the first candidate that starts the best
    ``k`` items, then the first after it that starts the best ``k - 1``, and so on (one
    ``argmax`` per layer, request-major after one transposing copy, so that each request's
    candidates are contiguous; a layer with no start left gives slot 0, as ``argmax`` does).

    Returns
    -------
    ndarray of int64, shape (n, k)
    """
    k, width, n = take.shape[0] - 1, take.shape[1], take.shape[2]
    starts = np.ascontiguousarray(take.transpose(0, 2, 1))
    candidates = np.arange(width)
    chosen = np.empty((n, k), dtype=np.int64)
    position = np.zeros((n, 1), dtype=np.int64)  # candidates before it are passed over
    for m in range(k, 0, -1):
        first = np.argmax(starts[m] & (candidates >= position), axis=1)
        chosen[:, k - m] = first
        position = first[:, None] + 1
    return chosen


def _read_off_by_candidate(take: NDArray[np.bool_], k: int) -> NDArray[np.int64]:
    """:func:`_read_off_by_layer` from ``take`` of shape (width, k + 1, n) (as
    :func:`_starts_by_candidate` gives it), in one pass over the candidates: each request
    holds the layer it looks for (``k`` first) and takes candidate ``i`` when ``i`` starts
    that many items, then looks for one fewer (layer 0 starts nothing). Three calls of ``n``
    numbers per candidate instead of passes over the whole table per layer. A request left
    with fewer than ``k`` items (no start where one was looked for) is read off by layer, as
    before.
    """
    width, _, n = take.shape
    blocks = take.reshape(width, -1)  # candidate i: layer m of request r at m * n + r
    looking = k * n + np.arange(n)
    taken = np.empty((width, n), dtype=np.bool_)
    done = np.empty(n, dtype=np.int64)
    for i in range(width):
        np.take(blocks[i], looking, out=taken[i])
        np.multiply(taken[i], n, out=done)
        looking -= done
    complete = looking < n  # down to layer 0
    if complete.all():
        cells = np.flatnonzero(np.ascontiguousarray(taken.T))  # by request, then candidate
        return (cells % width).reshape(n, k)
    chosen = np.empty((n, k), dtype=np.int64)
    whole = np.flatnonzero(complete)
    cells = np.flatnonzero(np.ascontiguousarray(taken[:, whole].T))
    chosen[whole] = (cells % width).reshape(whole.size, k)
    rest = np.flatnonzero(~complete)
    chosen[rest] = _read_off_by_layer(np.ascontiguousarray(take[:, :, rest].transpose(1, 0, 2)))
    return chosen


CANDIDATE_LOOP_ROWS = 256
"""Requests from which the cascade's programme loops over the candidates with every layer at
once (:func:`_starts_by_candidate`: four numpy calls per candidate) rather than over the
layers with one ``np.fmax.accumulate`` each (:func:`_starts_by_layer`), whose strided inner
loop costs several times more per element but needs no call per candidate (wide, short
batches)."""


def _starts_by_candidate(
    gain: NDArray[np.float64], keep: NDArray[np.float64], k: int
) -> NDArray[np.bool_]:
    """``take[i, m, r]``: candidate ``i`` starts the best ``m`` items from ``i`` on in request
    ``r`` (``c_i(m) > g(i+1, m)``), shape (width, k + 1, n); ``gain = a v`` and ``keep = 1 -
    a`` of shape (width, n), candidates in the programme's order.

    From the last candidate: ``g`` holds ``g(i + 1, m)`` for every ``m`` (``g(., 0) = 0``,
    ``g(width, m >= 1) = -inf``); per candidate ``c = keep g(i+1, m-1) + gain``, the
    comparison, then ``g(i, m) = fmax(c, g(i+1, m))``: the arithmetic of
    :func:`_starts_by_layer` in the same order. -inf flows to every candidate with fewer
    than ``m - 1`` real ones after it (with ``a = 1`` as NaN, ``0 * -inf``, which fmax and
    ``>`` treat as -inf: never a maximum, never taken). Candidate ``i`` updates only the
    layers ``k - i <= m <= width - i``: below, ``k - m`` items cannot come before it (never
    read, nor needed by the candidates before it), above, fewer than ``m - 1`` slots follow
    it (``g`` stays -inf, nothing is taken).
    """
    width, n = gain.shape
    g = np.full((k + 1, n), -np.inf)
    g[0] = 0.0
    step = np.empty((k, n))
    take = np.zeros((width, k + 1, n), dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        for i in range(width - 1, -1, -1):
            low, high = max(k - i, 1), min(k, width - i)  # the layers m updated
            if low > high:
                continue
            below, layers = g[low - 1 : high], g[low : high + 1]  # g(i+1, m-1), g(i+1, m)
            part = step[: high - low + 1]
            np.multiply(keep[i], below, out=part)
            part += gain[i]
            np.greater(part, layers, out=take[i, low : high + 1])
            np.fmax(part, layers, out=layers)
    return take


def _starts_by_layer(
    gain: NDArray[np.float64], keep: NDArray[np.float64], k: int
) -> NDArray[np.bool_]:
    """:func:`_starts_by_candidate` layer by layer: each layer's running maximum is one
    ``np.fmax.accumulate`` over the candidates (reversed), so no call per candidate."""
    width, n = gain.shape
    # best[i] = g(i, m) for low <= i <= width; two buffers of g take turns (no allocation
    # per layer), the layer below's g(i+1, m-1) a view of its buffer.
    best, other = np.zeros((width + 1, n)), np.empty((width + 1, n))
    start = np.empty((width, n))
    take = np.zeros((k + 1, width, n), dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        for m in range(1, k + 1):
            # Only candidates low..high - 1 can start the last m items of a slate: k - m
            # items come before them, and m - 1 after.
            low, high = k - m, width - m + 1
            step = start[low:high]
            np.multiply(keep[low:high], best[low + 1 : high + 1], out=step)
            step += gain[low:high]
            best, other = other, best
            best[high:] = -np.inf
            running = best[low : high + 1]  # running[j] = max(step[j], running[j + 1])
            np.fmax.accumulate(step[::-1], axis=0, out=running[high - low - 1 :: -1])
            np.fmax(running[: high - low], running[high - low], out=running[: high - low])
            np.greater(step, best[low + 1 : high + 1], out=take[m, low:high])
    return take


def _descending_order(
    values: NDArray[np.float64], real: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per row, the real candidates by ``values`` (``>= 0``) descending, then the padding by
    index; and the rows where two real values tie or nearly tie (to be ordered otherwise).

    One int64 sort: for ``v >= 0`` the float64 bits grow with ``v``, so the keys ``2**63 - 1 -
    2**b - bits(v)`` (padding: ``2**63 - 1``) with their lowest ``b`` bits replaced by the
    column (``2**b >= width``) sort by ``v`` descending, several times faster than
    ``np.argsort``. Values closer than about ``2**(b - 52)`` relative share their truncated
    keys and may come out by column: their rows are flagged with the true ties, so every row
    not flagged has exactly the order of ``v``.
    Widths beyond ``2**11`` or values with the sign bit set take ``np.argsort``.

    Returns
    -------
    order : ndarray of int64, shape (n, width)
    flagged : ndarray of bool, shape (n,)
    """
    width = values.shape[1]
    bits = max(int(width - 1).bit_length(), 1)
    value_bits = values.view(np.int64)
    padded = not real.all()
    negative = (value_bits[real] < 0).any() if padded else value_bits.min() < 0
    if bits > 11 or bool(negative):
        key = np.where(real, -values, np.inf)
        order = np.argsort(key, axis=1)
        ranked = np.take_along_axis(key, order, axis=1)
        tied = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] < np.inf)
        return order, tied.any(axis=1)
    top = np.iinfo(np.int64).max
    keys = (top - (1 << bits)) - value_bits  # truncated, below every padding key (v = 0 too)
    if padded:
        keys[~real] = top
    keys &= -(1 << bits)  # truncated (the lowest bits cleared), sorted with the columns
    keys |= np.arange(width)
    keys.sort(axis=1)
    high = keys >> bits
    close = high[:, 1:] == high[:, :-1]
    if padded:  # padding keys (top) tie with each other, not with a value's
        close &= high[:, 1:] < top >> bits
    keys &= (1 << bits) - 1
    return keys, close.any(axis=1)


class MultinomialLogit(ChoiceModel):
    """At most one click per slate: item ``s_k`` with probability ``e_k w / (w_0 + sum_j e_j
    w_j)``, no click with ``w_0 / (...)``; ``w = exp(l)`` so that a lone item with ``e = 1`` and
    ``w_0 = 1`` is clicked with its attraction ``sigmoid(l)``.

    Best slate: the expected reward ``N(s) / D(s)`` with ``N = sum e_k w v`` and ``D = w_0 +
    sum e_k w`` is maximised by Dinkelbach's method: ``lambda <- N(s*) / D(s*)`` with ``s*``
    maximising ``N - lambda D = sum_k e_k w (v - lambda) - lambda w_0``, which is the top-k by
    ``w (v - lambda)`` in descending order (rearrangement, ``e`` non-increasing). ``lambda``
    increases strictly until ``max (N - lambda D) = 0``, when it is the optimum; there are
    finitely many slates, so this is exact. The first slates are drawn at the best value of a
    single item in the first position, ``max_i e_1 w_i v_i / (w_0 + e_1 w_i)`` (one pass),
    not at 0: any start works (a start above the optimum draws slates worth less than it,
    whose value is a valid next ``lambda``), and this one is usually within 10% of the
    optimum, which saves about two of five top-k passes. With click reward one iteration
    suffices: the top-k by ``w`` maximise ``D``, and the reward ``1 - w_0 / D`` increases
    with it (the start is below 1, so the first slates are those). Rows whose logits span
    more than float64's weights hold from one shift (``LOG_WEIGHT_FLOOR``; large
    ``logit_scale``) run the same iterations on logarithms.

    Parameters
    ----------
    no_click_logit : float
        ``log w_0``, the utility of not clicking.
    """

    name = "mnl"

    def __init__(
        self,
        *,
        slate_size: int,
        examination: ArrayLike | None = None,
        no_click_logit: float = 0.0,
        owner: str = "ChoiceModel",
    ) -> None:
        super().__init__(slate_size=slate_size, examination=examination, owner=owner)
        self.no_click_logit = check_real(
            no_click_logit, "no_click_logit", owner, low=-MAX_LOGIT, high=MAX_LOGIT
        )
        self._log_examination = np.log(self.examination)

    def click_probabilities(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        weighted = logits + self._log_examination
        total = np.logaddexp(self.no_click_logit, log_sum_exp_rows(weighted))
        return np.exp(weighted - total[:, None])

    def simulate(
        self,
        logits: NDArray[np.float64],
        uniforms: NDArray[np.float64],
        probabilities: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
        probability = self.click_probabilities(logits) if probabilities is None else probabilities
        upper = np.cumsum(probability, axis=1)
        u = uniforms[:, :1]
        return (u < upper) & (u >= upper - probability), None

    def best_slates(
        self, logits: NDArray[np.float64], values: NDArray[np.float64], real: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        padded = not real.all()
        top = (np.where(real, logits, -np.inf) if padded else logits).max(axis=1)
        bottom = (np.where(real, logits, np.inf) if padded else logits).min(axis=1)
        shift = np.maximum(top, self.no_click_logit)
        narrow = (bottom - shift >= LOG_WEIGHT_FLOOR) & (
            self.no_click_logit - shift >= LOG_WEIGHT_FLOOR
        )
        if narrow.all():
            return self._best_from_weights(logits, values, real, shift, padded)
        slates = np.empty((logits.shape[0], self.slate_size), dtype=np.int64)
        wide = np.flatnonzero(~narrow)
        slates[wide] = self._best_from_logs(logits[wide], values[wide], real[wide])
        rows = np.flatnonzero(narrow)
        if rows.size:
            part = real[rows]
            slates[rows] = self._best_from_weights(
                logits[rows], values[rows], part, shift[rows], not part.all()
            )
        return slates

    def _best_from_weights(
        self,
        logits: NDArray[np.float64],
        values: NDArray[np.float64],
        real: NDArray[np.bool_],
        shift: NDArray[np.float64],
        padded: bool,
    ) -> NDArray[np.int64]:
        """Dinkelbach on the weights ``exp(l - shift)`` (``shift`` the row's largest logit or
        the no-click one), for rows whose weights are all at least ``exp(LOG_WEIGHT_FLOOR)``."""
        k = self.slate_size
        masked = np.where(real, logits, -np.inf) if padded else logits  # padding: weight 0
        weight = np.subtract(masked, shift[:, None])
        np.exp(weight, out=weight)
        no_click = np.exp(self.no_click_logit - shift)
        # The start: the best single item at the first position (in place: one buffer).
        scores = self.examination[0] * weight
        ratio = scores + no_click[:, None]
        np.divide(scores, ratio, out=ratio)
        ratio *= values
        # no 0 / 0: these rows' no-click weights are at least exp(LOG_WEIGHT_FLOOR)
        start = ratio.max(axis=1)
        np.subtract(values, start[:, None], out=ratio)
        np.multiply(weight, ratio, out=scores)
        best = slates = ranked_top_k(np.where(real, scores, -np.inf) if padded else scores, k)
        # The rows still iterated on: all at first, then, once fewer than 3/4 of them still
        # move, only those (a row that did not improve draws the same slate again, so keeping
        # it a while longer changes nothing). A row that did not improve while a shown value
        # is within rounding of its level is nudged once per level (:func:`_next_levels`).
        rows = np.arange(logits.shape[0])
        level = np.full(rows.size, -np.inf)
        nudged = level.copy()
        width = logits.shape[1]
        for _ in range(2 * (width + 1)):
            shown = slates + (np.arange(rows.size) * width)[:, None]
            w = np.take(weight, shown) * self.examination
            v = np.take(values, shown)
            value = (w * v).sum(axis=1) / (no_click + w.sum(axis=1))
            better, moving, level, nudged, target = _next_levels(value, level, nudged, v, k)
            best[rows[better]] = slates[better]
            n_moving = int(moving.sum())
            if not n_moving:
                break
            if 4 * n_moving < 3 * rows.size:
                rows, level, nudged, target = (
                    rows[moving],
                    level[moving],
                    nudged[moving],
                    target[moving],
                )
                no_click, weight, values, real = (
                    no_click[moving],
                    weight[moving],
                    values[moving],
                    real[moving],
                )
            scores = np.subtract(values, target[:, None], out=scores[: rows.size])
            scores *= weight  # weight * (values - target), in the start's buffer
            slates = ranked_top_k(np.where(real, scores, -np.inf) if padded else scores, k)
        return best

    def _best_from_logs(
        self, logits: NDArray[np.float64], values: NDArray[np.float64], real: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """Dinkelbach as :meth:`_best_from_weights`, for rows whose weights span more than
        float64 holds from one shift (a weight or the no-click one below
        ``exp(LOG_WEIGHT_FLOOR)`` of the largest): a score ``w (v - lambda)`` is ranked by its
        sign, then by ``l + log|v - lambda|`` (which never underflows), and a slate's value
        is computed from its own largest logit. Shape (n, slate_size)."""
        n, width = logits.shape
        k = self.slate_size
        log_examination = self._log_examination
        # The start: the best single item at the first position, v e_1 w / (w_0 + e_1 w).
        single = values * expit(logits + log_examination[0] - self.no_click_logit)
        start = np.where(real, single, -np.inf).max(axis=1)
        best = slates = _ranked_by_log_scores(logits, values, real, start, k)
        rows = np.arange(n)
        level = np.full(n, -np.inf)
        nudged = level.copy()
        for _ in range(2 * (width + 1)):
            shown = np.take_along_axis(logits, slates, axis=1) + log_examination
            top = np.maximum(shown.max(axis=1), self.no_click_logit)[:, None]
            weights = np.exp(shown - top)
            shown_values = np.take_along_axis(values, slates, axis=1)
            numerator = (weights * shown_values).sum(axis=1)
            value = numerator / (np.exp(self.no_click_logit - top[:, 0]) + weights.sum(axis=1))
            better, moving, level, nudged, target = _next_levels(
                value, level, nudged, shown_values, k
            )
            best[rows[better]] = slates[better]
            n_moving = int(moving.sum())
            if not n_moving:
                break
            if 4 * n_moving < 3 * rows.size:  # as in the weight path
                rows, level, nudged, target = (
                    rows[moving],
                    level[moving],
                    nudged[moving],
                    target[moving],
                )
                logits, values, real = logits[moving], values[moving], real[moving]
            slates = _ranked_by_log_scores(logits, values, real, target, k)
        return best


def _next_levels(
    value: NDArray[np.float64],
    level: NDArray[np.float64],
    nudged: NDArray[np.float64],
    shown_values: NDArray[np.float64],
    slate_size: int,
) -> tuple[
    NDArray[np.bool_],
    NDArray[np.bool_],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """One Dinkelbach step's bookkeeping, the same in both MNL paths, per row: the slates
    worth ``value`` (their items' values ``shown_values``) against the ``level`` they were
    drawn at.

    A row improves when ``value > level``, and its level becomes ``value``. A row that did
    not improve while a shown item's value is within rounding of its level
    (:func:`_rounding_margin`: that item's score may have rounded to 0 or above and kept it in
    the slate), and was not nudged at this level yet (``nudged``), is stuck: its next slates
    are drawn from just above its level, once per level.

    Returns
    -------
    better, moving : ndarray of bool, shape (n,)
        Rows that improved; rows that improved or are stuck (the rest are done).
    level, nudged, target : ndarray of float64, shape (n,)
        The new levels, the levels rows were last nudged at, and the levels to draw the next
        slates at.
    """
    margin = _rounding_margin(level, slate_size)
    better = value > level
    near = (np.abs(shown_values - level[:, None]) <= margin[:, None]).any(axis=1)
    stuck = ~better & (level > nudged) & near  # level > nudged: never at -inf, the start
    level = np.where(better, value, level)
    nudged = np.where(stuck, level, nudged)
    target = level + np.where(stuck, margin, 0.0)  # a stuck row's level is unchanged
    return better, better | stuck, level, nudged, target


def _ranked_by_log_scores(
    logits: NDArray[np.float64],
    values: NDArray[np.float64],
    real: NDArray[np.bool_],
    level: NDArray[np.float64],
    k: int,
) -> NDArray[np.int64]:
    """The ``k`` candidates of highest ``exp(l) (v - level)`` per row, highest first, ties
    to the lower index, without forming the products: by the sign of ``v - level``, then by
    ``l + log(v - level)`` descending above it and ``l + log(level - v)`` ascending below;
    padding last. Shape (n, k).

    Rows with at least ``k`` real candidates above their level need only those:
    :func:`ranked_top_k` of ``l + log(v - level)`` (a selection, not a sort); the others are
    sorted whole, row by row, on the sign and then the size."""
    gap = values - level[:, None]
    with np.errstate(divide="ignore"):  # log(0) where v = level: -inf, a size unused there
        size = logits + np.log(np.abs(gap))
    above = real & (gap > 0)
    enough = np.count_nonzero(above, axis=1) >= k
    if enough.all():
        return ranked_top_k(np.where(above, size, -np.inf), k)
    out = np.empty((logits.shape[0], k), dtype=np.int64)
    if enough.any():
        out[enough] = ranked_top_k(np.where(above[enough], size[enough], -np.inf), k)
    rest = ~enough
    sign = np.where(real[rest], np.sign(gap[rest]), -2.0)
    rank = np.where(sign > 0, -size[rest], np.where(sign < 0, size[rest], 0.0))
    out[rest] = np.lexsort((rank, -sign), axis=1)[:, :k]  # stable: ties to the lower index
    return out


CHOICE_MODELS: dict[str, type[ChoiceModel]] = {
    model.name: model for model in (PositionBased, Cascade, MultinomialLogit)
}
"""Choice models by the name the ``choice_model`` parameter takes."""


def make_choice_model(
    name: object,
    *,
    slate_size: int,
    examination: ArrayLike | None,
    no_click_logit: float,
    owner: str,
) -> ChoiceModel:
    """The choice model called ``name`` (see ``CHOICE_MODELS``); ``no_click_logit`` is for
    ``"mnl"`` and must keep its default 0 otherwise."""
    kind = CHOICE_MODELS[check_choice(name, CHOICE_MODELS, f"'choice_model' of {owner}")]
    if kind is MultinomialLogit:
        return MultinomialLogit(
            slate_size=slate_size,
            examination=examination,
            no_click_logit=no_click_logit,
            owner=owner,
        )
    if no_click_logit != 0.0:
        raise InputValueError(
            f"The 'no_click_logit' parameter of {owner} applies only to choice_model='mnl'; "
            f"got {no_click_logit!r} with choice_model={name!r}."
        )
    return kind(slate_size=slate_size, examination=examination, owner=owner)


def log_sum_exp_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(sum(exp(x), axis=1))``, computed as ``scipy.special.logsumexp`` (1.15 on) does for
    real rows, without its per-call overhead (it dominated small batches): with ``M`` the row's
    maximum, held by ``c`` entries, ``log1p(s / c) + log(c) + M`` where ``s`` sums ``exp(x - M)``
    over the other entries. Rows with a non-finite entry go to scipy.

    Parameters
    ----------
    x : ndarray of float64, shape (n, width)

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    if not np.isfinite(x).all():
        return np.asarray(logsumexp(x, axis=1), dtype=np.float64)
    top = x.max(axis=1, keepdims=True)
    is_top = x == top
    count = is_top.sum(axis=1, keepdims=True, dtype=np.float64)
    rest = np.exp(np.where(is_top, -np.inf, x) - top).sum(axis=1, keepdims=True)
    rest = np.where(rest == 0, rest, rest / count)
    return (np.log1p(rest) + np.log(count) + top)[:, 0]


def ranked_top_k(scores: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """Indices of the ``k`` highest scores per row, highest first; ``-inf`` marks what may not
    be chosen (scores are not NaN). Of tied scores the lower index comes first, and ties
    across the ``k``-th place go to the lower indices: ``np.argsort(-scores, axis=1,
    kind="stable")[:, :k]``.

    One int64 sort per row: the float64 bits of ``-scores`` (``0.0 - scores``, so that no
    ``-0.0`` is left), with the magnitude bits of negative numbers flipped, grow with
    ``-scores``; replacing their lowest ``b`` bits (``2**b >= width``) by the column gives
    keys that sort by score descending, then column, about twice as fast as a value
    partition and a mask. Scores closer than about ``2**(b - 52)`` relative share their
    truncated keys: rows where two of the first ``k + 1`` keys do (exact ties included) are
    ranked again by the stable sort, so every row is exactly the stable sort's. Widths
    beyond ``2**11`` take :func:`_ranked_top_k_by_partition`.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_requests, width)

    Returns
    -------
    ndarray of int64, shape (n_requests, k)
    """
    width = scores.shape[1]
    if k >= width:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)
    bits = max(int(width - 1).bit_length(), 1)
    if bits > 11:
        return _ranked_top_k_by_partition(scores, k)
    keys = np.subtract(0.0, scores).view(np.int64)
    flip = keys >> 63  # -1 for negative numbers, else 0
    flip &= np.iinfo(np.int64).max
    keys ^= flip
    keys &= -(1 << bits)
    keys |= np.arange(width)
    keys.sort(axis=1)
    top = keys[:, : k + 1]
    high = top >> bits
    close = (high[:, 1:] == high[:, :-1]).any(axis=1)
    out = top[:, :k] & ((1 << bits) - 1)
    if close.any():
        out[close] = np.argsort(-scores[close], axis=1, kind="stable")[:, :k]
    return out


def _ranked_top_k_by_partition(scores: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """:func:`ranked_top_k` for ``k < width``: the rows where exactly ``k`` scores reach the
    ``k``-th highest (all rows but those with a tie there) take one value partition for that
    threshold, a mask and one stable sort of the ``k`` chosen (several times faster than
    ``np.argpartition``); the others rank all their scores by a stable sort."""
    n, width = scores.shape
    threshold = np.partition(scores, width - k, axis=1)[:, width - k]
    reached = scores >= threshold[:, None]
    found = np.flatnonzero(reached)  # flat indices, ascending within each row
    if found.size != n * k:  # a tie at the k-th place: those rows by a full stable sort
        tied = reached.sum(axis=1) != k
        out = np.empty((n, k), dtype=np.int64)
        out[~tied] = _ranked_top_k_by_partition(scores[~tied], k)
        out[tied] = np.argsort(-scores[tied], axis=1, kind="stable")[:, :k]
        return out
    chosen = found.reshape(n, k)
    # Flat takes: np.take_along_axis builds broadcast index arrays, several times slower here.
    ranked = np.argsort(-np.take(scores, chosen), axis=1, kind="stable")
    ranked += (np.arange(n) * k)[:, None]
    out = np.take(chosen, ranked)
    out -= (np.arange(n) * width)[:, None]
    return out


def _check_examination(
    examination: ArrayLike | None, slate_size: int, owner: str
) -> NDArray[np.float64]:
    """The examination probabilities, shape (slate_size,), default ``1 / sqrt(1 + k)``."""
    if examination is None:
        values = 1.0 / np.sqrt(1.0 + np.arange(slate_size))
    else:
        label = f"The 'examination' parameter of {owner}"
        values = as_array(examination, label, np.float64, 1).copy()
        check_shape(values, (slate_size,), label)
        check_probability(values, label)
        rising = np.flatnonzero(np.diff(values) > 0)
        if rising.size:
            k = int(rising[0]) + 1
            raise InputValueError(
                f"{label} must be non-increasing; position {k} is {values[k].item()!r}, above "
                f"position {k - 1} at {values[k - 1].item()!r}."
            )
    values.flags.writeable = False
    return values
