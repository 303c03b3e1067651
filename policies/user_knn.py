"""User-based nearest neighbours: what similar users clicked."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import check_generator, check_integer, check_real
from policies.base import GreedyPolicy
from policies.cooccurrence import clicked_ids
from policies.item_item import MAX_SHRINKAGE
from policies.keyed import CODE_BITS, CODE_MASK, IdCodes, KeyedValues

MAX_NEIGHBOURS = 100_000
"""Largest ``k``."""

MAX_USER_ITEMS = 100_000
"""Largest ``max_user_items``."""


class UserKNN(GreedyPolicy):
    """Shows the top-k candidates by the clicks of the request's nearest users.

    Each known user (``user_ids`` other than ``PAD_ID``) has a set of items ``I_v``: the items
    clicked in their shown slates and the items of their history, as seen in updates, capped
    at the ``max_user_items`` most recent (older ones are forgotten). A request's query set
    ``Q`` is its user's set united with the request's history (so an anonymous request with a
    history also finds neighbours). The similarity to another user ``v`` is the shrunk cosine

    ``sim(Q, v) = |Q & I_v| / (sqrt(|Q| |I_v|) + shrinkage)``,

    the neighbours are the ``k`` users (never the request's own) of highest similarity among
    those sharing an item with ``Q`` (ties to the earlier-seen user), and

    ``score(c) = sum over neighbours v of sim(Q, v) * 1[c in I_v]``.

    Candidates no neighbour has are 0 and tie (ordered at random from ``rng``). Needs user
    ids, history and candidate ids. Memory: at most ``max_user_items`` entries per user seen;
    time per batch: a sparse product over the items of the query sets and the users holding
    them.

    Parameters
    ----------
    k : int, default 20
        Neighbours per request, in [1, 100000].
    shrinkage : float, default 1.0
        Added to the cosine's denominator, >= 0: favours neighbours with larger overlaps.
    max_user_items : int, default 200
        Items remembered per user, in [1, 100000] (the memory cap).
    rng : numpy.random.Generator, optional
        Breaks exact ties at random; without one, ties go to the lower index.

    Attributes
    ----------
    users_, items_ : IdCodes
        Dense codes of the user and item ids seen.
    user_items_ : KeyedValues
        Per (user code, item code) pair, the recency stamp of its latest sighting.
    """

    spec_name = "user-knn"

    def __init__(
        self,
        *,
        k: int = 20,
        shrinkage: float = 1.0,
        max_user_items: int = 200,
        rng: np.random.Generator | None = None,
    ) -> None:
        owner = type(self).__name__
        self.k = check_integer(k, "k", owner, low=1, high=MAX_NEIGHBOURS)
        self.shrinkage = check_real(shrinkage, "shrinkage", owner, low=0.0, high=MAX_SHRINKAGE)
        self.max_user_items = check_integer(
            max_user_items, "max_user_items", owner, low=1, high=MAX_USER_ITEMS
        )
        self.rng = None if rng is None else check_generator(rng, owner)
        self.users_ = IdCodes()
        self.items_ = IdCodes()
        self.user_items_ = KeyedValues()
        self._clock = 0
        self._matrix: sparse.csr_array | None = None

    def user_items(self, user_id: int) -> NDArray[np.int64]:
        """The item ids remembered for ``user_id``, sorted (empty for an unknown user)."""
        code = self.users_.encode(np.array([user_id]))[0]
        if code < 0:
            return np.empty(0, dtype=np.int64)
        keys = self.user_items_.keys_[(self.user_items_.keys_ >> CODE_BITS) == code]
        return np.sort(self.items_.decode(keys & CODE_MASK))

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        """Neighbour-weighted clicks of every candidate, shape (n_requests, max_candidates)."""
        result = np.zeros(obs.candidate_ids.shape)
        if not len(self.user_items_):
            return result
        matrix = self._click_matrix()
        users = self.users_.encode(obs.user_ids)
        query = self._query(obs, users, matrix)
        overlap = (query @ matrix.T).tocoo()
        rows, neighbours = overlap.coords
        others = neighbours != users[rows]
        rows, neighbours, shared = rows[others], neighbours[others], overlap.data[others]
        sizes = np.sqrt(np.diff(query.indptr)[rows] * np.diff(matrix.indptr)[neighbours])
        similarity = shared / (sizes + self.shrinkage)
        order = np.lexsort((neighbours, -similarity, rows))
        rows, neighbours, similarity = rows[order], neighbours[order], similarity[order]
        rank = np.arange(rows.size) - np.searchsorted(rows, rows)
        nearest = rank < self.k
        weights = sparse.csr_array(
            (similarity[nearest], (rows[nearest], neighbours[nearest])),
            shape=(obs.n_requests, matrix.shape[0]),
        )
        neighbour_clicks = (weights @ matrix).tocoo()
        width = matrix.shape[1]  # (request, item code) -> request * width + code
        stored = KeyedValues()
        clicked_rows, clicked_codes = neighbour_clicks.coords
        stored.add(clicked_rows * width + clicked_codes, neighbour_clicks.data[:, None])
        codes = self.items_.encode(obs.candidate_ids)
        known = codes >= 0
        request = np.broadcast_to(np.arange(obs.n_requests)[:, None], codes.shape)
        result[known] = stored.get(request[known] * width + codes[known])[:, 0]
        return result

    def _query(
        self, obs: SlateObservation, users: NDArray[np.int64], matrix: sparse.csr_array
    ) -> sparse.csr_array:
        """The 0/1 query sets, shape (n_requests, n_item_codes): the user's remembered items
        united with the request's history."""
        history = self.items_.encode(obs.history)
        history_rows, history_columns = np.nonzero(history >= 0)
        known = np.flatnonzero(users >= 0)
        own = matrix[users[known]].tocoo()
        rows = np.concatenate([history_rows, known[own.coords[0]]])
        columns = np.concatenate([history[history_rows, history_columns], own.coords[1]])
        query = sparse.csr_array(
            (np.ones(rows.size), (rows, columns)), shape=(obs.n_requests, matrix.shape[1])
        )
        query.sum_duplicates()
        query.data[:] = 1.0
        return query

    def _click_matrix(self) -> sparse.csr_array:
        """The 0/1 user x item matrix of the remembered sets, built once per update."""
        if self._matrix is None:
            keys = self.user_items_.keys_
            self._matrix = sparse.csr_array(
                (np.ones(keys.size), (keys >> CODE_BITS, keys & (CODE_MASK))),
                shape=(len(self.users_), len(self.items_)),
            )
        return self._matrix

    def _learn(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        known = obs.user_ids != PAD_ID
        if not known.any():
            return
        items = np.concatenate([obs.history[known], clicked_ids(obs, slates, rewards)[known]], 1)
        depth, width = obs.history.shape[1], items.shape[1]
        # history is most recent first; clicks are newer than any history item
        recency = np.concatenate([np.arange(depth)[::-1], np.arange(depth, width)])
        stamps = np.broadcast_to(self._clock + recency, items.shape)
        self._clock += width
        real = items != PAD_ID
        users = np.broadcast_to(self.users_.add(obs.user_ids[known])[:, None], items.shape)
        keys = (users[real] << CODE_BITS) | self.items_.add(items[real])
        self.user_items_.maximum(keys, stamps[real][:, None].astype(np.float64))
        self._forget_old_items()
        self._matrix = None

    def _forget_old_items(self) -> None:
        """Keep each user's ``max_user_items`` most recent items."""
        users = self.user_items_.keys_ >> CODE_BITS
        if np.bincount(users).max(initial=0) <= self.max_user_items:
            return
        order = np.lexsort((-self.user_items_.values_[:, 0], users))
        ranked_users = users[order]
        rank = np.arange(order.size) - np.searchsorted(ranked_users, ranked_users)
        keep = np.zeros(order.size, dtype=np.bool_)
        keep[order] = rank < self.max_user_items
        self.user_items_.keep(keep)
