"""Rewards: what a click earns (a weighted mix of click, watch time, purchase and revenue).
Each gives the expected reward of a click on an item (for the exact ground truth) and draws
the realised rewards and signals."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from bandits.validation import InputValueError, check_choice, check_real

DEFAULT_SPREAD = 0.5
"""Default log-normal spread of the items' mean watch times."""

MAX_SPREAD = 10.0
"""Largest log-normal spread of mean watch times (beyond it they leave float64)."""

MAX_LOGIT = 700.0
"""Largest purchase intercept or price sensitivity in absolute value."""

DEFAULT_PURCHASE_INTERCEPT = 1.0
"""Default logit of a purchase after a click on an item of price 1."""

DEFAULT_PRICE_SENSITIVITY = 0.5
"""Default decrease of the purchase logit per unit of log price."""


class Reward(ABC):
    """The reward of the clicks on a slate.

    ``values`` must be the exact expectation of ``realise``'s reward at a clicked position, so
    that ``P(click) * values`` is the exact expected reward.
    """

    name: ClassVar[str]

    def reset(  # noqa: B027 (optional)
        self, rng: np.random.Generator, n_items: int, prices: NDArray[np.float64] | None = None
    ) -> None:
        """Draw per-item state for ``n_items`` items (all worlds), whose ``prices`` are given
        when the catalogue has them; default: none."""

    def components(self, items: NDArray[np.int64]) -> dict[str, NDArray[np.float64]]:
        """Expected value of each signal given a click on each of ``items``; default: the
        click."""
        return {"click": np.ones(items.shape)}

    @property
    def needs_prices(self) -> bool:
        """True if the reward uses the catalogue's prices."""
        return False

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


COMPONENTS = ("click", "watch_time", "purchase", "revenue")
"""What a reward may weigh: the click (0/1), the time watched after a click, the purchase after a
click (0/1) and the revenue (the price if purchased)."""


