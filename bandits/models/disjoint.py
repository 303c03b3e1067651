"""The disjoint linear model (Li et al. 2010): one ridge model per item id over the request's
context, kept with O(p^2) Sherman-Morrison updates."""

from __future__ import annotations

import weakref

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dger

from bandits.models.id_codes import IdCodes
from bandits.models.ridge import check_ridge
from bandits.observation import SlateObservation
from bandits.slates import take_columns
from bandits.validation import InputValueError

REFRESH_EVERY = 1000
"""Sherman-Morrison updates an item's inverse takes before it is recomputed from its Gram
matrix (keeps it symmetric positive definite over millions of updates)."""

WIDTH_CHUNK_BYTES = 64 * 2**20
"""Working memory of one chunk of requests when widths gather per-candidate inverses."""

ONE_REQUEST_PATHS = True
"""Whether an observation of one request takes the short paths below (False sends it through
the batch paths, which tests compare them to)."""

FEW_POSITIONS = 4
"""One request showing at most this many items learns item by item (:meth:`DisjointRidge.
learn`'s single-request path); more go through the vectorised batch path."""

ALL_SLOTS_FACTOR = 2
"""One request is scored against every slot in use when they are at most this many times its
candidates (one product over contiguous rows), else against its candidates' rows only."""


def context_rows(obs: SlateObservation) -> NDArray[np.float64]:
    """A per-item model's features of each request: ``[context, 1]``, shape (n_requests,
    n_context_features + 1). An item's own features are constant for that item, so in a
    per-item model they would only repeat its intercept."""
    return obs.context_with_intercept


_ItemsOf = tuple["weakref.ref[SlateObservation]", int, NDArray[np.int64], NDArray[np.int64]]
"""An observation, the number of items known then, and :meth:`DisjointRidge.items_of`."""


