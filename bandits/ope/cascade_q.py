"""Cascade DR's ``Q`` functions fitted backwards (Kiyohara et al. 2022, Section 3.1), as a ridge
regression whose statistics are sums, so they stream and merge across partitions.

``Q_k(x, s_1..s_k)`` predicts the reward from position ``k`` to the bottom of the slate when
the target fills the positions below ``k``. It is fitted from the last position up: ``Q_K``
regresses ``r_K`` on the logged prefix, and ``Q_k`` regresses

    y_k = r_k + sum_c pi(c at k+1 | x, s_1..s_k) Q_k+1(x, s_1..s_k, c)

(the target's expected ``Q_k+1`` over its choice below the logged prefix). With a linear
``Q_k = theta_k . phi_k`` the target is linear in ``theta_k+1``:
``y_k = r_k + theta_k+1 . phibar_k+1`` with ``phibar_k+1 = sum_c pi(c | ...) phi_k+1(x, s_1..s_k,
c)``, so the ridge solutions, taken backwards,

    theta_K = (ridge I + A_K)^-1 b_K,    theta_k = (ridge I + A_k)^-1 (b_k + C_k theta_k+1),

need only ``A_k = sum phi_k phi_k'``, ``b_k = sum phi_k r_k`` and ``C_k = sum phi_k phibar_k+1'``
over the rows: one pass, flat memory, exact merges, and the same ``theta`` as fitting the
positions one after another on all rows at once (up to rounding).

Features ``phi_k(x, s_1..s_k-1, c)``: the kernel's joint features of the context and the item
``c`` (:func:`bandits.models.interaction_features`: ``context (x) item``, item, 1) and the sum
of the item features of the logged items above ``k`` (zero at the top), so a ``Q`` can fall
with what was shown above (a cascade). One ``theta_k`` per position.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.models import interaction_features
from bandits.ope.crossfit import Folds
from bandits.validation import InputValueError, check_real


def prefix_item_sums(log: LoggedBandit) -> NDArray[np.float64]:
    """The sum of the item features of the logged items above each position, shape
    (n_requests, slate_size, n_item_features) (zero at the top)."""
    obs = log.observation
    items = obs.items.features[np.take_along_axis(obs.candidate_rows, log.slates, axis=1)]
    sums = np.zeros_like(items, dtype=np.float64)
    np.cumsum(items[:, :-1], axis=1, out=sums[:, 1:])
    return sums


def q_features(log: LoggedBandit) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The two parts of ``phi_k(x, s_1..s_k-1, c)``: every candidate's joint features with
    the context, shape (n_requests, max_candidates, p0), and :func:`prefix_item_sums`, shape
    (n_requests, slate_size, n_item_features)."""
    return interaction_features(log.observation), prefix_item_sums(log)


