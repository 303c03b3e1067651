"""The users: latent tastes (optionally drifting), noisy observed features, click histories,
and who arrives (new users join on a schedule, with an empty history)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import PAD_ID
from bandits.validation import check_integer, check_real
from simulator.catalogue import MAX_SCALE, latent_scale


class Users:
    """Users ``0 .. n_users - 1`` of each world.

    - tastes ``theta_u ~ N(0, I / (2 sqrt(d)))``; every ``drift_every`` steps (if > 0) each
      taste moves to ``sqrt(1 - drift**2) theta_u + drift * N(0, I / (2 sqrt(d)))``, which keeps
      its distribution;
    - observed features ``x_u = theta_u + feature_noise * z_u``, ``z_u ~ N(0, I)`` fixed at
      reset (so features follow a drifting taste);
    - users ``0 .. initial_users - 1`` are there from the start; ``users_per_step`` more join
      at each step; a request comes from a user drawn uniformly among those who have joined.

    Parameters
    ----------
    n_users, n_latent, history_length : int
    feature_noise : float
    initial_users : int, optional
        Default ``n_users`` (nobody joins).
    users_per_step : int
    drift : float
        In [0, 1]; 0 is no drift.
    drift_every : int
    owner : str

    Attributes
    ----------
    tastes_ : ndarray of float64, shape (n_worlds * n_users, n_latent)
    noise_ : ndarray of float64, shape (n_worlds * n_users, n_latent)
    histories_ : ndarray of int64, shape (n_worlds * n_users, history_length)
        Clicked items (ids within the world), most recent first, padded with ``PAD_ID``.
    """

    def __init__(
        self,
        *,
        n_users: int,
        n_latent: int,
        history_length: int,
        feature_noise: float,
        initial_users: int | None = None,
        users_per_step: int = 0,
        drift: float = 0.0,
        drift_every: int = 0,
        owner: str = "Users",
    ) -> None:
        self.n_users = check_integer(n_users, "n_users", owner, low=1)
        self.n_latent = check_integer(n_latent, "n_latent", owner, low=1)
        self.history_length = check_integer(history_length, "history_length", owner, low=0)
        self.feature_noise = check_real(
            feature_noise, "feature_noise", owner, low=0.0, high=MAX_SCALE
        )
        initial = self.n_users if initial_users is None else initial_users
        self.initial_users = check_integer(initial, "initial_users", owner, low=1, high=n_users)
        self.users_per_step = check_integer(users_per_step, "users_per_step", owner, low=0)
        self.drift = check_real(drift, "drift", owner, low=0.0, high=1.0)
        self.drift_every = check_integer(
            drift_every, "drift_every", owner, low=1 if self.drift > 0 else 0
        )
        self.tastes_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.noise_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.histories_: NDArray[np.int64] = np.zeros((0, self.history_length), dtype=np.int64)

    def reset(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Draw the users of ``n_worlds`` worlds, with empty histories."""
        shape = (n_worlds * self.n_users, self.n_latent)
        self.tastes_ = rng.normal(0.0, latent_scale(self.n_latent), shape)
        self.noise_ = rng.standard_normal(shape)
        self.histories_ = np.full((shape[0], self.history_length), PAD_ID, dtype=np.int64)

    def features(self, users: NDArray[np.int64]) -> NDArray[np.float64]:
        """Observed features of ``users`` (rows of the stacked worlds), shape (n, n_latent)."""
        return self.tastes_[users] + self.feature_noise * self.noise_[users]

    def n_joined(self, time: int) -> int:
        """Users of each world who can make requests at step ``time``."""
        return min(self.n_users, self.initial_users + max(time, 0) * self.users_per_step)

    def arrive(self, rng: np.random.Generator, worlds: NDArray[np.int64], time: int) -> NDArray:
        """One user per request, uniformly among those joined, as rows of the stacked worlds.

        Parameters
        ----------
        worlds : ndarray of int64, shape (n_requests,)

        Returns
        -------
        ndarray of int64, shape (n_requests,)
        """
        local = rng.integers(self.n_joined(time), size=worlds.shape[0])
        return worlds * self.n_users + local

    def evolve(self, rng: np.random.Generator, time: int) -> None:
        """Apply the drift due at step ``time`` (nothing drawn when none is due)."""
        if self.drift > 0 and time > 0 and time % self.drift_every == 0:
            fresh = rng.normal(0.0, latent_scale(self.n_latent), self.tastes_.shape)
            self.tastes_ = np.sqrt(1.0 - self.drift**2) * self.tastes_ + self.drift * fresh

    def record(self, users: NDArray[np.int64], clicked: NDArray[np.int64]) -> None:
        """Push clicked items onto their users' histories, as if requests were served in row
        order and positions top to bottom: the last click is the most recent. Vectorised; a
        user may appear in several rows.

        Parameters
        ----------
        users : ndarray of int64, shape (n_requests,)
        clicked : ndarray of int64, shape (n_requests, slate_size)
            The item clicked at each position, ``PAD_ID`` where none was.
        """
        depth = self.history_length
        rows, positions = np.nonzero(clicked != PAD_ID)
        if depth == 0 or rows.size == 0:
            return
        owners = users[rows]
        newest_first = np.lexsort((-np.arange(rows.size), owners))  # by user, then recency
        owners = owners[newest_first]
        items = clicked[rows, positions][newest_first]
        touched, start, counts = np.unique(owners, return_index=True, return_counts=True)
        group = np.repeat(np.arange(touched.size), counts)
        rank = np.arange(owners.size) - start[group]
        merged = np.full((touched.size, int(counts.max()) + depth), PAD_ID, dtype=np.int64)
        merged[group, rank] = items
        merged[np.arange(touched.size)[:, None], counts[:, None] + np.arange(depth)] = (
            self.histories_[touched]
        )
        self.histories_[touched] = merged[:, :depth]
