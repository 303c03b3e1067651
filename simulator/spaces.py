"""The action space of the slate environments: an ordered slate of distinct candidates per row."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from gymnasium.spaces import MultiDiscrete
from gymnasium.vector.utils import batch_space
from numpy.typing import ArrayLike, NDArray

from bandits.validation import InputValueError, as_array, check_integer, check_shape


class SlateSpace(MultiDiscrete):
    """Ordered slates without repeats: int64 arrays of shape (n_requests, slate_size), or
    (num_envs, n_requests, slate_size) for a vector environment.

    Entry ``[i, k]`` is the index, into request ``i``'s candidates, of the item shown at
    position ``k``. Members hold indices in ``[0, max_candidates)`` with no index repeated
    within a row.

    :meth:`sample` draws, per row, uniformly among the ordered slates of distinct candidates
    of that row. The environments keep ``counts`` at the candidate counts of the batch they
    serve (:meth:`set_counts`, :meth:`simulator.world.World.candidate_counts`), so a sample is
    valid for the next ``step`` and uniform over all the slates of each request. Without
    ``counts`` it draws among the first ``min_candidates`` indices, valid for any batch. A
    mask (e.g. the observation's ``candidate_ids != -1``) overrides both.

    Parameters
    ----------
    n_requests : int
        Requests per batch (rows).
    slate_size : int
        Positions per slate (columns); at most ``max_candidates``.
    max_candidates : int
        Width of the padded candidate arrays.
    min_candidates : int, optional
        Fewest candidates a request has (default ``max_candidates``), >= ``slate_size``.
    counts : array-like of int, shape (n_requests,), optional
        The candidate count of each request (row), the same in every sub-environment, in
        ``[min_candidates, max_candidates]``; :meth:`set_counts` changes it.
    seed : int or numpy.random.Generator, optional
        Seeds the space's own generator, used by :meth:`sample`.
    num_envs : int, optional
        Sub-environments of a vector environment (a leading axis).
    """

    def __init__(
        self,
        *,
        n_requests: int,
        slate_size: int,
        max_candidates: int,
        min_candidates: int | None = None,
        counts: ArrayLike | None = None,
        seed: int | np.random.Generator | None = None,
        num_envs: int | None = None,
    ) -> None:
        owner = "SlateSpace"
        self.n_requests = check_integer(n_requests, "n_requests", owner, low=1)
        self.max_candidates = check_integer(max_candidates, "max_candidates", owner, low=1)
        self.slate_size = check_integer(
            slate_size, "slate_size", owner, low=1, high=self.max_candidates
        )
        fewest = self.max_candidates if min_candidates is None else min_candidates
        self.min_candidates = check_integer(
            fewest, "min_candidates", owner, low=self.slate_size, high=self.max_candidates
        )
        if num_envs is not None:
            num_envs = check_integer(num_envs, "num_envs", owner, low=1)
        self.num_envs = num_envs
        lead = () if self.num_envs is None else (self.num_envs,)
        shape = (*lead, self.n_requests, self.slate_size)
        nvec = np.full(shape, self.max_candidates, dtype=np.int64)
        super().__init__(nvec, dtype=np.int64, seed=seed)
        self._counts: NDArray[np.int64] | None = None
        self._source: SlateSpace | None = None  # a single space whose counts this one follows
        if counts is not None:
            self.set_counts(counts)

    @property
    def counts(self) -> NDArray[np.int64] | None:
        """The candidate count of each row (of all sub-environments), or None."""
        if self._source is not None and self._source.counts is not None:
            return np.tile(self._source.counts, 1 if self.num_envs is None else self.num_envs)
        return self._counts

    def batched(self, num_envs: int) -> SlateSpace:
        """This (single) space for ``num_envs`` sub-environments stepped together, its counts
        always this space's: what gymnasium's ``batch_space`` gives for a :class:`SlateSpace`
        (``make_vec`` with ``vectorization_mode="sync"``: its sub-environments share each
        step's counts, and the first one's space follows them)."""
        if self.num_envs is not None:
            raise InputValueError("SlateSpace.batched takes a single (not a vector) space.")
        space = SlateSpace(
            n_requests=self.n_requests,
            slate_size=self.slate_size,
            max_candidates=self.max_candidates,
            min_candidates=self.min_candidates,
            seed=copy.deepcopy(self.np_random),  # as gymnasium's batch_space does
            num_envs=num_envs,
        )
        space._source = self
        return space

    def set_counts(self, counts: ArrayLike) -> None:
        """Make ``counts`` (shape (n_requests,), in ``[min_candidates, max_candidates]``) the
        candidate count of each request, in every sub-environment; the environments call it
        with each batch they serve. The space's generator is kept."""
        label = "The 'counts' parameter of SlateSpace"
        per_slot = as_array(counts, label, np.int64, 1)
        check_shape(per_slot, (self.n_requests,), label)
        bad = (per_slot < self.min_candidates) | (per_slot > self.max_candidates)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputValueError(
                f"{label} must lie in [min_candidates, max_candidates] = "
                f"[{self.min_candidates}, {self.max_candidates}]; entry {row} is "
                f"{per_slot[row]}."
            )
        copies = 1 if self.num_envs is None else self.num_envs
        tiled = np.tile(per_slot, copies)  # one per row, all envs
        tiled.flags.writeable = False
        self._counts = tiled
        self._source = None

    def sample(
        self, mask: ArrayLike | None = None, probability: object = None
    ) -> NDArray[np.int64]:
        """Draw one slate per row, uniformly among ordered slates of distinct allowed candidates.

        Parameters
        ----------
        mask : array-like of bool, shape (n_requests, max_candidates), optional
            True (or 1) where a candidate may be shown, e.g. the observation's candidate mask
            (with a leading ``num_envs`` axis in a vector space); every row must allow at least
            ``slate_size`` candidates. Default: the first ``min_candidates``.
        probability : None
            Not supported; present for gymnasium's signature.

        Returns
        -------
        ndarray of int64, shape (n_requests, slate_size), or (num_envs, n_requests, slate_size)
        """
        if probability is not None:
            raise InputValueError("SlateSpace.sample does not support 'probability'; pass a mask.")
        lead = self.shape[:-1]
        shape = (*lead, self.max_candidates)
        if mask is not None:
            label = "The mask of SlateSpace.sample"
            allowed = as_array(mask, label, np.bool_, len(shape))
            check_shape(allowed, shape, label)
            allowed = allowed.reshape(-1, self.max_candidates)
        elif self.counts is not None:
            allowed = np.arange(self.max_candidates) < self.counts[:, None]
        else:
            first = np.arange(self.max_candidates) < self.min_candidates
            allowed = np.broadcast_to(first, (int(np.prod(lead)), self.max_candidates))
        short = allowed.sum(axis=1) < self.slate_size
        if short.any():
            row = int(np.flatnonzero(short)[0])
            raise InputValueError(
                f"The mask of SlateSpace.sample must allow at least slate_size={self.slate_size} "
                f"candidates per row; row {row} allows {int(allowed[row].sum())}."
            )
        keys = self.np_random.random(allowed.shape)
        keys[~allowed] = np.inf  # a copy: the broadcast default is read-only
        slates = np.argsort(keys, axis=1)[:, : self.slate_size]
        return np.ascontiguousarray(slates.reshape(self.shape))

    def contains(self, x: Any) -> bool:
        """True if ``x`` is an in-range int array of the right shape with distinct rows."""
        if not super().contains(x):
            return False
        ordered = np.sort(np.asarray(x), axis=-1)
        return not bool((ordered[..., 1:] == ordered[..., :-1]).any())

    def __repr__(self) -> str:
        fewest = (
            ""
            if self.min_candidates == self.max_candidates
            else f", min_candidates={self.min_candidates}"
        )
        envs = "" if self.num_envs is None else f", num_envs={self.num_envs}"
        return (
            f"SlateSpace(n_requests={self.n_requests}, slate_size={self.slate_size}, "
            f"max_candidates={self.max_candidates}{fewest}{envs})"
        )

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, SlateSpace)
            and self.min_candidates == other.min_candidates
            and np.array_equal(
                np.asarray([] if self.counts is None else self.counts),
                np.asarray([] if other.counts is None else other.counts),
            )
            and super().__eq__(other)
        )


@batch_space.register(SlateSpace)
def _batch_slate_space(space: SlateSpace, n: int = 1) -> SlateSpace:
    return space.batched(n)
