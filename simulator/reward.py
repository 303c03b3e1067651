"""Rewards: what a click earns. Each gives the expected reward of a click on an item (for the
exact ground truth) and draws the realised rewards and signals."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError, check_choice, check_real

DEFAULT_SPREAD = 0.5
"""Default log-normal spread of the items' mean watch times."""

MAX_SPREAD = 10.0
"""Largest log-normal spread of mean watch times (beyond it they leave float64)."""


class Reward(ABC):
    """The reward of the clicks on a slate.

    ``values`` must be the exact expectation of ``realise``'s reward at a clicked position, so
    that ``P(click) * values`` is the exact expected reward.
    """

    name: ClassVar[str]

    def reset(self, rng: np.random.Generator, n_items: int) -> None:  # noqa: B027 (optional)
        """Draw per-item state for ``n_items`` items (all worlds); default: none."""

    @abstractmethod
    def values(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        """Expected reward of a click on each of ``items`` (any shape): a new array, same
        shape."""

    @abstractmethod
    def realise(
        self, clicks: NDArray[np.bool_], items: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        """Rewards and named signals of the clicks on the shown ``items``.

        Parameters
        ----------
        clicks : ndarray of bool, shape (n_requests, slate_size)
        items : ndarray of int64, shape (n_requests, slate_size)
            Catalogue index of the item at each position.
        rng : numpy.random.Generator
            Draws the same amount whatever the clicks (common random numbers).

        Returns
        -------
        rewards : ndarray of float64, shape (n_requests, slate_size)
        signals : dict of str to ndarray of float64, shape (n_requests, slate_size)
            At least ``"click"``.
        """


class ClickReward(Reward):
    """The reward of a position is its click (0 or 1)."""

    name = "click"

    def values(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.ones(items.shape)

    def realise(
        self, clicks: NDArray[np.bool_], items: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        rewards = clicks.astype(np.float64)
        return rewards, {"click": rewards.copy()}


class WatchTimeReward(Reward):
    """The reward of a clicked item is the time watched (engagement); 0 without a click.

    Item ``i`` has a mean watch time ``m_i ~ LogNormal(-spread**2 / 2, spread)`` (mean 1,
    drawn at reset); a click watches ``m_i * G`` with ``G ~ Gamma(shape=2, scale=1/2)`` (mean
    1), drawn independently of the click, so the expected reward of a click is ``m_i``.

    Parameters
    ----------
    spread : float
        Log-normal spread of the items' mean watch times; 0 makes every item's mean 1.
    owner : str
        Named in error messages.
    """

    name = "watch_time"
    GAMMA_SHAPE: ClassVar[float] = 2.0

    def __init__(self, *, spread: float = DEFAULT_SPREAD, owner: str = "WatchTimeReward") -> None:
        self.spread = check_real(spread, "watch_time_spread", owner, low=0.0, high=MAX_SPREAD)
        self.mean_watch_time_: NDArray[np.float64] = np.zeros(0)

    def reset(self, rng: np.random.Generator, n_items: int) -> None:
        self.mean_watch_time_ = rng.lognormal(-(self.spread**2) / 2, self.spread, n_items)

    def values(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.mean_watch_time_[items]

    def realise(
        self, clicks: NDArray[np.bool_], items: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        noise = rng.gamma(self.GAMMA_SHAPE, 1.0 / self.GAMMA_SHAPE, clicks.shape)
        watched = np.where(clicks, self.values(items) * noise, 0.0)
        return watched, {"click": clicks.astype(np.float64), "watch_time": watched.copy()}


REWARDS = ("click", "watch_time")
"""Names the ``reward`` parameter takes."""


def make_reward(name: object, *, watch_time_spread: float, owner: str) -> Reward:
    """The reward called ``name`` (see ``REWARDS``); ``watch_time_spread`` is for
    ``"watch_time"`` and must keep its default otherwise."""
    if check_choice(name, REWARDS, f"'reward' of {owner}") == "click":
        if watch_time_spread != DEFAULT_SPREAD:
            raise InputValueError(
                f"The 'watch_time_spread' parameter of {owner} applies only to "
                f"reward='watch_time'; got {watch_time_spread!r} with reward='click'."
            )
        return ClickReward()
    return WatchTimeReward(spread=watch_time_spread, owner=owner)