class DisjointRidge:
    """Ridge regression per item id on ``[context, 1]``, learned from shown positions.

    Item ``a`` keeps ``A_a = ridge I + sum z z^T``, ``b_a = sum r z``, the inverse ``A_a^-1``
    and ``theta_a = A_a^-1 b_a``. A shown item costs one rank-1 Sherman-Morrison update of its
    inverse, O(p^2) with p = n_context + 1; a batch updates only the items it shows (an item
    shown more than p / 8 times in one batch, or due for a refresh, is re-inverted from
    ``A_a`` instead, O(p^3); with fewer than 7 context features that is every item, as
    re-inverting a matrix that small costs less). Items never shown are scored by the prior
    (mean 0, width ``|z| / sqrt(ridge)``).
    Memory: two p x p matrices per item seen.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty (prior precision), > 0.

    Attributes
    ----------
    n_items_ : int
        Items seen.
    n_samples_ : int
        Shown positions learned from.
    """

    def __init__(self, *, ridge: float = 1.0) -> None:
        self.ridge = check_ridge(ridge, type(self).__name__)
        self._codes = IdCodes()  # item id -> code; an item's slot is its code + 1
        self._p: int | None = None
        self._gram = np.zeros((0, 0, 0))
        self._inverse = np.zeros((0, 0, 0))
        self._moment = np.zeros((0, 0))
        self._theta = np.zeros((0, 0))
        self._since_refresh = np.zeros(0, dtype=np.int64)
        self.n_samples_ = 0
        self._items_of: _ItemsOf | None = None  # items_of's last answer, for its observation
        # _request_slots's last answer: (items known then, candidate ids' bytes, slots)
        self._request_slots_of: tuple[int, bytes, NDArray[np.int64]] | None = None
        # _request_rows's distinct slots of those slots: (slots, distinct, candidates' index)
        self._request_used_of: tuple[NDArray[np.int64], ...] | None = None
        # _request_features's scratch: z (p,), z as a column (p, 1) and z z' (p, p), (p^2,)
        self._request_buffers: tuple[NDArray[np.float64], ...] | None = None

    @property
    def n_items_(self) -> int:
        return len(self._codes)

    def __getstate__(self) -> dict[str, object]:
        """The model without its cache of the last observation (a weak reference)."""
        caches = ("_items_of", "_request_slots_of", "_request_used_of", "_request_buffers")
        return {**self.__dict__, **dict.fromkeys(caches)}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore a pickled model (one pickled before the request caches existed too)."""
        caches = dict.fromkeys(("_request_slots_of", "_request_used_of", "_request_buffers"))
        self.__dict__.update({**caches, **state})

    def learn(
        self,
        obs: SlateObservation,
        slates: NDArray[np.int64],
        rewards: NDArray[np.float64],
        *,
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Add the shown items of ``slates`` (n_requests, slate_size) with their rewards,
        each position's squared error weighed by ``weights`` (same shape; default 1)."""
        one = ONE_REQUEST_PATHS and obs.n_requests == 1
        if one and slates.shape[1] <= FEW_POSITIONS and self._p is not None:
            z_request = self._request_features(obs)[0]
            self._learn_request(obs, z_request, slates[0], rewards, weights)
            return
        z = self._features(obs)
        k = slates.shape[1]
        ids = take_columns(obs.candidate_ids, slates).ravel()
        x = np.repeat(z, k, axis=0)  # one row per shown position, (m, p)
        y = np.asarray(rewards, dtype=np.float64).ravel()
        if weights is not None:  # weighted least squares: rows scaled by sqrt(weight)
            root = np.sqrt(np.asarray(weights, dtype=np.float64).ravel())
            x, y = x * root[:, None], y * root
        if self._p is None:
            self._p = z.shape[1]
        slots = self._codes.add(ids) + 1
        self._grow(len(self._codes) + 1)
        distinct = obs.n_requests == 1  # the items of one slate are distinct
        touched, counts, grams, moments = _sums_by_item(slots, x, y, distinct)
        self._gram[touched] += grams
        self._moment[touched] += moments
        self._since_refresh[touched] += counts
        p = x.shape[1]
        due = (counts * 8 > p) | (self._since_refresh[touched] >= REFRESH_EVERY)
        refresh = touched[due]  # re-inverting is cheaper than their rank-1 updates, or due
        if refresh.size:
            rank_one = ~np.isin(slots, refresh)
            self._sherman_morrison(slots[rank_one], x[rank_one], distinct)
        else:
            self._sherman_morrison(slots, x, distinct)
        if refresh.size:
            self._inverse[refresh] = np.linalg.inv(self._gram[refresh])
            self._since_refresh[refresh] = 0
        self._theta[touched] = np.matmul(self._inverse[touched], self._moment[touched, :, None])[
            :, :, 0
        ]
        self.n_samples_ += y.size

    def _learn_request(
        self,
        obs: SlateObservation,
        z: NDArray[np.float64],
        slate: NDArray[np.int64],
        rewards: NDArray[np.float64],
        weights: NDArray[np.float64] | None,
    ) -> None:
        """:meth:`learn` for one request (``z`` (p,), ``slate`` (k,) distinct indices), item
        by item in place, with the batch path's arithmetic: O(p^2) per shown item and no
        per-batch grouping."""
        y = np.asarray(rewards, dtype=np.float64).ravel().tolist()  # floats: the same products
        slots = self._request_slots(obs)[slate].tolist()
        if 0 in slots:  # an item shown for the first time: give it a slot
            slots = (self._codes.add(obs.candidate_ids[0, slate]) + 1).tolist()
            self._grow(len(self._codes) + 1)
        p = z.size
        gram, inverse, moment = self._gram, self._inverse, self._moment
        since_refresh = self._since_refresh
        for j, slot in enumerate(slots):
            x, r = z, y[j]
            if weights is not None:
                root = np.sqrt(np.asarray(weights, dtype=np.float64).ravel()[j])
                x, r = z * root, r * root
            add_outer(gram[slot], 1.0, x)
            moment[slot] += r * x
            since = int(since_refresh[slot]) + 1
            if 8 > p or since >= REFRESH_EVERY:  # as the batch path: re-invert
                inverse[slot] = np.linalg.inv(gram[slot])
                since = 0
            else:
                self._rank_one(slot, x)
            since_refresh[slot] = since
            np.dot(inverse[slot], moment[slot], out=self._theta[slot])
        self.n_samples_ += len(y)

    def candidate_means(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``theta_a . z`` of every candidate, shape (n_requests, max_candidates)."""
        z = self._features(obs)
        if self._p is None:
            return np.zeros(obs.candidate_ids.shape)
        if ONE_REQUEST_PATHS and obs.n_requests == 1:
            return self._of_request(obs, self._theta, z[0])[None]
        used, where = self.items_of(obs)
        if used.size <= where.shape[1]:  # few items: every request times each of them
            return take_columns(z @ self._theta[used].T, where)
        return np.einsum("np,ncp->nc", z, self._theta[used][where])

    def candidate_widths(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(z' A_a^-1 z)`` of every candidate, shape (n_requests, max_candidates)."""
        z = self._features(obs)
        if self._p is None:
            norms = np.linalg.norm(z, axis=1) / np.sqrt(self.ridge)
            return np.repeat(norms[:, None], obs.max_candidates, axis=1)
        if ONE_REQUEST_PATHS and obs.n_requests == 1:
            pairs = (z[0, :, None] * z[0, None, :]).ravel()  # z z' flattened, (p^2,)
            flat = self._inverse.reshape(self._inverse.shape[0], -1)
            return np.sqrt(np.maximum(self._of_request(obs, flat, pairs), 0.0))[None]
        used, where = self.items_of(obs)
        return np.sqrt(np.maximum(item_quadratic(z, where, self._inverse[used]), 0.0))

    def candidate_bounds(self, obs: SlateObservation, scale: float) -> NDArray[np.float64]:
        """``mean + scale * width`` of every candidate (LinUCB's scores), shape (n_requests,
        max_candidates): the same numbers as from :meth:`candidate_means` and
        :meth:`candidate_widths`, one request scored in one pass over its slots."""
        if not (ONE_REQUEST_PATHS and obs.n_requests == 1 and self._p is not None):
            return self.candidate_means(obs) + scale * self.candidate_widths(obs)
        z, column, square, pairs = self._request_features(obs)
        rows, index = self._request_rows(obs)
        theta, inverse = self._theta[rows], self._inverse[rows]
        np.multiply(column, z, out=square)  # z z', seen flat as pairs
        bounds = np.dot(inverse.reshape(theta.shape[0], -1), pairs)  # z' A^-1 z per slot
        np.maximum(bounds, 0.0, out=bounds)  # then in place, as mean + scale * width:
        np.sqrt(bounds, out=bounds)
        if scale != 1.0:  # (1.0 * width is width)
            bounds *= scale
        bounds += np.dot(theta, z)
        return bounds[index][None]

    def sample_candidate_scores(
        self, obs: SlateObservation, scale: float, rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """Scores of every candidate under one posterior draw per request, shape
        (n_requests, max_candidates).

        Items' posteriors are independent and a request shows each item once, so drawing
        ``theta_a ~ N(theta_a, scale^2 A_a^-1)`` and scoring ``z . theta_a`` is exactly
        ``mean + scale * width * e`` with ``e ~ N(0, 1)`` per candidate, drawn from ``rng``.
        """
        noise = rng.standard_normal(obs.candidate_ids.shape)
        return self.candidate_means(obs) + scale * self.candidate_widths(obs) * noise

    def items_of(self, obs: SlateObservation) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The slots of the items among ``obs``'s candidates, (u,) with 0 (the prior) for
        unseen ones, and each candidate's index into them, (n_requests, max_candidates)."""
        known = len(self._codes)  # slots change only when items are added
        cached = self._items_of
        if cached is not None and cached[0]() is obs and cached[1] == known:
            return cached[2], cached[3]
        slots = self._slot(obs.candidate_ids)
        used, where = np.unique(slots, return_inverse=True)
        where = where.reshape(slots.shape)
        self._items_of = (weakref.ref(obs), known, used, where)
        return used, where

    def _of_request(
        self, obs: SlateObservation, table: NDArray[np.float64], vector: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """``table[slot] . vector`` for the slot of each candidate of a one-request ``obs``,
        shape (max_candidates,): ``table`` (capacity, m) holds a row per slot (``theta``, or
        ``A^-1`` flattened), ``vector`` is (m,)."""
        rows, index = self._request_rows(obs)
        return np.dot(table[rows], vector)[index]

    def _request_rows(
        self, obs: SlateObservation
    ) -> tuple[slice | NDArray[np.int64], NDArray[np.int64]]:
        """The rows of the per-slot tables to multiply for a one-request ``obs`` and, per
        candidate, its result's place among them, (max_candidates,): every slot in use when
        they are few against the candidates (one product over contiguous rows), else each
        slot among the candidates once. Either way a slot is computed once, so candidates
        sharing one (unseen items, at the prior) get bit-identical scores and stay tied."""
        slots = self._request_slots(obs)
        known = len(self._codes) + 1
        if known <= ALL_SLOTS_FACTOR * slots.size:
            return slice(0, known), slots
        cached = self._request_used_of
        if cached is None or cached[0] is not slots:
            used, where = np.unique(slots, return_inverse=True)
            cached = self._request_used_of = (slots, used, where.reshape(slots.shape))
        return cached[1], cached[2]

    def _request_slots(self, obs: SlateObservation) -> NDArray[np.int64]:
        """Slots of the candidates of a one-request ``obs``, (max_candidates,), remembered
        for the last candidate set (requests often share one) until an item is added."""
        ids = obs.candidate_ids[0]
        key = ids.tobytes()
        known = len(self._codes)
        cached = self._request_slots_of
        if cached is not None and cached[0] == known and cached[1] == key:
            return cached[2]
        slots = self._slot(ids)
        self._request_slots_of = (known, key, slots)
        return slots

    def _slot(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slots of item ``ids``: 1 + their code, 0 (the prior) for items never shown."""
        return self._codes.encode(ids) + 1

    def slots_of(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slots of item ``ids`` (0 for items never shown), same shape."""
        return self._slot(ids)

    def inverses(self, slots: NDArray[np.int64]) -> NDArray[np.float64]:
        """``A_a^-1`` of the items in ``slots``, shape (*slots.shape, p, p)."""
        return self._inverse[slots]

    def moments(self, slots: NDArray[np.int64]) -> NDArray[np.float64]:
        """``b_a`` of the items in ``slots``, shape (*slots.shape, p)."""
        return self._moment[slots]

    @property
    def capacity(self) -> int:
        """Rows of the per-item arrays (slots below it are valid)."""
        return int(self._gram.shape[0])

    def _sherman_morrison(
        self, slots: NDArray[np.int64], x: NDArray[np.float64], distinct: bool
    ) -> None:
        """Rank-1 updates ``A^-1 <- A^-1 - (A^-1 x)(A^-1 x)' / (1 + x' A^-1 x)`` in rounds:
        round r takes each item's r-th row, so the items of a round are distinct and update
        together (one round if the ``slots`` are known to be ``distinct``)."""
        if slots.size == 0:
            return
        if distinct:
            rounds = [np.arange(slots.size)]
        else:
            order, starts = _groups(slots)
            rank = np.arange(slots.size) - np.repeat(starts, np.diff(np.r_[starts, slots.size]))
            rounds = [order[rank == r] for r in range(int(rank.max()) + 1)]
        for rows in rounds:
            s, v = slots[rows], x[rows]
            inverse = self._inverse[s]
            av = np.einsum("spq,sq->sp", inverse, v)
            denominator = 1.0 + np.einsum("sp,sp->s", v, av)
            self._inverse[s] = (
                inverse - av[:, :, None] * av[:, None, :] / denominator[:, None, None]
            )

    def _rank_one(self, slot: int, x: NDArray[np.float64]) -> None:
        """One Sherman-Morrison update of the inverse of item ``slot`` by row ``x`` (p,), in
        place (:meth:`_sherman_morrison` for a single row). ``np.dot`` rather than ``@`` here
        and in the other one-request paths: the same BLAS call with less overhead."""
        inverse = self._inverse[slot]  # a view
        av = np.dot(inverse, x)
        add_outer(inverse, -1.0 / (1.0 + float(x.dot(av))), av)

    def _request_features(self, obs: SlateObservation) -> tuple[NDArray[np.float64], ...]:
        """``[context, 1]`` of a one-request ``obs`` once a model has learned (the values of
        ``context_rows(obs)[0]``), written into scratch arrays the model reuses, so valid
        until its next call: z (p,), z as a column (p, 1), and room for z z' (p, p) with its
        flat view (p^2,)."""
        context = obs.context[0]
        buffers = self._request_buffers
        if buffers is None or buffers[0].shape[0] != context.shape[0] + 1:
            p = self._features(obs).shape[1]  # (an error if p is not this model's)
            square = np.empty((p, p))
            z = np.empty(p)
            buffers = self._request_buffers = (z, z[:, None], square, square.reshape(-1))
        z = buffers[0]
        z[:-1] = context
        z[-1] = 1.0
        return buffers

    def _features(self, obs: SlateObservation) -> NDArray[np.float64]:
        z = context_rows(obs)
        if self._p is not None and z.shape[1] != self._p:
            raise InputValueError(
                f"{type(self).__name__} learned from {self._p - 1} context features; got "
                f"requests with {z.shape[1] - 1}."
            )
        return z

    def _grow(self, needed: int) -> None:
        """Room for ``needed`` slots (slot 0 the prior), doubling the arrays when full."""
        assert self._p is not None  # set by the first learn
        p = self._p
        capacity = self._gram.shape[0]
        if needed <= capacity:
            return
        size = max(needed, 2 * capacity, 16)
        eye = np.eye(p)
        gram = np.broadcast_to(self.ridge * eye, (size, p, p)).copy()
        inverse = np.broadcast_to(eye / self.ridge, (size, p, p)).copy()
        moment, theta = np.zeros((size, p)), np.zeros((size, p))
        since = np.zeros(size, dtype=np.int64)
        if capacity:
            gram[:capacity], inverse[:capacity] = self._gram, self._inverse
            moment[:capacity], theta[:capacity] = self._moment, self._theta
            since[:capacity] = self._since_refresh
        self._gram, self._inverse, self._moment, self._theta = gram, inverse, moment, theta
        self._since_refresh = since


def add_outer(matrix: NDArray[np.float64], scale: float, v: NDArray[np.float64]) -> None:
    """``matrix += scale * v v'`` in place by one BLAS rank-1 update (``dger``, on the
    transpose: ``matrix`` (p, p) is symmetric and C-contiguous, so its transpose is the
    Fortran-ordered array BLAS updates without a copy); ``v`` is (p,)."""
    assert matrix.flags.c_contiguous and matrix.flags.writeable  # else dger would copy
    dger(scale, v, v, a=matrix.T, overwrite_a=True)


def _sums_by_item(
    slots: NDArray[np.int64], x: NDArray[np.float64], y: NDArray[np.float64], distinct: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Per item of ``slots`` (m,): the item slots (u,), their row counts (u,), ``sum x x'``
    (u, p, p) and ``sum y x`` (u, p) over their rows of ``x`` (m, p) and ``y`` (m,)."""
    if distinct:
        return (
            slots,
            np.ones(slots.size, dtype=np.int64),
            x[:, :, None] * x[:, None, :],
            y[:, None] * x,
        )
    order, starts = _groups(slots)
    xs = x[order]
    grams = np.add.reduceat(xs[:, :, None] * xs[:, None, :], starts, axis=0)
    moments = np.add.reduceat(y[order, None] * xs, starts, axis=0)
    return slots[order][starts], np.diff(np.r_[starts, slots.size]), grams, moments


def _groups(slots: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The rows of ``slots`` (m,) grouped by slot: a stable sorting order (m,) and where each
    group starts in it (u,)."""
    order = np.argsort(slots, kind="stable")
    ordered = slots[order]
    return order, np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])


def item_quadratic(
    z: NDArray[np.float64], where: NDArray[np.int64], matrices: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``z_i' M_{where[i, c]} z_i`` for every request ``i`` and candidate ``c``.

    Parameters
    ----------
    z : ndarray of float64, shape (n_requests, p)
    where : ndarray of int64, shape (n_requests, max_candidates)
        Index of each candidate's matrix.
    matrices : ndarray of float64, shape (u, p, p)

    Returns
    -------
    ndarray of float64, shape (n_requests, max_candidates)
    """
    n, width = where.shape
    p = z.shape[1]
    pairs = (z[:, :, None] * z[:, None, :]).reshape(n, p * p)  # z z' flattened, (n, p^2)
    flat = matrices.reshape(matrices.shape[0], p * p)
    if matrices.shape[0] <= width:  # few matrices: one product, every request x each of them
        return take_columns(pairs @ flat.T, where)
    quadratic = np.empty(where.shape)  # many: each request its own, in bounded chunks
    chunk = max(1, WIDTH_CHUNK_BYTES // (8 * p * p * width))
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        quadratic[rows] = np.einsum("nk,nck->nc", pairs[rows], flat[where[rows]])
    return quadratic
