"""Latent-factor users and items clicking through a position-based model, served in batches."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from bandits.observation import PAD_ID
from bandits.slates import sample_uniform_slates, top_k
from bandits.validation import (
    InputValueError,
    as_array,
    check_integer,
    check_probability,
    check_real,
    check_shape,
    check_slates,
)
from simulator.spaces import SlateSpace

BASE_LOGIT = -1.5
"""Offset of every attraction logit: sets the typical attraction near 0.2."""

_INT64_MAX = np.iinfo(np.int64).max

MAX_SCALE = 1e6
"""Largest noise or logit scale: beyond it features and logits stop being meaningful numbers
(their squares, in the policies' models, would leave float64)."""

MEMORY_LIMIT = 8 * 2**30
"""Largest world (users, items, histories) or batch an environment may hold, in bytes."""


class LatentFactorEnv(gymnasium.Env):
    """Users and items with latent factors; clicks follow a position-based model.

    Each step serves ``n_requests`` concurrent requests. A request comes from a user drawn
    uniformly (with replacement) and offers a uniformly random number, between
    ``min_candidates`` and ``max_candidates``, of distinct catalogue items.

    Every ``reset`` draws a new world from ``self.np_random``. With ``d = n_latent``:

    - user tastes ``theta_u`` and item factors ``phi_i`` are ``N(0, I / (2 sqrt(d)))``, so
      ``theta_u . phi_i`` has standard deviation 1/2 whatever ``d``;
    - item biases (popularity, quality) ``b_i ~ N(0, item_bias_scale**2)``;
    - attraction ``a(u, i) = sigmoid(logit_scale * theta_u . phi_i + b_i + BASE_LOGIT)``; with
      the defaults, attractions range from about 0.03 to 0.6 (5th to 95th percentile);
    - observed user features ``x_u = theta_u + feature_noise * N(0, I)``, fixed until reset.

    The context of a request is ``x_u`` and each candidate's features are ``phi_i``. The item at
    position ``k`` is clicked with probability ``examination[k] * a(u, i)``, independently across
    positions; the reward of a position is its click. Clicked items are pushed onto the user's
    history (most recent first; within a slate, lower positions are more recent). Attractions do
    not depend on the history.

    Common random numbers: every step draws the click uniforms, shape (n_requests, slate_size),
    before the next batch, whatever the action, so two copies reset with the same seed show the
    same users and candidates to any two policies; only the histories differ.

    Parameters
    ----------
    n_users, n_items, n_latent : int
        Population size, catalogue size and latent dimension (= n_context_features =
        n_item_features).
    n_requests : int
        Requests per step (the batch axis of observations and actions).
    slate_size : int
        Positions per slate.
    min_candidates, max_candidates : int
        Range of the candidate count per request; ``slate_size <= min_candidates <=
        max_candidates <= n_items``.
    history_length : int
        Clicked items kept per user in the observation.
    feature_noise : float
        Standard deviation of the noise between a user's taste and its observed features.
    examination : array-like of float, shape (slate_size,), optional
        Examination probability of each position, in (0, 1] and non-increasing. Default
        ``1 / sqrt(1 + k)``.
    logit_scale : float
        Weight of the taste term ``theta_u . phi_i`` in the attraction logit.
    item_bias_scale : float
        Standard deviation of the item biases.

    Attributes
    ----------
    user_tastes_ : ndarray of float64, shape (n_users, n_latent)
    user_features_ : ndarray of float64, shape (n_users, n_latent)
    item_factors_ : ndarray of float64, shape (n_items, n_latent)
    item_biases_ : ndarray of float64, shape (n_items,)
    histories_ : ndarray of int64, shape (n_users, history_length)
        Each user's clicked items, most recent first, padded with ``PAD_ID``.

    Notes
    -----
    ``step`` takes slates as an int64 array, shape (n_requests, slate_size), of indices into
    each request's candidates, and returns the batch's total clicks as the reward. Its
    ``info`` describes the batch acted on: ``"rewards"`` and ``"signals"["click"]`` (the clicks,
    shape (n_requests, slate_size)), ``"expected_reward"`` and ``"oracle_reward"`` (the exact
    expected clicks of the shown and of the best slate, shape (n_requests,); regret is their
    difference), ``"oracle_slates"`` (int64, shape (n_requests, slate_size)) and
    ``"candidate_rewards"`` (shape (n_requests, max_candidates, slate_size): the expected reward
    of each candidate at each position, 0 for padding). Episodes never end.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium: an instance attribute)

    def __init__(
        self,
        *,
        n_users: int = 1000,
        n_items: int = 200,
        n_latent: int = 6,
        n_requests: int = 32,
        slate_size: int = 3,
        min_candidates: int = 20,
        max_candidates: int = 20,
        history_length: int = 5,
        feature_noise: float = 0.1,
        examination: ArrayLike | None = None,
        logit_scale: float = 2.0,
        item_bias_scale: float = 0.5,
    ) -> None:
        owner = "LatentFactorEnv"
        self.n_users = check_integer(n_users, "n_users", owner, low=1)
        self.n_items = check_integer(n_items, "n_items", owner, low=1)
        self.n_latent = check_integer(n_latent, "n_latent", owner, low=1)
        self.n_requests = check_integer(n_requests, "n_requests", owner, low=1)
        self.slate_size = check_integer(slate_size, "slate_size", owner, low=1, high=self.n_items)
        self.min_candidates = check_integer(
            min_candidates, "min_candidates", owner, low=self.slate_size, high=self.n_items
        )
        self.max_candidates = check_integer(
            max_candidates, "max_candidates", owner, low=self.min_candidates, high=self.n_items
        )
        self.history_length = check_integer(history_length, "history_length", owner, low=0)
        self.feature_noise = check_real(
            feature_noise, "feature_noise", owner, low=0.0, high=MAX_SCALE
        )
        self.examination = _check_examination(examination, self.slate_size)
        self.logit_scale = check_real(logit_scale, "logit_scale", owner, low=0.0, high=MAX_SCALE)
        self.item_bias_scale = check_real(
            item_bias_scale, "item_bias_scale", owner, low=0.0, high=MAX_SCALE
        )
        self._check_memory(owner)
        self.action_space = SlateSpace(
            n_requests=self.n_requests,
            slate_size=self.slate_size,
            max_candidates=self.max_candidates,
        )
        self.observation_space = self._make_observation_space()
        self._batch: dict[str, NDArray[Any]] | None = None
        self._attraction: NDArray[np.float64] = np.zeros((0, 0))  # set by reset
        self._n_steps = 0

    def _check_memory(self, owner: str) -> None:
        """Refuse sizes whose world or batch would not fit in ``MEMORY_LIMIT``, naming them."""
        world = 8 * (
            self.n_users * (2 * self.n_latent + self.history_length)
            + self.n_items * (self.n_latent + 1)
        )
        batch = 8 * self.n_requests * self.max_candidates * (self.n_latent + 4)
        for what, size, names in (
            ("world", world, "n_users, n_items, n_latent and history_length"),
            ("batch", batch, "n_requests, max_candidates and n_latent"),
        ):
            if size > MEMORY_LIMIT:
                raise InputValueError(
                    f"The {what} of {owner} would take {size / 2**30:,.1f} GiB, more than the "
                    f"{MEMORY_LIMIT / 2**30:.0f} GiB allowed; make {names} smaller."
                )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray], dict[str, Any]]:
        """Draw a new world and the first batch; ``options`` is unused.

        Returns
        -------
        obs : dict of ndarray
            The layout of ``SlateObservation.to_mapping()``.
        info : dict
            Empty.
        """
        super().reset(seed=seed)
        rng = self.np_random
        scale = (2.0 * np.sqrt(self.n_latent)) ** -0.5
        self.user_tastes_ = rng.normal(0.0, scale, (self.n_users, self.n_latent))
        self.item_factors_ = rng.normal(0.0, scale, (self.n_items, self.n_latent))
        self.item_biases_ = rng.normal(0.0, self.item_bias_scale, self.n_items)
        noise = rng.standard_normal((self.n_users, self.n_latent))
        self.user_features_ = self.user_tastes_ + self.feature_noise * noise
        self.histories_ = np.full((self.n_users, self.history_length), PAD_ID, dtype=np.int64)
        self._n_steps = 0
        self._draw_batch()
        return self._observation(), {}

    def step(
        self, action: ArrayLike
    ) -> tuple[dict[str, NDArray], float, bool, bool, dict[str, Any]]:
        """Show the slates, draw the clicks, then serve the next batch.

        Parameters
        ----------
        action : array-like of int, shape (n_requests, slate_size)
            Indices into each request's candidates, distinct within a row.

        Returns
        -------
        obs : dict of ndarray
            The next batch.
        reward : float
            Total clicks in the batch acted on.
        terminated, truncated : bool
            Always False.
        info : dict
            Clicks and ground truth for the batch acted on (see the class notes).
        """
        slates = self._check_slates(action, "The action of LatentFactorEnv.step")
        uniforms = self.np_random.random((self.n_requests, self.slate_size))
        click_probability = self._position_rewards(slates)
        clicks = (uniforms < click_probability).astype(np.float64)
        expected = click_probability.sum(axis=1)
        oracle_slates = self.oracle_slates()
        oracle = self._expected(oracle_slates)
        info = {
            "rewards": clicks,
            "signals": {"click": clicks.copy()},
            "expected_reward": expected,
            "oracle_reward": oracle,
            "oracle_slates": oracle_slates,
            "candidate_rewards": self._attraction[:, :, None] * self.examination,
        }
        self._record_clicks(slates, clicks)
        self._n_steps += 1
        self._draw_batch()
        return self._observation(), float(clicks.sum()), False, False, info

    def expected_slate_reward(self, slates: ArrayLike) -> NDArray[np.float64]:
        """Exact expected clicks of ``slates`` on the current batch.

        Parameters
        ----------
        slates : array-like of int, shape (n_requests, slate_size)

        Returns
        -------
        ndarray of float64, shape (n_requests,)
        """
        return self._expected(self._check_slates(slates, "'slates' of expected_slate_reward"))

    def oracle_slates(self) -> NDArray[np.int64]:
        """The slates with the highest expected clicks on the current batch.

        The most attractive candidates, best first, since examination does not increase
        down the slate (rearrangement inequality).

        Returns
        -------
        ndarray of int64, shape (n_requests, slate_size)
        """
        batch = self._current_batch()
        return top_k(self._attraction, batch["n_candidates"], self.slate_size)

    def _make_observation_space(self) -> spaces.Dict:
        n, width, d = self.n_requests, self.max_candidates, self.n_latent

        def ints(low: int, high: int, shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=low, high=high, shape=shape, dtype=np.int64)

        def reals(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=-np.inf, high=np.inf, shape=shape, dtype=np.float64)

        # n_candidates and slate_size use the bounds SlateObservation enforces, as a constant
        # quantity in a Box with low == high makes gymnasium warn.
        return spaces.Dict(
            {
                "context": reals((n, d)),
                "candidate_ids": ints(PAD_ID, self.n_items - 1, (n, width)),
                "candidate_features": reals((n, width, d)),
                "n_candidates": ints(self.slate_size, width, (n,)),
                "slate_size": ints(1, width, ()),
                "history": ints(PAD_ID, self.n_items - 1, (n, self.history_length)),
                "request_ids": ints(0, _INT64_MAX, (n,)),
                "user_ids": ints(PAD_ID, self.n_users - 1, (n,)),
                "times": ints(0, _INT64_MAX, (n,)),
            }
        )

    def _draw_batch(self) -> None:
        """Draw the next requests and their candidates; set the batch and its attractions."""
        rng = self.np_random
        n, width = self.n_requests, self.max_candidates
        users = rng.integers(self.n_users, size=n)
        counts = rng.integers(self.min_candidates, width + 1, size=n)
        drawn = sample_uniform_slates(np.full(n, self.n_items), width, self.n_items, rng)
        real = np.arange(width) < counts[:, None]
        ids = np.where(real, drawn, PAD_ID)
        features = np.where(real[:, :, None], self.item_factors_[ids], 0.0)
        taste = np.einsum("nd,ncd->nc", self.user_tastes_[users], features)
        logits = self.logit_scale * taste + self.item_biases_[ids] + BASE_LOGIT
        self._attraction = np.where(real, expit(logits), 0.0)
        self._batch = {
            "context": self.user_features_[users],
            "candidate_ids": ids,
            "candidate_features": features,
            "n_candidates": counts,
            "slate_size": np.asarray(self.slate_size, dtype=np.int64),
            "history": self.histories_[users],
            "request_ids": self._n_steps * n + np.arange(n),
            "user_ids": users,
            "times": np.full(n, self._n_steps),
        }

    def _observation(self) -> dict[str, NDArray[Any]]:
        """A fresh copy of the current batch in the ``SlateObservation.to_mapping()`` layout
        (``slate_size`` 0-d); the rollout turns it into a checked ``SlateObservation``."""
        return {name: np.array(value) for name, value in self._current_batch().items()}

    def _current_batch(self) -> dict[str, NDArray[Any]]:
        if self._batch is None:
            raise gymnasium.error.ResetNeeded("Call reset() on LatentFactorEnv before using it.")
        return self._batch

    def _check_slates(self, slates: ArrayLike, label: str) -> NDArray[np.int64]:
        batch = self._current_batch()
        array = as_array(slates, label, np.int64, 2)
        check_shape(array, (self.n_requests, self.slate_size), label)
        check_slates(array, batch["n_candidates"], label)
        return array

    def _position_rewards(self, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """examination[k] * attraction[slates[:, k]], shape (n_requests, slate_size)."""
        return np.take_along_axis(self._attraction, slates, axis=1) * self.examination

    def _expected(self, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """Expected clicks of each slate, shape (n_requests,)."""
        return self._position_rewards(slates).sum(axis=1)

    def _record_clicks(self, slates: NDArray[np.int64], clicks: NDArray[np.float64]) -> None:
        """Push clicked items onto their users' histories, later positions more recent."""
        batch = self._current_batch()
        for row in np.flatnonzero(clicks.any(axis=1)):
            clicked = batch["candidate_ids"][row, slates[row, clicks[row] > 0]]
            user = batch["user_ids"][row]
            history = np.concatenate([clicked[::-1], self.histories_[user]])
            self.histories_[user] = history[: self.history_length]


def _check_examination(examination: ArrayLike | None, slate_size: int) -> NDArray[np.float64]:
    """The examination probabilities, shape (slate_size,), default ``1 / sqrt(1 + k)``."""
    if examination is None:
        values = 1.0 / np.sqrt(1.0 + np.arange(slate_size))
    else:
        label = "The 'examination' parameter of LatentFactorEnv"
        values = as_array(examination, label, np.float64, 1).copy()
        check_shape(values, (slate_size,), label)
        check_probability(values, label)
        rising = np.flatnonzero(np.diff(values) > 0)
        if rising.size:
            k = int(rising[0]) + 1
            raise InputValueError(
                f"{label} must be non-increasing; position {k} is {values[k].item()!r}, above "
                f"position {k - 1} at {values[k - 1].item()!r}."
            )
    values.flags.writeable = False
    return values
