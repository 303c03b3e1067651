"""Item-to-item co-click counts ("bought this, also bought") learned online from baskets, and
the cosine between items that the item-item and hybrid policies score with."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import PAD_ID, SlateObservation
from policies.keyed import IdCodes, KeyedValues, pair_keys


def distinct_per_row(ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each row's distinct ids, sorted, repeats and padding replaced by ``PAD_ID``.

    Parameters
    ----------
    ids : ndarray of int64, shape (n_rows, width)
        Item ids with ``PAD_ID`` padding anywhere.

    Returns
    -------
    ndarray of int64, shape (n_rows, width)
    """
    ordered = np.sort(ids, axis=1)
    repeat = np.zeros(ordered.shape, dtype=np.bool_)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    return np.where(repeat, PAD_ID, ordered)


def clicked_ids(
    obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
) -> NDArray[np.int64]:
    """The item id at each shown position whose reward is positive, else ``PAD_ID``; shape
    (n_requests, slate_size)."""
    shown = np.take_along_axis(obs.candidate_ids, slates, axis=1)
    return np.where(rewards > 0, shown, PAD_ID)


class CoOccurrence:
    """Co-click counts between item ids, learned from baskets, and their cosine.

    A *basket* is a request in which at least one shown item got a positive reward: its
    clicked items together with the request's history (distinct ids). With

    - ``n_i``, the number of baskets holding item ``i``, and
    - ``co(i, j)``, the number of baskets holding both ``i`` and ``j`` in which at least one
      of the two was clicked (two items that are both only history are not counted again),

    ``co(i, j) <= min(n_i, n_j)`` and ``cosine(i, j) = co(i, j) / (sqrt(n_i n_j) + shrinkage)``
    lies in [0, 1]; it is 0 for an item with itself and for items never in a basket together.
    Storage is sparse: one count per item seen in a basket and one per co-clicked pair
    (sorted int64 keys), so memory grows with the pairs actually seen.

    Parameters
    ----------
    shrinkage : float, default 0.0
        Added to the cosine's denominator, >= 0: pulls rarely seen pairs towards 0.

    Attributes
    ----------
    codes_ : IdCodes
        Dense codes of the items seen in baskets.
    basket_counts_ : ndarray of float64, shape (n_codes,)
        ``n_i`` by code.
    pair_counts_ : KeyedValues
        ``co(i, j)`` by unordered pair of codes.
    """

    def __init__(self, *, shrinkage: float = 0.0) -> None:
        self.shrinkage = shrinkage
        self.codes_ = IdCodes()
        self.basket_counts_: NDArray[np.float64] = np.zeros(0)
        self.pair_counts_ = KeyedValues()

    def learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        """Count the baskets of a batch: shown ``slates`` (n_requests, slate_size) with their
        ``rewards`` (n_requests, slate_size), a click being a reward > 0."""
        clicked = clicked_ids(obs, slates, rewards)
        rows = (clicked != PAD_ID).any(axis=1)
        if not rows.any():
            return
        clicked = clicked[rows]
        members = distinct_per_row(np.concatenate([clicked, obs.history[rows]], axis=1))
        real = members != PAD_ID
        is_clicked = (members[:, :, None] == clicked[:, None, :]).any(axis=2) & real
        codes = np.full(members.shape, -1, dtype=np.int64)
        codes[real] = self.codes_.add(members[real])
        counts = np.bincount(codes[real], minlength=len(self.codes_)).astype(np.float64)
        counts[: self.basket_counts_.size] += self.basket_counts_
        self.basket_counts_ = counts
        first, second = np.triu_indices(members.shape[1], k=1)
        counted = real[:, first] & real[:, second] & (is_clicked[:, first] | is_clicked[:, second])
        keys = pair_keys(codes[:, first][counted], codes[:, second][counted])
        self.pair_counts_.add(keys, np.ones((keys.size, 1)))

    def cosine(self, first: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.float64]:
        """``cosine(i, j)`` of item ids ``first`` and ``second`` (broadcast together); 0 for
        ``PAD_ID`` and unseen ids.

        Returns
        -------
        ndarray of float64, the broadcast shape
        """
        a, b = np.broadcast_arrays(self.codes_.encode(first), self.codes_.encode(second))
        known = (a >= 0) & (b >= 0) & (a != b)
        result = np.zeros(a.shape)
        a, b = a[known], b[known]
        together = self.pair_counts_.get(pair_keys(a, b))[:, 0]
        scale = np.sqrt(self.basket_counts_[a] * self.basket_counts_[b]) + self.shrinkage
        result[known] = np.divide(together, scale, out=np.zeros(a.size), where=together > 0)
        return result

    def history_scores(
        self, obs: SlateObservation, item_ids: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """Sum over each request's distinct history items ``h`` of ``cosine(item, h)``.

        Parameters
        ----------
        obs : SlateObservation
        item_ids : ndarray of int64, shape (n_requests, width), optional
            The items to score (default every candidate, padding included).

        Returns
        -------
        ndarray of float64, shape (n_requests, width)
            0 for a request without history.
        """
        ids = obs.candidate_ids if item_ids is None else item_ids
        history = distinct_per_row(obs.history)
        return self.cosine(ids[:, :, None], history[:, None, :]).sum(axis=2)
