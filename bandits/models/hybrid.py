"""The hybrid linear model (Li et al. 2010, Algorithm 2): a shared part over the joint
(context x item) features plus a per-item part over the context."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_solve, cholesky, solve_triangular

from bandits.models.disjoint import WIDTH_CHUNK_BYTES, DisjointRidge, context_rows, item_quadratic
from bandits.models.features import (
    interaction_features,
    interaction_quadratic,
    interaction_scores,
    n_interaction_features,
)
from bandits.models.ridge import check_ridge
from bandits.observation import SlateObservation
from bandits.validation import InputValueError


class HybridRidge:
    """Reward ``z . beta + x . theta_a``: ``z`` the joint features of (request, item) shared by
    all items (:func:`~bandits.models.interaction_features`, k of them), ``x = [context, 1]``
    (p) with a ``theta_a`` per item id, both with ridge priors.

    Statistics as in Li et al. (2010): per item ``A_a = ridge I + sum x x'``, ``B_a = sum x
    z'``, ``b_a = sum r x`` (``A_a^-1`` by Sherman-Morrison, see
    :class:`~bandits.models.DisjointRidge`); shared ``A_0 = ridge I + sum z z' - sum_a B_a'
    A_a^-1 B_a`` and ``b_0 = sum r z - sum_a B_a' A_a^-1 b_a`` (each batch takes the old terms
    of the items it touches out and puts their new ones in). Then ``beta = A_0^-1 b_0``,
    ``theta_a = A_a^-1 (b_a - B_a beta)``, and the variance of a score is
    ``z' A_0^-1 z - 2 z' A_0^-1 B_a' A_a^-1 x + x' A_a^-1 x + x' A_a^-1 B_a A_0^-1 B_a' A_a^-1
    x``. Unseen items share ``beta`` (so content and context score them) at the per-item prior.

    Cost: a batch's update O(u (p^2 k + p k^2) + k^3) for u items shown; scoring O(u k^2 p)
    for the u items among the candidates plus O(k p) per candidate. Memory: p k + 2 p^2 per item
    seen and k^2 shared; use it when k (n_context * n_item + n_item + 1) is moderate.

    Parameters
    ----------
    ridge : float, default 1.0
        L2 penalty (prior precision) of both parts, > 0.
    """

    def __init__(self, *, ridge: float = 1.0) -> None:
        self.ridge = check_ridge(ridge, type(self).__name__)
        self._items = DisjointRidge(ridge=self.ridge)
        self._cross = np.zeros((0, 0, 0))  # B_a per slot, (capacity, p, k)
        self._shared_gram: NDArray[np.float64] | None = None  # A_0, (k, k)
        self._shared_moment: NDArray[np.float64] | None = None  # b_0, (k,)
        self._factor: NDArray[np.float64] | None = None  # lower Cholesky factor of A_0
        self.n_samples_ = 0

    def learn(
        self,
        obs: SlateObservation,
        slates: NDArray[np.int64],
        rewards: NDArray[np.float64],
        *,
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Add the shown items of ``slates`` (n_requests, slate_size) with their rewards;
        ``weights`` must be None: the hybrid model has no weighted fit (its per-item part
        recomputes its features)."""
        if weights is not None:
            raise InputValueError(
                "The hybrid linear model cannot learn with importance weights; use "
                "model='joint' or model='disjoint' to learn off-policy."
            )
        z = interaction_features(obs, slates)  # (n, slate, k)
        k = z.shape[-1]
        self._check_width(k)
        z = z.reshape(-1, k)
        x = np.repeat(context_rows(obs), slates.shape[1], axis=0)
        y = np.asarray(rewards, dtype=np.float64).ravel()
        ids = np.take_along_axis(obs.candidate_ids, slates, axis=1).ravel()
        if self._shared_gram is None or self._shared_moment is None:
            self._shared_gram = self.ridge * np.eye(k)
            self._shared_moment = np.zeros(k)
        gram, moment = self._shared_gram, self._shared_moment
        old = np.unique(self._items.slots_of(ids))
        old = old[old > 0]
        if old.size:  # take the touched items' old terms out of the shared statistics
            correction, shift = self._item_terms(old)
            gram += correction
            moment += shift
        self._items.learn(obs, slates, y.reshape(slates.shape))
        slots = self._items.slots_of(ids)
        self._grow(self._items.capacity, x.shape[1], k)
        chunk = max(1, WIDTH_CHUNK_BYTES // (8 * x.shape[1] * k))
        for start in range(0, y.size, chunk):  # B_a += x z', in chunks of bounded memory
            rows = slice(start, start + chunk)
            np.add.at(self._cross, slots[rows], x[rows, :, None] * z[rows, None, :])
        gram += z.T @ z
        moment += z.T @ y
        correction, shift = self._item_terms(np.unique(slots))
        gram -= correction
        moment -= shift
        self._factor = None
        self.n_samples_ += y.size

    def candidate_means(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``z . beta + x . theta_a`` of every candidate, shape (n_requests, max_candidates)."""
        self._check_width(n_interaction_features(obs.n_context_features, obs.n_item_features))
        if self._shared_gram is None:
            return np.zeros(obs.candidate_ids.shape)
        return self._means(obs, self.beta_)

    def candidate_widths(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Standard deviation (in noise units) of every candidate's score, shape
        (n_requests, max_candidates)."""
        self._check_width(n_interaction_features(obs.n_context_features, obs.n_item_features))
        if self._shared_gram is None:  # the priors: |z|^2 / ridge + |x|^2 / ridge
            k = n_interaction_features(obs.n_context_features, obs.n_item_features)
            x = context_rows(obs)
            shared = interaction_quadratic(obs, np.eye(k))
            return np.sqrt((shared + (x**2).sum(axis=1)[:, None]) / self.ridge)
        k = self._shared_gram.shape[0]
        factor = (self._cholesky(), True)
        x = context_rows(obs)
        p = x.shape[1]
        used, where = self._items.items_of(obs)
        inverses = self._items.inverses(used)  # (u, p, p)
        carried = np.matmul(inverses, self._cross[used])  # A_a^-1 B_a, (u, p, k)
        columns = cho_solve(factor, carried.transpose(2, 0, 1).reshape(k, -1))  # A_0^-1 B' A^-1
        bridge = columns.reshape(k, used.size, p).transpose(1, 0, 2)  # (u, k, p)
        per_item = inverses + np.matmul(carried, bridge)  # A^-1 + A^-1 B A_0^-1 B' A^-1
        variance = (
            interaction_quadratic(obs, cho_solve(factor, np.eye(k)))
            - 2.0 * _joint_bilinear(obs, x, where, bridge)
            + item_quadratic(x, where, per_item)
        )
        return np.sqrt(np.maximum(variance, 0.0))

    def sample_candidate_scores(
        self, obs: SlateObservation, scale: float, rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """Scores of every candidate under one posterior draw per request, shape
        (n_requests, max_candidates).

        Each request draws ``beta ~ N(beta_hat, scale^2 A_0^-1)`` through the Cholesky factor
        of ``A_0``; given it, items' ``theta_a`` are independent normals with mean ``A_a^-1
        (b_a - B_a beta)`` and covariance ``scale^2 A_a^-1``, so each candidate adds its own
        ``scale * sqrt(x' A_a^-1 x) * e``. All draws come from ``rng``.
        """
        self._check_width(n_interaction_features(obs.n_context_features, obs.n_item_features))
        k = n_interaction_features(obs.n_context_features, obs.n_item_features)
        shared = rng.standard_normal((obs.n_requests, k))
        own = rng.standard_normal(obs.candidate_ids.shape)
        if self._shared_gram is None:
            betas = scale * shared / np.sqrt(self.ridge)
        else:
            upper = self._cholesky().T
            betas = self.beta_ + scale * solve_triangular(upper, shared.T, lower=False).T
        item_widths = self._items.candidate_widths(obs)
        return self._means(obs, betas) + scale * item_widths * own

    @property
    def beta_(self) -> NDArray[np.float64]:
        """The shared coefficients ``A_0^-1 b_0``, shape (k,) (zeros before any update)."""
        if self._shared_moment is None:
            raise InputValueError("HybridRidge has no shared coefficients before learning.")
        return cho_solve((self._cholesky(), True), self._shared_moment)

    def _means(self, obs: SlateObservation, betas: NDArray[np.float64]) -> NDArray[np.float64]:
        """Means given the shared coefficients: ``betas`` (k,) for all requests or
        (n_requests, k), one per request; shape (n_requests, max_candidates).

        ``theta_a(beta) = A_a^-1 b_a - (A_a^-1 B_a) beta``, so a candidate's own part is
        ``x . A_a^-1 b_a - (B_a' A_a^-1 x) . beta`` (0 before any update)."""
        if self._shared_gram is None:
            return interaction_scores(obs, betas)
        x = context_rows(obs)
        used, where = self._items.items_of(obs)
        inverses = self._items.inverses(used)
        own = np.matmul(inverses, self._items.moments(used)[:, :, None])[:, :, 0]  # (u, p)
        carried = np.matmul(inverses, self._cross[used])  # (u, p, k)
        if betas.ndim == 1:
            per_item = x @ (own - carried @ betas).T  # (n, u)
        else:
            per_item = x @ own.T - np.einsum("upk,np,nk->nu", carried, x, betas)
        return interaction_scores(obs, betas) + np.take_along_axis(per_item, where, axis=1)

    def _item_terms(
        self, slots: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``sum_a B_a' A_a^-1 B_a`` (k, k) and ``sum_a B_a' A_a^-1 b_a`` (k,) over ``slots``."""
        cross = self._cross[slots]  # (u, p, k)
        inverses = self._items.inverses(slots)
        carried = np.matmul(inverses, cross)  # (u, p, k)
        correction = np.einsum("upk,upl->kl", cross, carried)
        shift = np.einsum("upk,up->k", carried, self._items.moments(slots))
        return correction, shift

    def _cholesky(self) -> NDArray[np.float64]:
        """Lower Cholesky factor of ``A_0``, cached until the next update."""
        if self._factor is None:
            assert self._shared_gram is not None
            self._factor = cholesky(self._shared_gram, lower=True, check_finite=False)
        return self._factor

    def _check_width(self, k: int) -> None:
        if self._shared_gram is not None and k != self._shared_gram.shape[0]:
            raise InputValueError(
                f"{type(self).__name__} learned from {self._shared_gram.shape[0]} joint "
                f"features; got requests with {k}."
            )

    def _grow(self, capacity: int, p: int, k: int) -> None:
        if self._cross.shape[0] >= capacity:
            return
        cross = np.zeros((capacity, p, k))
        if self._cross.size:
            cross[: self._cross.shape[0]] = self._cross
        self._cross = cross


def _joint_bilinear(
    obs: SlateObservation,
    x: NDArray[np.float64],
    where: NDArray[np.int64],
    bridge: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``z_ic' G_{where[i, c]} x_i`` for every candidate, with ``z_ic`` the joint features
    (never materialised): ``G`` (u, k, p) splits as outer (q, d), item (d) and intercept rows,
    so the product is ``f_c . (sum_a c_ia G_outer[a] x_i + G_item x_i) + G_1 x_i``."""
    q, d = obs.n_context_features, obs.n_item_features
    u, k, p = bridge.shape
    few = u <= where.shape[1]  # then every request against each item, else its own
    per_row = k * max(where.shape[1], u) if few else k * p * where.shape[1]
    chunk = max(1, WIDTH_CHUNK_BYTES // (8 * per_row))
    result = np.empty(where.shape)
    for start in range(0, obs.n_requests, chunk):
        rows = slice(start, start + chunk)
        if few:
            applied = np.einsum("ukp,np->nuk", bridge, x[rows])
            g = np.take_along_axis(applied, where[rows, :, None], axis=1)  # (n, c, k)
        else:
            g = np.einsum("nckp,np->nck", bridge[where[rows]], x[rows])
        outer = g[:, :, : q * d].reshape(g.shape[0], g.shape[1], q, d)
        per_feature = np.einsum("ncab,na->ncb", outer, obs.context[rows]) + g[:, :, q * d : -1]
        features = obs.candidate_features[rows]
        result[rows] = np.einsum("ncb,ncb->nc", features, per_feature) + g[:, :, -1]
    return result
