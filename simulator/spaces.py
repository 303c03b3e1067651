"""The action space of the slate environments: an ordered slate of distinct candidates per row."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import MultiDiscrete
from numpy.typing import ArrayLike, NDArray

from bandits.validation import InputValueError, as_array, check_integer, check_shape


class SlateSpace(MultiDiscrete):
    """Ordered slates without repeats: int64 arrays of shape (n_requests, slate_size).

    Entry ``[i, k]`` is the index, into request ``i``'s candidates, of the item shown at
    position ``k``. Members hold indices in ``[0, max_candidates)`` with no index repeated
    within a row. The space cannot know how many candidates each request of the current
    observation has; pass the observation's candidate mask to :meth:`sample` when the count
    varies.

    Parameters
    ----------
    n_requests : int
        Requests per batch (rows).
    slate_size : int
        Positions per slate (columns); at most ``max_candidates``.
    max_candidates : int
        Width of the padded candidate arrays.
    seed : int or numpy.random.Generator, optional
        Seeds the space's own generator, used by :meth:`sample`.
    """

    def __init__(
        self,
        *,
        n_requests: int,
        slate_size: int,
        max_candidates: int,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        owner = "SlateSpace"
        self.n_requests = check_integer(n_requests, "n_requests", owner, low=1)
        self.max_candidates = check_integer(max_candidates, "max_candidates", owner, low=1)
        self.slate_size = check_integer(
            slate_size, "slate_size", owner, low=1, high=self.max_candidates
        )
        nvec = np.full((self.n_requests, self.slate_size), self.max_candidates, dtype=np.int64)
        super().__init__(nvec, dtype=np.int64, seed=seed)

    def sample(
        self, mask: ArrayLike | None = None, probability: object = None
    ) -> NDArray[np.int64]:
        """Draw one slate per row, uniformly among ordered slates of distinct allowed candidates.

        Parameters
        ----------
        mask : array-like of bool, shape (n_requests, max_candidates), optional
            True (or 1) where a candidate may be shown, e.g. the observation's candidate mask;
            every row must allow at least ``slate_size`` candidates. Default: all allowed.
        probability : None
            Not supported; present for gymnasium's signature.

        Returns
        -------
        ndarray of int64, shape (n_requests, slate_size)
        """
        if probability is not None:
            raise InputValueError("SlateSpace.sample does not support 'probability'; pass a mask.")
        shape = (self.n_requests, self.max_candidates)
        if mask is None:
            allowed = np.ones(shape, dtype=np.bool_)
        else:
            allowed = as_array(mask, "The mask of SlateSpace.sample", np.bool_, 2)
            check_shape(allowed, shape, "The mask of SlateSpace.sample")
        short = allowed.sum(axis=1) < self.slate_size
        if short.any():
            row = int(np.flatnonzero(short)[0])
            raise InputValueError(
                f"The mask of SlateSpace.sample must allow at least slate_size={self.slate_size} "
                f"candidates per row; row {row} allows {int(allowed[row].sum())}."
            )
        keys = self.np_random.random(shape)
        keys[~allowed] = np.inf
        return np.ascontiguousarray(np.argsort(keys, axis=1)[:, : self.slate_size])

    def contains(self, x: Any) -> bool:
        """True if ``x`` is an in-range int array of the right shape with distinct rows."""
        if not super().contains(x):
            return False
        ordered = np.sort(np.asarray(x), axis=1)
        return not bool((ordered[:, 1:] == ordered[:, :-1]).any())

    def __repr__(self) -> str:
        return (
            f"SlateSpace(n_requests={self.n_requests}, slate_size={self.slate_size}, "
            f"max_candidates={self.max_candidates})"
        )

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, SlateSpace) and super().__eq__(other)