class BackwardQ:
    """The backward-fitted linear ``Q`` of one target (see the module notes).

    Parameters
    ----------
    ridge : float > 0
    """

    def __init__(self, ridge: float = 1.0) -> None:
        self.ridge = check_real(ridge, "ridge", "BackwardQ", low=0.0, low_open=True)
        self.A_: NDArray[np.float64] | None = None  # (K, p, p)
        self.b_: NDArray[np.float64] | None = None  # (K, p)
        self.C_: NDArray[np.float64] | None = None  # (K, p, p); C_[K-1] stays 0
        self.theta_: NDArray[np.float64] | None = None  # (K, p)

    def fresh(self) -> BackwardQ:
        return BackwardQ(self.ridge)

    def learn(
        self,
        log: LoggedBandit,
        conditional: NDArray[np.float64],
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Add a batch's rows; ``conditional`` (n_requests, max_candidates, slate_size) is the
        target's probability of each candidate at each position given the logged items above
        it (0 on padding and on the items above); ``weights`` (n_requests, slate_size), if
        given, weigh each row's regression at each position (obp's ``fitting_method="iw"``:
        the prefix importance weights)."""
        if len(log) == 0:
            return
        joint, prefix = q_features(log)  # (n, width, p0), (n, K, d)
        size = log.slate_size
        shown = np.take_along_axis(joint, log.slates[:, :, None], axis=1)  # (n, K, p0)
        phi = np.concatenate([shown, prefix], axis=2)  # (n, K, p)
        mass = conditional.sum(axis=1)  # (n, K)
        expected = np.concatenate(
            [np.einsum("nck,ncp->nkp", conditional, joint), mass[:, :, None] * prefix], axis=2
        )  # phibar at each position, (n, K, p)
        p = phi.shape[2]
        if self.A_ is None or self.b_ is None or self.C_ is None:
            self.A_, self.b_ = np.zeros((size, p, p)), np.zeros((size, p))
            self.C_ = np.zeros((size, p, p))
        elif self.A_.shape != (size, p, p):
            raise InputValueError(
                f"BackwardQ learned {self.A_.shape[0]} positions of {self.A_.shape[1]} features; "
                f"this batch has {size} of {p}."
            )
        weighted = phi if weights is None else phi * weights[:, :, None]
        self.A_ += np.einsum("nkp,nkq->kpq", weighted, phi)
        self.b_ += np.einsum("nkp,nk->kp", weighted, log.rewards)
        self.C_[:-1] += np.einsum("nkp,nkq->kpq", weighted[:, :-1], expected[:, 1:])

    def merge(self, other: BackwardQ) -> None:
        """Add what ``other`` (a fresh copy that learned other rows) learned."""
        if other.A_ is None or other.b_ is None or other.C_ is None:
            return
        if self.A_ is None or self.b_ is None or self.C_ is None:
            self.A_, self.b_, self.C_ = other.A_.copy(), other.b_.copy(), other.C_.copy()
            return
        self.A_ += other.A_
        self.b_ += other.b_
        self.C_ += other.C_

    def finish(self) -> None:
        """Solve for ``theta`` from the last position up."""
        if self.A_ is None or self.b_ is None or self.C_ is None:
            self.theta_ = None
            return
        size, p = self.b_.shape
        theta = np.zeros((size, p))
        below = np.zeros(p)
        for k in range(size - 1, -1, -1):
            system = self.A_[k] + self.ridge * np.eye(p)
            theta[k] = np.linalg.solve(system, self.b_[k] + self.C_[k] @ below)
            below = theta[k]
        self.theta_ = theta

    def predict(self, log: LoggedBandit) -> NDArray[np.float64]:
        """``Q_k(x, s_1..s_k-1, c)`` of every candidate ``c`` at every position ``k`` below
        the logged items above it, shape (n_requests, max_candidates, slate_size); 0 before
        any row was learned."""
        obs = log.observation
        if self.theta_ is None:
            return np.zeros((obs.n_requests, obs.max_candidates, log.slate_size))
        joint, prefix = q_features(log)
        p0 = joint.shape[2]
        theta = self.theta_
        if theta.shape != (log.slate_size, p0 + prefix.shape[2]):
            raise InputValueError(
                f"BackwardQ was fitted on {theta.shape[0]} positions of {theta.shape[1]} "
                f"features; this batch has {log.slate_size} of {p0 + prefix.shape[2]}."
            )
        items = np.einsum("ncp,kp->nck", joint, theta[:, :p0])
        above = np.einsum("nkd,kd->nk", prefix, theta[:, p0:])
        return items + above[:, None, :]


class CrossFittedQ(Folds):
    """``folds`` backward ``Q`` fits of one target, each learning the rows outside its fold
    (:class:`~bandits.ope.crossfit.Folds`), so a row's ``Q`` never saw its rewards.

    Parameters
    ----------
    prototype : BackwardQ or RegressorBackwardQ
        Unfitted; each fold gets a ``fresh`` copy.
    folds : int >= 2
    salt : int
    """

    def learn(
        self,
        log: LoggedBandit,
        conditional: NDArray[np.float64],
        weights: NDArray[np.float64] | None = None,
    ) -> None:
        """Give each fit this batch's rows outside its fold, or ``shared`` every row
        (``conditional`` and ``weights`` as :meth:`BackwardQ.learn` takes them)."""
        if self.shared is not None:
            self.shared.learn_in_folds(log, conditional, weights, self.fold_of(log))
            return
        for model, rows in self.outside(log):
            if rows is None:
                model.learn(log, conditional, weights)
            else:
                chosen = None if weights is None else weights[rows]
                model.learn(log.take(rows), conditional[rows], chosen)

    def predict(self, log: LoggedBandit) -> NDArray[np.float64]:
        """Every row's ``Q`` from the fit that did not learn it, shape (n_requests,
        max_candidates, slate_size)."""
        obs = log.observation
        result = np.zeros((obs.n_requests, obs.max_candidates, log.slate_size))
        for model, rows in self.inside(log):
            result[rows] = model.predict(log.take(rows))
        return result
