"""The disjoint linear model (Li et al. 2010): one ridge model per item id over the request's
context, kept with O(p^2) Sherman-Morrison updates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.models.item_slots import ItemSlots
from bandits.models.ridge import check_ridge
from bandits.observation import SlateObservation
from bandits.validation import InputValueError

REFRESH_EVERY = 1000
"""Sherman-Morrison updates an item's inverse takes before it is recomputed from its Gram
matrix (keeps it symmetric positive definite over millions of updates)."""

WIDTH_CHUNK_BYTES = 64 * 2**20
"""Working memory of one chunk of requests when widths gather per-candidate inverses."""


def context_rows(obs: SlateObservation) -> NDArray[np.float64]:
    """A per-item model's features of each request: ``[context, 1]``, shape (n_requests,
    n_context_features + 1). An item's own features are constant for that item, so in a
    per-item model they would only repeat its intercept."""
    return np.concatenate([obs.context, np.ones((obs.n_requests, 1))], axis=1)


class DisjointRidge:
    """Ridge regression per item id on ``[context, 1]``, learned from shown positions.

    Item ``a`` keeps ``A_a = ridge I + sum z z^T``, ``b_a = sum r z``, the inverse ``A_a^-1``
    and ``theta_a = A_a^-1 b_a``. A shown item costs one rank-1 Sherman-Morrison update of its
    inverse, O(p^2) with p = n_context + 1; a batch updates only the items it shows (an item
    shown more than p / 8 times in one batch, or due for a refresh, is re-inverted from
    ``A_a`` instead, O(p^3)). Items never shown are scored by the prior (mean 0, width
    ``|z| / sqrt(ridge)``).
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
        self._slots = ItemSlots()
        self._p: int | None = None
        self._gram = np.zeros((0, 0, 0))
        self._inverse = np.zeros((0, 0, 0))
        self._moment = np.zeros((0, 0))
        self._theta = np.zeros((0, 0))
        self._since_refresh = np.zeros(0, dtype=np.int64)
        self.n_samples_ = 0

    @property
    def n_items_(self) -> int:
        return self._slots.n_seen

    def learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        """Add the shown items of ``slates`` (n_requests, slate_size) with their rewards."""
        z = self._features(obs)
        k = slates.shape[1]
        ids = np.take_along_axis(obs.candidate_ids, slates, axis=1).ravel()
        x = np.repeat(z, k, axis=0)  # one row per shown position, (m, p)
        y = np.asarray(rewards, dtype=np.float64).ravel()
        if self._p is None:
            self._p = z.shape[1]
        slots = self._slots.add(ids)
        self._grow(self._slots.n_seen + 1)
        order = np.argsort(slots, kind="stable")
        sorted_slots = slots[order]
        starts = np.flatnonzero(np.r_[True, sorted_slots[1:] != sorted_slots[:-1]])
        touched = sorted_slots[starts]
        counts = np.diff(np.r_[starts, slots.size])
        xs = x[order]
        self._gram[touched] += np.add.reduceat(xs[:, :, None] * xs[:, None, :], starts, axis=0)
        self._moment[touched] += np.add.reduceat(y[order, None] * xs, starts, axis=0)
        self._since_refresh[touched] += counts
        p = x.shape[1]
        due = (counts * 8 > p) | (self._since_refresh[touched] >= REFRESH_EVERY)
        refresh = touched[due]  # re-inverting is cheaper than their rank-1 updates, or due
        rank_one = ~np.isin(slots, refresh)
        self._sherman_morrison(slots[rank_one], x[rank_one])
        if refresh.size:
            self._inverse[refresh] = np.linalg.inv(self._gram[refresh])
            self._since_refresh[refresh] = 0
        self._theta[touched] = np.matmul(self._inverse[touched], self._moment[touched, :, None])[
            :, :, 0
        ]
        self.n_samples_ += y.size

    def candidate_means(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``theta_a . z`` of every candidate, shape (n_requests, max_candidates)."""
        z = self._features(obs)
        if self._p is None:
            return np.zeros(obs.candidate_ids.shape)
        theta = self._theta[self._slots.lookup(obs.candidate_ids)]
        return np.einsum("np,ncp->nc", z, theta)

    def candidate_widths(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``sqrt(z' A_a^-1 z)`` of every candidate, shape (n_requests, max_candidates)."""
        z = self._features(obs)
        if self._p is None:
            norms = np.linalg.norm(z, axis=1) / np.sqrt(self.ridge)
            return np.repeat(norms[:, None], obs.max_candidates, axis=1)
        slots = self._slots.lookup(obs.candidate_ids)
        used, where = np.unique(slots, return_inverse=True)
        where = where.reshape(slots.shape)
        if used.size <= obs.max_candidates:  # few items: every request against each of them
            per_item = (np.matmul(z, self._inverse[used]) * z).sum(axis=2)  # (items, requests)
            quadratic = np.take_along_axis(per_item.T, where, axis=1)
        else:  # many items: each request against its own candidates, in bounded chunks
            quadratic = np.empty(slots.shape)
            p = z.shape[1]
            chunk = max(1, WIDTH_CHUNK_BYTES // (8 * p * p * obs.max_candidates))
            for start in range(0, obs.n_requests, chunk):
                rows = slice(start, start + chunk)
                inverses = self._inverse[slots[rows]]
                quadratic[rows] = np.einsum("np,ncpq,nq->nc", z[rows], inverses, z[rows])
        return np.sqrt(np.maximum(quadratic, 0.0))

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

    def _sherman_morrison(self, slots: NDArray[np.int64], x: NDArray[np.float64]) -> None:
        """Rank-1 updates ``A^-1 <- A^-1 - (A^-1 x)(A^-1 x)' / (1 + x' A^-1 x)`` in rounds:
        round r takes each item's r-th row, so the items of a round are distinct and update
        together."""
        if slots.size == 0:
            return
        order = np.argsort(slots, kind="stable")
        sorted_slots = slots[order]
        starts = np.flatnonzero(np.r_[True, sorted_slots[1:] != sorted_slots[:-1]])
        rank = np.arange(slots.size) - np.repeat(starts, np.diff(np.r_[starts, slots.size]))
        for r in range(int(rank.max()) + 1):
            rows = order[rank == r]
            s, v = slots[rows], x[rows]
            inverse = self._inverse[s]
            av = np.einsum("spq,sq->sp", inverse, v)
            denominator = 1.0 + np.einsum("sp,sp->s", v, av)
            self._inverse[s] = (
                inverse - av[:, :, None] * av[:, None, :] / denominator[:, None, None]
            )

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
