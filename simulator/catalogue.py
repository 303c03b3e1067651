"""The catalogue: items with latent factors and biases, some live from the start, others
arriving on a schedule and retiring after a lifetime (cold start)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.items import ALWAYS_FROM, ALWAYS_UNTIL, ItemTable
from bandits.validation import check_integer, check_real

MAX_SCALE = 1e6
"""Largest bias scale: beyond it logits stop being meaningful numbers."""


def latent_scale(n_latent: int) -> float:
    """Standard deviation of tastes and item factors, ``(2 sqrt(d))**-0.5``, so that ``theta .
    phi`` has standard deviation 1/2 whatever ``d``."""
    return float((2.0 * np.sqrt(n_latent)) ** -0.5)


class Catalogue:
    """Items ``0 .. n_items - 1`` of each world: factors ``phi_i ~ N(0, I / (2 sqrt(d)))``
    (the candidates' features) and biases ``b_i ~ N(0, bias_scale**2)`` (popularity, quality).

    Items ``0 .. initial_items - 1`` are live always. The others arrive in order,
    ``items_per_step`` at the start of each step from step 1 (item ``initial_items + j`` at
    step ``1 + j // items_per_step``), and retire ``item_lifetime`` steps later (never, if 0).
    So the live items are the initial ones plus one contiguous run of the later ones, and a
    live item is found from its rank among them in O(1).

    Parameters
    ----------
    n_items, n_latent : int
    bias_scale : float
    initial_items : int, optional
        Default ``n_items`` (no arrivals).
    items_per_step, item_lifetime : int
    owner : str
        Named in error messages.

    Attributes
    ----------
    factors_ : ndarray of float64, shape (n_worlds * n_items, n_latent)
    biases_ : ndarray of float64, shape (n_worlds * n_items,)
        World ``w``'s item ``i`` is row ``w * n_items + i``.
    """

    def __init__(
        self,
        *,
        n_items: int,
        n_latent: int,
        bias_scale: float,
        initial_items: int | None = None,
        items_per_step: int = 0,
        item_lifetime: int = 0,
        owner: str = "Catalogue",
    ) -> None:
        self.n_items = check_integer(n_items, "n_items", owner, low=1)
        self.n_latent = check_integer(n_latent, "n_latent", owner, low=1)
        self.bias_scale = check_real(bias_scale, "item_bias_scale", owner, low=0.0, high=MAX_SCALE)
        initial = self.n_items if initial_items is None else initial_items
        self.initial_items = check_integer(initial, "initial_items", owner, low=1, high=n_items)
        arriving = self.n_items > self.initial_items
        self.items_per_step = check_integer(
            items_per_step, "items_per_step", owner, low=1 if arriving else 0
        )
        self.item_lifetime = check_integer(item_lifetime, "item_lifetime", owner, low=0)
        self.factors_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.biases_: NDArray[np.float64] = np.zeros(0)

    def reset(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Draw the items of ``n_worlds`` worlds."""
        size = n_worlds * self.n_items
        self.factors_ = rng.normal(0.0, latent_scale(self.n_latent), (size, self.n_latent))
        self.biases_ = rng.normal(0.0, self.bias_scale, size)

    def valid_from(self) -> NDArray[np.int64]:
        """First step each item (of one world) is live, shape (n_items,)."""
        later = np.arange(self.n_items - self.initial_items)
        arrival = 1 + later // max(self.items_per_step, 1)
        return np.concatenate([np.full(self.initial_items, ALWAYS_FROM), arrival])

    def valid_until(self) -> NDArray[np.int64]:
        """First step each item (of one world) is no longer live, shape (n_items,)."""
        until = np.full(self.n_items, ALWAYS_UNTIL)
        if self.item_lifetime:
            until[self.initial_items :] = (
                self.valid_from()[self.initial_items :] + self.item_lifetime
            )
        return until

    def _run(self, time: int) -> tuple[int, int]:
        """The later items live at ``time``: ranks ``first .. stop - 1`` among them."""
        later = self.n_items - self.initial_items
        stop = min(later, max(time, 0) * self.items_per_step)
        first = 0
        if self.item_lifetime:
            first = min(stop, max(time - self.item_lifetime, 0) * self.items_per_step)
        return first, stop

    def n_live(self, time: int) -> int:
        """Number of live items of each world at step ``time``."""
        first, stop = self._run(time)
        return self.initial_items + stop - first

    def live_items(self, ranks: NDArray[np.int64], time: int) -> NDArray[np.int64]:
        """The item (of one world) of each rank among the live ones, ranks in ``[0,
        n_live(time))``, same shape."""
        first, _ = self._run(time)
        if first == 0:  # the live items are the first ones
            return ranks.copy()
        return np.where(ranks < self.initial_items, ranks, ranks + first)

    def item_table(self, world: int = 0) -> ItemTable:
        """World ``world``'s items with their features and availability windows."""
        rows = slice(world * self.n_items, (world + 1) * self.n_items)
        return ItemTable(
            np.arange(self.n_items), self.factors_[rows], self.valid_from(), self.valid_until()
        )
