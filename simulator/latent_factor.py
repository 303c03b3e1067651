"""The ``bandits/LatentFactor-v0`` preset: latent-factor users and items, a fixed catalogue, no
context signals, clicks through a choice model (position-based by default)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from simulator.env import SlateEnv
from simulator.presets import build_world
from simulator.reward import DEFAULT_SPREAD
from simulator.world import BASE_LOGIT

__all__ = ["BASE_LOGIT", "LatentFactorEnv"]


class LatentFactorEnv(SlateEnv):
    """Users and items with latent factors; clicks follow a choice model over the slate.

    Each step serves ``n_requests`` concurrent requests. A request comes from a user drawn
    uniformly (with replacement) and offers between ``min_candidates`` and ``max_candidates``
    distinct catalogue items (the count varies by request and step, ``max_candidates`` in the
    first batch after a reset: :meth:`simulator.world.World.candidate_counts`), drawn in
    O(max_candidates) whatever the catalogue size.

    Every ``reset`` draws a new world from ``self.np_random``. With ``d = n_latent``:

    - user tastes ``theta_u`` and item factors ``phi_i`` are ``N(0, I / (2 sqrt(d)))``, so
      ``theta_u . phi_i`` has standard deviation 1/2 whatever ``d``;
    - item biases (popularity, quality) ``b_i ~ N(0, item_bias_scale**2)``;
    - utility logit ``l(u, i) = logit_scale * theta_u . phi_i + b_i + BASE_LOGIT`` and
      attraction ``sigmoid(l)``; with the defaults, attractions range from about 0.03 to 0.6
      (5th to 95th percentile);
    - observed user features ``x_u = theta_u + feature_noise * N(0, I)``, fixed until reset.

    The context of a request is ``x_u`` and each candidate's features are ``phi_i``. The
    choice model (``choice_model``, see :mod:`simulator.choice`) turns the shown slate's
    logits into clicks: ``"position"`` (default; position ``k`` clicked with probability
    ``examination[k] * sigmoid(l)``, independently), ``"cascade"`` (scan down, stop at the
    first click; emits the ``"examined"`` signal) or ``"mnl"`` (multinomial logit with a
    no-click option of logit ``no_click_logit``). The reward of a position is its click, or
    with ``reward="watch_time"`` the time watched after a click. Clicked items are pushed onto
    the user's history (most recent first; within a slate, lower positions are more recent).

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
        Examination probability of each position (position and mnl models), in (0, 1] and
        non-increasing. Default ``1 / sqrt(1 + k)``.
    logit_scale : float
        Weight of the taste term ``theta_u . phi_i`` in the utility logit.
    item_bias_scale : float
        Standard deviation of the item biases.
    choice_model : {"position", "cascade", "mnl"}
    no_click_logit : float
        Utility of not clicking under ``"mnl"`` (0: a lone item is clicked with its attraction).
    reward : {"click", "watch_time"}
    watch_time_spread : float
        Log-normal spread of the items' mean watch times (``reward="watch_time"``).

    Attributes
    ----------
    user_tastes_ : ndarray of float64, shape (n_users, n_latent)
    user_features_ : ndarray of float64, shape (n_users, n_latent)
    item_factors_ : ndarray of float64, shape (n_items, n_latent)
    item_biases_ : ndarray of float64, shape (n_items,)
    histories_ : ndarray of int64, shape (n_users, history_length)
        Each user's clicked items, most recent first, padded with ``PAD_ID``.
    """

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
        choice_model: str = "position",
        no_click_logit: float = 0.0,
        reward: str = "click",
        watch_time_spread: float = DEFAULT_SPREAD,
    ) -> None:
        super().__init__(
            build_world(
                type(self).__name__,
                catalogue={"n_items": n_items, "n_latent": n_latent, "bias_scale": item_bias_scale},
                users={
                    "n_users": n_users,
                    "history_length": history_length,
                    "feature_noise": feature_noise,
                },
                choice={
                    "choice_model": choice_model,
                    "slate_size": slate_size,
                    "examination": examination,
                    "no_click_logit": no_click_logit,
                },
                reward={"reward": reward, "watch_time_spread": watch_time_spread},
                requests={
                    "n_requests": n_requests,
                    "min_candidates": min_candidates,
                    "max_candidates": max_candidates,
                    "logit_scale": logit_scale,
                },
            )
        )

    @property
    def n_users(self) -> int:
        return self.world.users.n_users

    @property
    def n_items(self) -> int:
        return self.world.catalogue.n_items

    @property
    def n_latent(self) -> int:
        return self.world.users.n_latent

    @property
    def history_length(self) -> int:
        return self.world.users.history_length

    @property
    def examination(self) -> NDArray[np.float64]:
        return self.world.choice_model.examination

    @property
    def logit_scale(self) -> float:
        return self.world.logit_scale

    @property
    def user_tastes_(self) -> NDArray[np.float64]:
        return self.world.users.tastes_

    @property
    def user_features_(self) -> NDArray[np.float64]:
        return self.world.users.features(np.arange(self.world.users.tastes_.shape[0]))

    @property
    def item_factors_(self) -> NDArray[np.float64]:
        return self.world.catalogue.factors_

    @property
    def item_biases_(self) -> NDArray[np.float64]:
        return self.world.catalogue.biases_

    @property
    def histories_(self) -> NDArray[np.int64]:
        return self.world.users.histories_