class WeightedReward(Reward):
    """The reward of a position: ``sum_c w_c X_c`` over the components ``c`` weighted in
    ``weights`` (see ``COMPONENTS``), each 0 without a click:

    - ``click``: 1;
    - ``watch_time``: ``m_i G``; item ``i`` has a mean watch time ``m_i ~ LogNormal(-spread**2 /
      2, spread)`` (mean 1, drawn at reset) and ``G ~ Gamma(shape=2, scale=1/2)`` (mean 1);
    - ``purchase``: a second stage after the click, 1 with probability ``q_i =
      sigmoid(purchase_intercept - price_sensitivity * log price_i)`` (decreasing in the price
      when ``price_sensitivity > 0``);
    - ``revenue``: ``price_i`` times the purchase.

    ``G`` and the purchase uniform are drawn whatever the clicks, so the expected reward of a
    click is exactly ``v_i = w_click + w_watch m_i + (w_purchase + w_revenue price_i) q_i``.
    Every component named in ``weights`` (even with weight 0) is a signal; ``"click"`` always
    is.

    Parameters
    ----------
    weights : mapping of str to float
        Weights >= 0, at least one > 0.
    spread : float
        Log-normal spread of the items' mean watch times; 0 makes every item's mean 1.
    purchase_intercept, price_sensitivity : float
    owner : str
        Named in error messages.
    """

    name = "weighted"
    GAMMA_SHAPE: ClassVar[float] = 2.0

    def __init__(
        self,
        *,
        weights: Mapping[str, float],
        spread: float = DEFAULT_SPREAD,
        purchase_intercept: float = DEFAULT_PURCHASE_INTERCEPT,
        price_sensitivity: float = DEFAULT_PRICE_SENSITIVITY,
        owner: str = "WeightedReward",
    ) -> None:
        self.weights = _check_weights(weights, owner)
        self.spread = check_real(spread, "watch_time_spread", owner, low=0.0, high=MAX_SPREAD)
        self.purchase_intercept = check_real(
            purchase_intercept, "purchase_intercept", owner, low=-MAX_LOGIT, high=MAX_LOGIT
        )
        self.price_sensitivity = check_real(
            price_sensitivity, "price_sensitivity", owner, low=-MAX_LOGIT, high=MAX_LOGIT
        )
        self.watches = "watch_time" in self.weights
        self.purchases = "purchase" in self.weights or "revenue" in self.weights
        self.mean_watch_time_: NDArray[np.float64] = np.zeros(0)
        self.purchase_probability_: NDArray[np.float64] = np.zeros(0)
        self.prices_: NDArray[np.float64] = np.zeros(0)

    @property
    def needs_prices(self) -> bool:
        return self.purchases

    def reset(
        self, rng: np.random.Generator, n_items: int, prices: NDArray[np.float64] | None = None
    ) -> None:
        if self.watches:
            self.mean_watch_time_ = rng.lognormal(-(self.spread**2) / 2, self.spread, n_items)
        if self.purchases:
            self.prices_ = np.ones(n_items) if prices is None else prices
            self.purchase_probability_ = expit(
                self.purchase_intercept - self.price_sensitivity * np.log(self.prices_)
            )

    def components(self, items: NDArray[np.int64]) -> dict[str, NDArray[np.float64]]:
        """Expected value of each signal given a click on each of ``items`` (any shape)."""
        out = {"click": np.ones(items.shape)}
        if self.watches:
            out["watch_time"] = self.mean_watch_time_[items]
        if self.purchases:
            bought = self.purchase_probability_[items]
            if "purchase" in self.weights:
                out["purchase"] = bought
            if "revenue" in self.weights:
                out["revenue"] = bought * self.prices_[items]
        return out

    def values(self, items: NDArray[np.int64]) -> NDArray[np.float64]:
        parts = self.components(items)
        total = np.zeros(items.shape)
        for name, weight in self.weights.items():
            if weight:
                total += weight * parts[name]
        return total

    def realise(
        self, clicks: NDArray[np.bool_], items: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        click = clicks.astype(np.float64)
        signals = {"click": click}
        if self.watches:
            noise = rng.gamma(self.GAMMA_SHAPE, 1.0 / self.GAMMA_SHAPE, clicks.shape)
            signals["watch_time"] = np.where(clicks, self.mean_watch_time_[items] * noise, 0.0)
        if self.purchases:
            uniforms = rng.random(clicks.shape)
            bought = (clicks & (uniforms < self.purchase_probability_[items])).astype(np.float64)
            if "purchase" in self.weights:
                signals["purchase"] = bought
            if "revenue" in self.weights:
                signals["revenue"] = bought * self.prices_[items]
        rewards = np.zeros(clicks.shape)
        for name, weight in self.weights.items():
            if weight:
                rewards += weight * signals[name]
        return rewards, {name: value.copy() for name, value in signals.items()}


class ClickReward(WeightedReward):
    """The reward of a position is its click (0 or 1)."""

    name = "click"

    def __init__(self) -> None:
        super().__init__(weights={"click": 1.0}, owner="ClickReward")


class WatchTimeReward(WeightedReward):
    """The reward of a clicked item is the time watched (engagement); 0 without a click:
    ``m_i G`` as in :class:`WeightedReward`, so the expected reward of a click is ``m_i``.

    Parameters
    ----------
    spread : float
        Log-normal spread of the items' mean watch times; 0 makes every item's mean 1.
    owner : str
        Named in error messages.
    """

    name = "watch_time"

    def __init__(self, *, spread: float = DEFAULT_SPREAD, owner: str = "WatchTimeReward") -> None:
        super().__init__(weights={"watch_time": 1.0}, spread=spread, owner=owner)


REWARDS = ("click", "watch_time", "purchase", "revenue")
"""Names the ``reward`` parameter takes (or a mapping of ``COMPONENTS`` to weights)."""


def make_reward(
    name: object,
    *,
    watch_time_spread: float,
    owner: str,
    purchase_intercept: float | None = None,
    price_sensitivity: float | None = None,
    purchase_defaults: tuple[float, float] = (
        DEFAULT_PURCHASE_INTERCEPT,
        DEFAULT_PRICE_SENSITIVITY,
    ),
) -> Reward:
    """The reward called ``name`` (see ``REWARDS``: one component with weight 1) or the
    weighted mix of a mapping ``{component: weight}``.

    ``watch_time_spread`` applies only when watch time is a component and must keep its
    default otherwise; ``purchase_intercept`` and ``price_sensitivity`` apply only when
    ``"purchase"`` or ``"revenue"`` is a component and must be left unset (None) otherwise,
    so that a setting never goes silently unused. Unset, they take ``purchase_defaults``.
    """
    if isinstance(name, Mapping):
        weights = _check_weights(name, owner)
    else:
        weights = {check_choice(name, REWARDS, f"'reward' of {owner}"): 1.0}
    if "watch_time" not in weights and watch_time_spread != DEFAULT_SPREAD:
        raise InputValueError(
            f"The 'watch_time_spread' parameter of {owner} applies only to rewards with watch "
            f"time; got {watch_time_spread!r} with reward={name!r}."
        )
    if "purchase" not in weights and "revenue" not in weights:
        for label, given in (
            ("purchase_intercept", purchase_intercept),
            ("price_sensitivity", price_sensitivity),
        ):
            if given is not None:
                raise InputValueError(
                    f"The {label!r} parameter of {owner} applies only to rewards with a "
                    f"purchase ('purchase' or 'revenue' among the components); got {given!r} "
                    f"with reward={name!r}."
                )
    if weights == {"click": 1.0}:
        return ClickReward()
    if weights == {"watch_time": 1.0}:
        return WatchTimeReward(spread=watch_time_spread, owner=owner)
    intercept, sensitivity = purchase_defaults
    return WeightedReward(
        weights=weights,
        spread=watch_time_spread,
        purchase_intercept=intercept if purchase_intercept is None else purchase_intercept,
        price_sensitivity=sensitivity if price_sensitivity is None else price_sensitivity,
        owner=owner,
    )


def _check_weights(weights: object, owner: str) -> dict[str, float]:
    """``{component: weight}`` with known components, weights >= 0, at least one > 0."""
    if not isinstance(weights, Mapping) or not weights:
        raise InputValueError(
            f"The 'reward' parameter of {owner} must be one of {list(REWARDS)} or a non-empty "
            f"mapping of {list(COMPONENTS)} to weights; got {weights!r}."
        )
    checked = {}
    for key, weight in weights.items():
        check_choice(key, COMPONENTS, f"reward component of {owner}")
        checked[str(key)] = check_real(weight, f"reward weight of {key}", owner, low=0.0, high=1e9)
    if not any(checked.values()):
        raise InputValueError(
            f"The 'reward' weights of {owner} must have at least one weight > 0; got {weights!r}."
        )
    return checked
