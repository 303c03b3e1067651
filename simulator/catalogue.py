"""The catalogue: items with latent factors, a genre hierarchy (genres, micro-genres), quality,
popularity, price and release time; some live from the start, others arriving on a schedule
and retiring after a lifetime (cold start)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.items import ALWAYS_FROM, ALWAYS_UNTIL, ItemTable
from bandits.validation import check_integer, check_real
from simulator.sampling import GuideTable, first_distinct, sample_distinct

MAX_SCALE = 1e6
"""Largest bias scale: beyond it logits stop being meaningful numbers."""

MAX_POPULARITY_SHARE = 0.95
"""Largest popularity share of the candidate draw: the uniform rest keeps the number of draws
needed for distinct candidates bounded."""


def latent_scale(n_latent: int) -> float:
    """Standard deviation of tastes and item factors, ``(2 sqrt(d))**-0.5``, so that ``theta .
    phi`` has standard deviation 1/2 whatever ``d``."""
    return float((2.0 * np.sqrt(n_latent)) ** -0.5)


class Catalogue:
    """Items ``0 .. n_items - 1`` of each world, with ``s = latent_scale(n_latent)``:

    - factors (the candidates' features): without genres ``phi_i ~ N(0, s**2 I)``. With
      ``n_genres = G > 0`` and ``micro_genres = M`` per genre, a hierarchy of clusters: genre
      centres ``g_k ~ N(0, genre_share s**2 I)``, micro-genre centres ``m_j = g_{j // M} +
      N(0, micro_genre_share s**2 I)`` (micro-genre ``j`` belongs to genre ``j // M``), each
      item in a uniformly drawn micro-genre ``j_i`` with ``phi_i = m_{j_i} + N(0, (1 -
      genre_share - micro_genre_share) s**2 I)``; so ``phi_i ~ N(0, s**2 I)`` either way and
      items of one micro-genre are closer than items of one genre ("more like this");
    - quality ``b_i ~ N(0, bias_scale**2)`` (the logit bias);
    - popularity (if ``popularity_weight > 0``): item of popularity rank ``r`` (a random
      permutation) has log-popularity ``p_i = -popularity_exponent log(1 + r)`` (Zipf),
      centred to mean 0; its logit term is ``popularity_weight * p_i``;
    - price (if ``price_median > 0``): ``price_i = price_median exp(price_spread z_i)``,
      ``z_i ~ N(0, 1)`` (log-normal, median ``price_median``);
    - length (if ``length_median > 0``; a title's duration, e.g. minutes): ``length_i =
      length_median exp(length_spread y_i)``, ``y_i ~ N(0, 1)``; ``log(length_i /
      length_median)`` is an item feature and what the context's short-item preference
      (:class:`simulator.context.Context`) acts on;
    - release time: the step the item arrives (0 for the initial items); the novelty boost
      (:class:`simulator.trends.Trends`) decays with the age ``t - release_i``.

    ``offsets_ = b_i + popularity_weight p_i`` is the item's static logit term.

    Candidates: by default uniform among the live items (:func:`simulator.sampling.
    sample_distinct`). With ``candidate_popularity = rho > 0``, each request's
    ``max_candidates`` are the first distinct items of an i.i.d. stream over the live items
    drawn from the mixture ``(1 - rho) uniform + rho popularity``, the popularity part
    proportional to ``exp(p_i)`` (the Zipf popularity ``(1 + rank)**-popularity_exponent``),
    i.e. drawn without replacement proportionally to that mixture, then listed in random order
    (:meth:`draw_candidates`; a request with fewer candidates shows the first of them). A
    stream entry takes one uniform ``u``: below ``rho`` it is a popularity draw from the
    uniform ``u / rho``, else a uniform draw from ``(u - rho) / (1 - rho)``. A popularity draw
    inverts the cumulative popularity of the live items in one array of prefix sums over the
    catalogue built at reset, which stays valid as items arrive and retire (the live items
    are the initial ones plus one contiguous run): no rebuild. The inversion starts from an
    index table of the prefix sums built with them (:class:`simulator.sampling.GuideTable`),
    so it takes expected O(1) steps: the cost per request stays flat as the catalogue grows
    (``benchmarks/bench_simulator.py``).

    Items ``0 .. initial_items - 1`` are live always. The others arrive in order,
    ``items_per_step`` at the start of each step from step 1 (item ``initial_items + j`` at
    step ``1 + j // items_per_step``), and retire ``item_lifetime`` steps later (never, if 0).
    So the live items are the initial ones plus one contiguous run of the later ones, and a
    live item is found from its rank among them in O(1).

    The item features policies see (:meth:`features`, the item table) are the factors, then
    the one-hot of the genre (with genres), then ``log(price_i / price_median)`` (with prices).

    Parameters
    ----------
    n_items, n_latent : int
    bias_scale : float
    initial_items : int, optional
        Default ``n_items`` (no arrivals).
    items_per_step, item_lifetime : int
    n_genres, micro_genres : int
        0 genres: no hierarchy. ``micro_genres >= 1`` per genre.
    genre_share, micro_genre_share : float
        Shares of the factor variance in the genre and micro-genre centres, sum <= 1.
    popularity_weight, popularity_exponent : float
    price_median, price_spread : float
    length_median, length_spread : float
        0: items have no length.
    candidate_popularity : float
        In [0, 0.95]: the popularity share of the candidate draw (0: uniform).
    owner : str
        Named in error messages.

    Attributes
    ----------
    factors_ : ndarray of float64, shape (n_worlds * n_items, n_latent)
    biases_ : ndarray of float64, shape (n_worlds * n_items,)
        Quality. World ``w``'s item ``i`` is row ``w * n_items + i``.
    popularity_, prices_ : ndarray of float64, shape (n_worlds * n_items,)
        Log-popularity (0 without) and price (1 without).
    lengths_ : ndarray of float64, shape (n_worlds * n_items,)
        Length (1 without).
    offsets_ : ndarray of float64, shape (n_worlds * n_items,)
    genres_, micro_genres_ : ndarray of int64, shape (n_worlds * n_items,)
        0 without genres.
    genre_centres_ : ndarray of float64, shape (n_worlds, n_genres, n_latent)
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
        n_genres: int = 0,
        micro_genres: int = 1,
        genre_share: float = 0.5,
        micro_genre_share: float = 0.25,
        popularity_weight: float = 0.0,
        popularity_exponent: float = 1.0,
        price_median: float = 0.0,
        price_spread: float = 0.5,
        length_median: float = 0.0,
        length_spread: float = 0.5,
        candidate_popularity: float = 0.0,
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
        self.n_genres = check_integer(n_genres, "n_genres", owner, low=0)
        self.micro_genres = check_integer(micro_genres, "micro_genres", owner, low=1)
        self.genre_share = check_real(genre_share, "genre_share", owner, low=0.0, high=1.0)
        self.micro_genre_share = check_real(
            micro_genre_share, "micro_genre_share", owner, low=0.0, high=1.0 - self.genre_share
        )
        self.popularity_weight = check_real(
            popularity_weight, "popularity_weight", owner, low=0.0, high=MAX_SCALE
        )
        self.popularity_exponent = check_real(
            popularity_exponent, "popularity_exponent", owner, low=0.0, high=MAX_SCALE
        )
        self.price_median = check_real(price_median, "price_median", owner, low=0.0, high=1e12)
        self.price_spread = check_real(price_spread, "price_spread", owner, low=0.0, high=10.0)
        self.length_median = check_real(length_median, "length_median", owner, low=0.0, high=1e12)
        self.length_spread = check_real(length_spread, "length_spread", owner, low=0.0, high=10.0)
        self.candidate_popularity = check_real(
            candidate_popularity, "candidate_popularity", owner, low=0.0, high=MAX_POPULARITY_SHARE
        )
        self.lengths_: NDArray[np.float64] = np.zeros(0)
        self.cumulative_: NDArray[np.float64] = np.zeros(0)
        self.guide_ = GuideTable(np.zeros(1))
        self.factors_: NDArray[np.float64] = np.zeros((0, self.n_latent))
        self.biases_: NDArray[np.float64] = np.zeros(0)
        self.popularity_: NDArray[np.float64] = np.zeros(0)
        self.prices_: NDArray[np.float64] = np.zeros(0)
        self.offsets_: NDArray[np.float64] = np.zeros(0)
        self.genres_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.micro_genres_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.genre_centres_: NDArray[np.float64] = np.zeros((0, self.n_genres, self.n_latent))

    @property
    def has_prices(self) -> bool:
        return self.price_median > 0

    @property
    def has_lengths(self) -> bool:
        return self.length_median > 0

    @property
    def has_popularity(self) -> bool:
        return self.popularity_weight > 0 or self.candidate_popularity > 0

    @property
    def n_item_features(self) -> int:
        """Columns of :meth:`features`: factors, genre one-hot, log price, log length."""
        return self.n_latent + self.n_genres + int(self.has_prices) + int(self.has_lengths)

    @property
    def length_column(self) -> int:
        """Column of ``log(length / length_median)`` in :meth:`features` (with lengths)."""
        return self.n_latent + self.n_genres + int(self.has_prices)

    def reset(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Draw the items of ``n_worlds`` worlds (without genres, popularity and prices, the
        same draws as a plain latent-factor catalogue)."""
        size = n_worlds * self.n_items
        scale = latent_scale(self.n_latent)
        if self.n_genres:
            self._draw_hierarchy(rng, n_worlds)
        else:
            self.factors_ = rng.normal(0.0, scale, (size, self.n_latent))
            self.genres_ = self.micro_genres_ = np.zeros(size, dtype=np.int64)
            self.genre_centres_ = np.zeros((n_worlds, 0, self.n_latent))
        self.biases_ = rng.normal(0.0, self.bias_scale, size)
        self.popularity_ = np.zeros(size)
        if self.has_popularity:
            ranks = np.argsort(rng.random((n_worlds, self.n_items)), axis=1)
            log_popularity = -self.popularity_exponent * np.log1p(ranks)
            log_popularity -= log_popularity.mean(axis=1, keepdims=True)
            self.popularity_ = log_popularity.ravel()
        self.prices_ = np.ones(size)
        if self.has_prices:
            self.prices_ = self.price_median * np.exp(self.price_spread * rng.standard_normal(size))
        self.offsets_ = self.biases_ + self.popularity_weight * self.popularity_
        self.lengths_ = np.ones(size)
        if self.has_lengths:
            self.lengths_ = self.length_median * np.exp(
                self.length_spread * rng.standard_normal(size)
            )
        if self.candidate_popularity > 0:
            weights = np.exp(self.popularity_ - self.popularity_.max())
            self.cumulative_ = np.concatenate([[0.0], np.cumsum(weights)])
            self.guide_ = GuideTable(self.cumulative_)

    def _draw_hierarchy(self, rng: np.random.Generator, n_worlds: int) -> None:
        """Genre centres, micro-genre centres around them, item factors around those."""
        d, genres, micro = self.n_latent, self.n_genres, self.micro_genres
        variance = latent_scale(d) ** 2
        own = max(1.0 - self.genre_share - self.micro_genre_share, 0.0)
        centres = rng.normal(0.0, np.sqrt(self.genre_share * variance), (n_worlds, genres, d))
        micro_centres = np.repeat(centres, micro, axis=1) + rng.normal(
            0.0, np.sqrt(self.micro_genre_share * variance), (n_worlds, genres * micro, d)
        )
        local = rng.integers(0, genres * micro, size=(n_worlds, self.n_items))
        rows = local + (np.arange(n_worlds) * genres * micro)[:, None]
        noise = rng.normal(0.0, np.sqrt(own * variance), (n_worlds * self.n_items, d))
        self.factors_ = micro_centres.reshape(-1, d)[rows.ravel()] + noise
        self.micro_genres_ = local.ravel().astype(np.int64)
        self.genres_ = self.micro_genres_ // micro
        self.genre_centres_ = centres

    def features(self, rows: NDArray[np.int64] | slice) -> NDArray[np.float64]:
        """The item features of catalogue ``rows``: factors, genre one-hot, log price; shape
        (n, n_item_features)."""
        columns = [self.factors_[rows]]
        if self.n_genres:
            columns.append(np.eye(self.n_genres)[self.genres_[rows]])
        if self.has_prices:
            columns.append(np.log(self.prices_[rows] / self.price_median)[:, None])
        if self.has_lengths:
            columns.append(np.log(self.lengths_[rows] / self.length_median)[:, None])
        return np.concatenate(columns, axis=1) if len(columns) > 1 else columns[0]

    def release_times(self) -> NDArray[np.int64]:
        """Step each item (of one world) is released: its arrival, 0 for the initial ones."""
        return np.maximum(self.valid_from(), 0)

    def attributes(self, world: int = 0) -> dict[str, NDArray[Any]]:
        """World ``world``'s items: ``genre``, ``micro_genre``, ``quality``, ``popularity``
        (log), ``price``, ``length`` and ``release_time``, each of shape (n_items,)."""
        rows = slice(world * self.n_items, (world + 1) * self.n_items)
        return {
            "genre": self.genres_[rows].copy(),
            "micro_genre": self.micro_genres_[rows].copy(),
            "quality": self.biases_[rows].copy(),
            "popularity": self.popularity_[rows].copy(),
            "price": self.prices_[rows].copy(),
            "length": self.lengths_[rows].copy(),
            "release_time": self.release_times(),
        }

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

    def draw_candidates(
        self, rng: np.random.Generator, worlds: NDArray[np.int64], width: int, time: int
    ) -> NDArray[np.int64]:
        """``width`` distinct live items (ids within the world) per request of ``worlds``,
        drawn without replacement proportionally to ``(1 - rho) / n_live + rho exp(p_i) /
        sum_live exp(p)``, in random order; shape (n_requests, width)."""
        if self.candidate_popularity == 0:
            ranks = sample_distinct(self.n_live(time), worlds.shape[0], width, rng)
            return self.live_items(ranks, time)
        first, stop = self._run(time)
        n_live, initial, cumulative = self.n_live(time), self.initial_items, self.cumulative_
        guide = self.guide_
        share = self.candidate_popularity
        # Per world: the cumulative popularity where its items start, of its initial items,
        # where its live run starts, and of all its live items.
        base = np.arange((cumulative.size - 1) // self.n_items) * self.n_items
        start = cumulative[base]
        initial_mass = cumulative[base + initial] - start
        run_start = cumulative[base + initial + first]
        total = initial_mass + cumulative[base + initial + stop] - run_start

        single = total.size == 1  # one world: scalars instead of per-draw gathers
        uniform_scale = n_live / (1.0 - share)
        # The uniform ranks rise with the uniform: if the largest uniform below 1 gives a
        # rank below n_live, no rank needs clipping to n_live - 1.
        clip_top = int((1.0 - 2.0**-53 - share) * uniform_scale) >= n_live

        def draw(rows: NDArray[np.int64], m: int) -> NDArray[np.int64]:
            uniforms = rng.random((rows.size, m))
            # Below share: a popularity draw from uniforms / share; else a uniform rank from
            # (uniforms - share) / (1 - share) (negative for the popularity draws, replaced).
            scaled = np.subtract(uniforms, share)
            scaled *= uniform_scale
            out = scaled.astype(np.int64)
            if clip_top:  # round-off at the top
                np.minimum(out, n_live - 1, out=out)
            if first:  # live_items in place: ranks past the initial items skip the retired
                out += (out >= initial) * first  # not np.add's where=: slow on a random mask
            # Flat positions of the popularity draws, row-major (boolean-mask indexing costs
            # several times more than take/put by index with a random mask).
            hit = np.flatnonzero(uniforms < share)
            target = np.take(uniforms, hit)
            if single:
                world: NDArray[np.int64] | int = 0
                target *= total[0] / share
            else:
                world = worlds[rows[hit // m]]
                target *= total[world] / share
            later = target >= initial_mass[world]  # the live run; else the initial items
            # start + target below the initial items' mass, else run_start + target -
            # initial_mass, selected by multiplying with 0 or 1 (exact for these finite
            # values, and several times faster than np.where's branch on a random mask).
            value = np.add(run_start[world], target)
            value -= initial_mass[world]
            value *= later
            if not single:  # one world's prefix sums start at 0: 0 + target is target
                target += start[world]
            target *= ~later
            value += target
            found = guide.search(value)
            if single and not first:
                # Only the top can need clipping: below initial_mass = cumulative[initial]
                # the value finds an initial item, and above it the value is (initial_mass +
                # target) - initial_mass >= initial_mass (rounding is monotone), an item of
                # the run, which starts right after the initial ones.
                np.minimum(found, initial + stop - 1, out=found)
            else:
                if not single:
                    found -= world * self.n_items
                low = later * (initial + first)  # round-off at an edge clipped
                high = later * stop
                high += initial - 1
                np.clip(found, low, high, out=found)
            # An index assignment on the flat view (out is contiguous), as np.put copies
            # element by element (a memmove call each).
            out.reshape(-1)[hit] = found
            return out

        return first_distinct(draw, self.n_items, worlds.shape[0], width, rng)

    def item_table(self, world: int = 0) -> ItemTable:
        """World ``world``'s items with their features and availability windows."""
        rows = slice(world * self.n_items, (world + 1) * self.n_items)
        return ItemTable(
            np.arange(self.n_items), self.features(rows), self.valid_from(), self.valid_until()
        )
