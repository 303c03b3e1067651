"""The users: latent tastes (optionally mixtures over genres, drifting, pulled toward what they
click), observed features (noisy tastes, segment, noisy genre affinities), click histories, and
who arrives (new users join on a schedule, with an empty history; absent users make no
requests)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import PAD_ID
from bandits.validation import check_integer, check_real
from simulator.catalogue import MAX_SCALE, latent_scale
from simulator.sampling import group_newest_first

ARRIVAL_TRIES = 16
"""Draws of a joined user per request, under churn, before falling back to a draw among the
present ones (see :meth:`Users.arrive`)."""


class Users:
    """Users ``0 .. n_users - 1`` of each world, with ``s = latent_scale(n_latent)``.

    - tastes: without genres ``theta_u ~ N(0, s**2 I)``. With ``n_genres = G > 0`` a taste is
      a mixture over the genres: each world draws, per segment ``k``, a base ``beta_k ~
      Dirichlet(1_G)``; user ``u`` of segment ``k_u`` (uniform over ``max(n_segments, 1)``)
      has genre weights ``pi_u ~ Dirichlet(genre_concentration G beta_k)`` and taste
      ``theta_u = pi_u C + sqrt(individual_share) e_u``, ``C`` the genre centres scaled to
      the taste scale (``g_k / sqrt(genre_share)``), ``e_u ~ N(0, s**2 I)``;
    - drift: every ``drift_every`` steps (if > 0) each taste moves to ``sqrt(1 - drift**2)
      theta_u + drift * N(0, s**2 I)``;
    - click drift: each click on an item with factors ``phi`` moves the taste to ``(1 -
      click_drift) theta_u + click_drift phi`` (clicks applied in row order, top to bottom);
    - observed features: ``x_u = theta_u + feature_noise * z_u`` (``z_u ~ N(0, I)`` fixed at
      reset, so features follow the taste), then the one-hot of the segment (if
      ``n_segments > 0``), then long-term genre affinities ``pi_u + affinity_noise * z'_u``
      (if ``G > 0``);
    - users ``0 .. initial_users - 1`` are there from the start; ``users_per_step`` more join
      at each step; a request comes from a user drawn uniformly among those who have joined
      and are present (see :meth:`arrive`).

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
    n_genres, n_segments : int
    genre_concentration, individual_share, affinity_noise, click_drift : float
    owner : str

    Attributes
    ----------
    tastes_ : ndarray of float64, shape (n_worlds * n_users, n_latent)
    noise_ : ndarray of float64, shape (n_worlds * n_users, n_latent)
    histories_ : ndarray of int64, shape (n_worlds * n_users, history_length)
        Clicked items (ids within the world), most recent first, padded with ``PAD_ID``.
    segments_ : ndarray of int64, shape (n_worlds * n_users,)
    genre_weights_, affinities_ : ndarray of float64, shape (n_worlds * n_users, n_genres)
        ``pi_u`` and the observed affinities.
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
        n_genres: int = 0,
        n_segments: int = 0,
        genre_concentration: float = 0.5,
        individual_share: float = 0.5,
        affinity_noise: float = 0.1,
        click_drift: float = 0.0,
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
        self.n_genres = check_integer(n_genres, "n_genres", owner, low=0)
        self.n_segments = check_integer(n_segments, "n_segments", owner, low=0)
        self.genre_concentration = check_real(
            genre_concentration, "genre_concentration", owner, low=0.0, low_open=True, high=1e6
        )
        self.individual_share = check_real(
            individual_share, "individual_share", owner, low=0.0, high=1.0
        )
        self.affinity_noise = check_real(
            affinity_noise, "affinity_noise", owner, low=0.0, high=MAX_SCALE
        )
        self.click_drift = check_real(click_drift, "click_drift", owner, low=0.0, high=1.0)
        self.tastes_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.noise_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.histories_: NDArray[np.int64] = np.zeros((0, self.history_length), dtype=np.int64)
        self.segments_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.genre_weights_: NDArray[np.float64] = np.zeros((0, self.n_genres))
        self.affinities_: NDArray[np.float64] = np.zeros((0, self.n_genres))

    @property
    def n_features(self) -> int:
        """Columns of :meth:`features`: noisy taste, segment one-hot, genre affinities."""
        return self.n_latent + self.n_segments + self.n_genres

    def feature_names(self) -> list[str]:
        """Names of the columns of :meth:`features`."""
        return (
            [f"taste_{j}" for j in range(self.n_latent)]
            + [f"segment_{k}" for k in range(self.n_segments)]
            + [f"affinity_{g}" for g in range(self.n_genres)]
        )

    def reset(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Draw the users of ``n_worlds`` worlds, with empty histories (with genres, call
        :meth:`mix_genres` next)."""
        shape = (n_worlds * self.n_users, self.n_latent)
        self.tastes_ = rng.normal(0.0, latent_scale(self.n_latent), shape)
        self.noise_ = rng.standard_normal(shape)
        self.histories_ = np.full((shape[0], self.history_length), PAD_ID, dtype=np.int64)
        self.segments_ = np.zeros(shape[0], dtype=np.int64)
        if self.n_segments:
            self.segments_ = rng.integers(0, self.n_segments, shape[0])

    def mix_genres(self, rng: np.random.Generator, centres: NDArray[np.float64]) -> None:
        """Draw ``pi_u`` per user and set ``theta_u = pi_u C + sqrt(individual_share) e_u``.

        Parameters
        ----------
        centres : ndarray of float64, shape (n_worlds, n_genres, n_latent)
            ``C``: the genre centres at the taste scale.
        """
        genres, n_worlds = self.n_genres, centres.shape[0]
        bases = rng.dirichlet(np.ones(genres), size=(n_worlds, max(self.n_segments, 1)))
        worlds = np.repeat(np.arange(n_worlds), self.n_users)
        alpha = np.maximum(self.genre_concentration * genres * bases[worlds, self.segments_], 1e-3)
        gammas = rng.standard_gamma(alpha)
        weights = gammas / np.maximum(gammas.sum(axis=1, keepdims=True), 1e-300)
        weights[gammas.sum(axis=1) == 0] = 1.0 / genres  # all shapes underflowed: uniform
        self.genre_weights_ = weights
        self.tastes_ = (
            np.einsum("ug,ugd->ud", weights, centres[worlds])
            + np.sqrt(self.individual_share) * self.tastes_
        )
        self.affinities_ = weights + self.affinity_noise * rng.standard_normal(weights.shape)

    def features(self, users: NDArray[np.int64], extra: int = 0) -> NDArray[np.float64]:
        """Observed features of ``users`` (rows of the stacked worlds), shape (n, n_features
        + extra): the last ``extra`` columns are left for the caller to fill (the context
        signals), so that the observation's columns are written once."""
        n, d = users.shape[0], self.n_latent
        out = np.empty((n, self.n_features + extra))
        taste = out[:, :d]
        np.multiply(self.noise_[users], self.feature_noise, out=taste)
        taste += self.tastes_[users]
        if self.n_segments:
            segments = out[:, d : d + self.n_segments]
            segments.fill(0.0)
            segments[np.arange(n), self.segments_[users]] = 1.0
        if self.n_genres:
            out[:, d + self.n_segments : self.n_features] = self.affinities_[users]
        return out

    def n_joined(self, time: int) -> int:
        """Users of each world who can make requests at step ``time``."""
        return min(self.n_users, self.initial_users + max(time, 0) * self.users_per_step)

    def arrive(
        self,
        rng: np.random.Generator,
        worlds: NDArray[np.int64],
        time: int,
        absent: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.int64]:
        """One user per request, uniformly among those joined and present, as rows of the
        stacked worlds.

        Without churn (``absent`` None), one uniform draw among the joined users. With churn,
        ``ARRIVAL_TRIES + 1`` uniforms per request whoever is away: the first
        ``ARRIVAL_TRIES`` each pick a joined user, and the first of them who is present
        makes the request; if all are away, the last uniform picks one uniformly among the
        present users (a world with nobody present draws among all joined). Each outcome is
        uniform among the present users, so the request is too. Coupling: two copies of a
        world whose away sets differ (their policies bored different users) pick the same
        user for a request unless, before either copy's pick, a try hit a user away in one
        copy and present in the other (or all tries were away in one copy): the user one
        copy picks is then away in the other.

        Parameters
        ----------
        worlds : ndarray of int64, shape (n_requests,)
        absent : ndarray of bool, shape (n_worlds * n_users,), optional
            Users away (churned); O(n_users) per call when given.

        Returns
        -------
        ndarray of int64, shape (n_requests,)
        """
        joined = self.n_joined(time)
        if absent is None:
            return worlds * self.n_users + rng.integers(joined, size=worlds.shape[0])
        tries = rng.random((ARRIVAL_TRIES + 1, worlds.shape[0]))
        base = worlds * self.n_users
        candidates = base + (tries[:-1] * joined).astype(np.int64)  # (tries, n_requests)
        present_try = ~absent[candidates]
        found = present_try.any(axis=0)
        users = candidates[present_try.argmax(axis=0), np.arange(worlds.shape[0])]
        if found.all():
            return users
        n_worlds = absent.shape[0] // self.n_users
        present = ~absent.reshape(n_worlds, self.n_users)[:, :joined]
        present[present.sum(axis=1) == 0] = True
        counts = present.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rows, local = np.nonzero(present)
        lost = ~found
        stand_in = worlds[lost]
        pick = starts[stand_in] + (tries[-1, lost] * counts[stand_in]).astype(np.int64)
        users[lost] = rows[pick] * self.n_users + local[pick]
        return users

    def evolve(self, rng: np.random.Generator, time: int) -> None:
        """Apply the drift due at step ``time`` (nothing drawn when none is due)."""
        if self.drift > 0 and time > 0 and time % self.drift_every == 0:
            fresh = rng.normal(0.0, latent_scale(self.n_latent), self.tastes_.shape)
            self.tastes_ = np.sqrt(1.0 - self.drift**2) * self.tastes_ + self.drift * fresh

    def record(
        self,
        users: NDArray[np.int64],
        clicked: NDArray[np.int64],
        factors: NDArray[np.float64] | None = None,
    ) -> None:
        """Push clicked items onto their users' histories, as if requests were served in row
        order and positions top to bottom: the last click is the most recent; with
        ``click_drift > 0`` move the tastes toward the clicked items' factors in that order.
        Vectorised; a user may appear in several rows.

        Parameters
        ----------
        users : ndarray of int64, shape (n_requests,)
        clicked : ndarray of int64, shape (n_requests, slate_size)
            The item clicked at each position, ``PAD_ID`` where none was.
        factors : ndarray of float64, shape (n_requests, slate_size, n_latent), optional
            The shown items' factors (needed for click drift).
        """
        rows, positions = np.nonzero(clicked != PAD_ID)
        if rows.size == 0:
            return
        newest_first, touched, start, counts = group_newest_first(users[rows])
        group = np.repeat(np.arange(touched.size), counts)
        rank = np.arange(newest_first.size) - start[group]  # 0: the most recent click of its user
        if self.click_drift > 0 and factors is not None:
            eta = self.click_drift
            pulled = factors[rows, positions][newest_first] * (eta * (1 - eta) ** rank)[:, None]
            target = np.zeros((touched.size, self.n_latent))
            # Row by row in order, as np.add.at(target, group, pulled): flat cells take
            # ufunc.at's fast path.
            cells = (group * self.n_latent)[:, None] + np.arange(self.n_latent)
            np.add.at(target.reshape(-1), cells.ravel(), pulled.ravel())
            kept = (1 - eta) ** counts
            self.tastes_[touched] = kept[:, None] * self.tastes_[touched] + target
        depth = self.history_length
        if depth == 0:
            return
        items = clicked[rows, positions][newest_first]
        merged = np.full((touched.size, int(counts.max()) + depth), PAD_ID, dtype=np.int64)
        merged[group, rank] = items
        merged[np.arange(touched.size)[:, None], counts[:, None] + np.arange(depth)] = (
            self.histories_[touched]
        )
        self.histories_[touched] = merged[:, :depth]
