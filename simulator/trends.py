"""Scheduled non-stationarity of the items: seasonal genre trends and popularity shocks."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError, check_integer, check_real
from simulator.catalogue import MAX_SCALE, Catalogue


class Trends:
    """Logit terms that change on a schedule, besides the users' drift.

    - seasonal genre trends: genre ``g`` of world ``w`` has the logit term ``trend_amplitude
      * cos(2 pi t / trend_period - phase_wg)``, phases uniform in ``[0, 2 pi)`` drawn at
      reset (so genres peak at different times of the year);
    - popularity shocks: every ``shock_every`` steps (at ``t = shock_every, 2 shock_every,
      ...``) ``shock_items`` items per world, drawn uniformly with replacement among the live
      ones, get a boost ``shock_size * shock_decay**(t - t0)`` to their logit for ``t0 <= t <
      t0 + shock_duration`` (``t0`` the shock's step; boosts of one item add up);
    - novelty: an item released at step ``r`` (0 for the initial items) has the logit term
      ``novelty_weight * novelty_decay**(t - r)`` (a new title's buzz, fading with age; a
      half-life of ``log 2 / -log novelty_decay`` steps).

    Parameters
    ----------
    trend_amplitude : float
    trend_period : int
        Steps per cycle (> 0 when the amplitude is).
    shock_every, shock_items, shock_duration : int
    shock_size, shock_decay : float
    novelty_weight : float
        0: no novelty.
    novelty_decay : float
        In (0, 1].
    owner : str

    Attributes
    ----------
    phases_ : ndarray of float64, shape (n_worlds, n_genres)
    boosts_ : ndarray of float64, shape (n_worlds * n_items,)
        The shock boost of every item at the last :meth:`evolve`.
    """

    def __init__(
        self,
        *,
        trend_amplitude: float = 0.0,
        trend_period: int = 0,
        shock_every: int = 0,
        shock_items: int = 0,
        shock_size: float = 0.0,
        shock_decay: float = 1.0,
        shock_duration: int = 0,
        novelty_weight: float = 0.0,
        novelty_decay: float = 0.9,
        owner: str = "Trends",
    ) -> None:
        self.trend_amplitude = check_real(
            trend_amplitude, "trend_amplitude", owner, low=0.0, high=MAX_SCALE
        )
        self.trend_period = check_integer(
            trend_period, "trend_period", owner, low=1 if self.trend_amplitude > 0 else 0
        )
        self.shock_every = check_integer(shock_every, "shock_every", owner, low=0)
        shocks = self.shock_every > 0
        self.shock_items = check_integer(shock_items, "shock_items", owner, low=int(shocks))
        self.shock_size = check_real(
            shock_size, "shock_size", owner, low=-MAX_SCALE, high=MAX_SCALE
        )
        self.shock_decay = check_real(
            shock_decay, "shock_decay", owner, low=0.0, low_open=True, high=1.0
        )
        self.shock_duration = check_integer(
            shock_duration, "shock_duration", owner, low=int(shocks)
        )
        self.novelty_weight = check_real(
            novelty_weight, "novelty_weight", owner, low=-MAX_SCALE, high=MAX_SCALE
        )
        self.novelty_decay = check_real(
            novelty_decay, "novelty_decay", owner, low=0.0, low_open=True, high=1.0
        )
        self.phases_: NDArray[np.float64] = np.zeros((0, 0))
        self.boosts_: NDArray[np.float64] = np.zeros(0)
        self._rows: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._starts: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._novelty_table: NDArray[np.float64] = np.zeros(0)

    @property
    def has_seasons(self) -> bool:
        return self.trend_amplitude > 0

    @property
    def has_shocks(self) -> bool:
        return self.shock_every > 0

    @property
    def has_novelty(self) -> bool:
        return self.novelty_weight != 0

    def novelty(self, releases: NDArray[np.float64], time: int) -> NDArray[np.float64]:
        """``novelty_weight * novelty_decay**(time - release)`` of items released at
        ``releases`` (any shape, steps); live items have ``release <= time``."""
        age = np.maximum(time - releases, 0.0)
        return self.novelty_weight * np.exp(np.log(self.novelty_decay) * age)

    def novelty_of_ages(self, ages: NDArray[np.int64], time: int) -> NDArray[np.float64]:
        """:meth:`novelty` of items of integer ``ages`` (``time`` minus release, any shape;
        negative ages count as 0), looked up in a table of ``novelty`` at every age up to
        ``time`` (extended as time goes on), so a step costs one lookup per candidate, not one
        ``exp``; the values are those :meth:`novelty` computes."""
        if self._novelty_table.size <= time:
            size = max(time + 1, 2 * self._novelty_table.size, 64)
            steps = np.arange(size, dtype=np.float64)
            self._novelty_table = self.novelty(-steps, 0)
        return np.take(self._novelty_table, ages, mode="clip")  # ages <= time < size

    def check_catalogue(self, catalogue: Catalogue, owner: str) -> None:
        """Seasonal genre trends need genres."""
        if self.has_seasons and not catalogue.n_genres:
            raise InputValueError(
                f"The 'trend_amplitude' parameter of {owner} applies to genres: set n_genres > 0; "
                f"got trend_amplitude={self.trend_amplitude!r} with n_genres=0."
            )

    def reset(self, rng: np.random.Generator, n_worlds: int, catalogue: Catalogue) -> None:
        """Draw the genre phases (with trends); no shock yet."""
        if self.has_seasons:
            self.phases_ = rng.uniform(0.0, 2 * np.pi, (n_worlds, catalogue.n_genres))
        self.boosts_ = np.zeros(n_worlds * catalogue.n_items)
        self._rows = np.zeros(0, dtype=np.int64)
        self._starts = np.zeros(0, dtype=np.int64)

    def genre_terms(self, time: int) -> NDArray[np.float64] | None:
        """The seasonal term of every genre at ``time``, shape (n_worlds, n_genres); None
        without trends."""
        if not self.has_seasons:
            return None
        angle = 2 * np.pi * (time % self.trend_period) / self.trend_period
        return self.trend_amplitude * np.cos(angle - self.phases_)

    def evolve(
        self, rng: np.random.Generator, time: int, catalogue: Catalogue, n_worlds: int
    ) -> NDArray[np.int64]:
        """Start the shocks due at ``time``, end the expired ones, and update ``boosts_``;
        returns the catalogue rows whose boost changed (draws only when a shock is due)."""
        if not self.has_shocks or time <= 0:
            return np.zeros(0, dtype=np.int64)
        before = self._rows
        if time % self.shock_every == 0:
            ranks = rng.integers(0, catalogue.n_live(time), (n_worlds, self.shock_items))
            local = catalogue.live_items(ranks, time)
            rows = (local + np.arange(n_worlds)[:, None] * catalogue.n_items).ravel()
            self._rows = np.concatenate([self._rows, rows])
            self._starts = np.concatenate([self._starts, np.full(rows.size, time)])
        alive = time - self._starts < self.shock_duration
        self._rows, self._starts = self._rows[alive], self._starts[alive]
        self.boosts_[before] = 0.0
        boost = self.shock_size * self.shock_decay ** (time - self._starts).astype(np.float64)
        np.add.at(self.boosts_, self._rows, boost)
        return np.union1d(before, self._rows)
