"""The world: catalogue, users, context, choice model and reward wired into one step of
dynamics, for ``n_worlds`` independent worlds stacked along the request axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from bandits.observation import PAD_ID
from bandits.validation import InputValueError, check_integer, check_real
from simulator.catalogue import MAX_SCALE, Catalogue
from simulator.choice import ChoiceModel
from simulator.context import Context
from simulator.fatigue import Fatigue
from simulator.reward import Reward
from simulator.trends import Trends
from simulator.users import Users

BASE_LOGIT = -1.5
"""Offset of every utility logit: sets the typical attraction near 0.2."""

MEMORY_LIMIT = 8 * 2**30
"""Largest world (users, items, histories) or batch an environment may hold, in bytes."""

_INT64_MAX = np.iinfo(np.int64).max

GATHER_ROWS = 128
"""Requests per block of :meth:`World._gather` (a block's features, up to a few hundred
kilobytes, stay in the cache between the gather and the taste products)."""

LINE_NUMBERS = 8
"""Float64 numbers in a 64-byte cache line: item rows this narrow hold features and the
per-item numbers in one table."""

WORD_NUMBERS = (2, 4)
"""Widths (float64 numbers) of rows that ``np.take`` copies as 16- or 32-byte words, about
twice as fast as other widths (a memmove per row): the narrow table apart from the features
is packed or padded to one of them when it can be."""


@dataclass(frozen=True)
class Batch:
    """The requests of one step, in stacked-world rows (``n_worlds * n_requests``).

    Attributes
    ----------
    time : int
    worlds, users, counts : ndarray of int64, shape (n_rows,)
        World of each request, its user (row of the stacked users), its candidate count.
    items : ndarray of int64, shape (n_rows, max_candidates)
        Stacked catalogue row of each candidate (the world's first item for padding).
    real : ndarray of bool, shape (n_rows, max_candidates)
        ``worlds`` is the world's own, shared by its batches; so are ``counts`` and ``real``
        (read-only) where every request has ``max_candidates`` (step 0, or ``min_candidates
        == max_candidates``), else they are the step's own.
    logits, values : ndarray of float64, shape (n_rows, max_candidates)
        Utility logit and expected reward of a click (0 for padding) of each candidate.
    features : ndarray of float64, shape (n_rows, max_candidates, n_item_features)
        The candidates' features, factors first (0 for padding); with narrow item rows, a
        view of the gathered rows of ``World.rows_`` (not contiguous).
    genres : ndarray of int64, shape (n_rows, max_candidates)
    signals : ndarray of float64, shape (n_rows, n_signals)
        The context signals.
    """

    time: int
    worlds: NDArray[np.int64]
    users: NDArray[np.int64]
    counts: NDArray[np.int64]
    items: NDArray[np.int64]
    real: NDArray[np.bool_]
    logits: NDArray[np.float64]
    values: NDArray[np.float64]
    features: NDArray[np.float64]
    genres: NDArray[np.int64]
    signals: NDArray[np.float64]


def _aligned_empty(shape: tuple[int, int]) -> NDArray[np.float64]:
    """An uninitialised float64 array of ``shape`` whose data start on a 64-byte boundary."""
    size = shape[0] * shape[1]
    buffer = np.empty(size + 8)
    skip = (-buffer.ctypes.data % 64) // 8
    return buffer[skip : skip + size].reshape(shape)


def _cells(slates: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    """Flat indices into (n_rows, width) arrays of each slate's candidates, shape (n_rows,
    slate_size): ``np.take(a, cells)`` is ``np.take_along_axis(a, slates, axis=1)``, without
    its broadcast index arrays."""
    return slates + (np.arange(slates.shape[0]) * width)[:, None]


def _splitmix64(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Steele, Lea and Flood's splitmix64 finaliser (a bijection of 64-bit integers that mixes
    every input bit into every output bit), elementwise, wrapping modulo 2**64."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class World:
    """Requests, candidates, attractions, feedback and ground truth, from the parts.

    A request at step ``t`` of world ``w``: a user arrives (:class:`Users`), the context
    signals are drawn (:class:`Context`), ``n`` candidates (``n`` in ``[min_candidates,
    max_candidates]``, varying from request to request and from step to step:
    :meth:`candidate_counts`) are drawn uniformly among the live items
    (:class:`Catalogue`) in O(max_candidates), and candidate ``i`` (of genre ``g``) has the
    utility logit

        ``logit_scale * (theta_u + c M) . phi_i + o_i + s_g(t) + h_i(t) + n_i(t) + a(c)
        - b(c, t) y_i - P_ug(t) - R_ui(t) + BASE_LOGIT``

    with ``o_i`` the item's quality and popularity (:class:`Catalogue`), ``s_g(t)`` the
    seasonal genre trend, ``h_i(t)`` the popularity shocks and ``n_i(t)`` the novelty boost
    decaying with the item's age since release (:class:`Trends`), ``a(c)`` the device's
    attention offset and ``b(c, t) y_i`` the context's preference for short items (``y_i =
    log(length_i / length_median)``; :class:`Context`), ``P_ug(t)`` the fatigue and
    boredom penalty and ``R_ui(t)`` the penalty of an item the user was shown (or clicked)
    recently (:class:`Fatigue`). Candidates are drawn among the live items only
    (released at or before ``t``, not yet retired), uniformly or tilted by popularity
    (:meth:`Catalogue.draw_candidates`). The choice model turns the logits of the shown slate into
    clicks, the reward into rewards, and both give the exact expected reward of any slate and
    the best one. After a step, clicks go to the histories and pull the tastes
    (:class:`Users`), and exposures and clicks to the fatigue.

    Item layout: the per-item numbers the logits and rewards need (static logit term ``(o_i +
    h_i) + BASE_LOGIT``, summed once per item rather than per candidate; expected reward of a
    click; then as the parts have them genre, release step, log length) are the rows of
    ``rows_``, and the items' features (what the observation shows, factors first) the rows of
    ``table_``, each gathered whole per candidate with ``np.take``.
    When a feature row and its numbers fit one 64-byte cache line (``LINE_NUMBERS``, e.g. the
    latent-factor preset), they share one row of the line-aligned ``rows_``: one random read
    per candidate in a large catalogue instead of two, and the batch's ``features`` are a view
    of the gathered rows (not contiguous). Wider rows keep the narrow table apart, so that the
    passes over its columns read a small array, not strided columns of the wide features;
    that table is packed (genre and release step in one column) or padded to 2 or 4 numbers
    where one column fewer or more does it (``WORD_NUMBERS``).

    Stacked worlds: world ``w``'s users and items are rows ``w * n_users + u`` and ``w *
    n_items + i`` of the parts' arrays; observations name them by ``u`` and ``i``.

    Parameters
    ----------
    catalogue, users, context, choice_model, reward
        The parts.
    fatigue, trends : optional
        Default: none.
    n_requests : int
        Requests per step and world.
    min_candidates, max_candidates : int
        ``slate_size <= min_candidates <= max_candidates <= initial_items``.
    logit_scale : float
        Weight of the taste term.
    owner : str
    """

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        users: Users,
        context: Context,
        choice_model: ChoiceModel,
        reward: Reward,
        fatigue: Fatigue | None = None,
        trends: Trends | None = None,
        n_requests: int,
        min_candidates: int,
        max_candidates: int,
        logit_scale: float,
        owner: str = "World",
    ) -> None:
        self.catalogue, self.users, self.context = catalogue, users, context
        self.choice_model, self.reward = choice_model, reward
        self.fatigue = Fatigue(owner=owner) if fatigue is None else fatigue
        self.trends = Trends(owner=owner) if trends is None else trends
        self._check_parts(owner)
        self.slate_size = choice_model.slate_size
        self.n_requests = check_integer(n_requests, "n_requests", owner, low=1)
        fewest = check_integer(min_candidates, "min_candidates", owner, low=1)
        if self.slate_size > fewest:
            raise InputValueError(
                f"The 'slate_size' parameter of {owner} must be <= min_candidates={fewest} (a "
                f"request fills its slate from its own candidates, at least min_candidates of "
                f"them): lower slate_size or raise min_candidates; got slate_size="
                f"{self.slate_size}."
            )
        self.min_candidates = check_integer(
            min_candidates, "min_candidates", owner, low=self.slate_size, high=catalogue.n_items
        )
        self.max_candidates = check_integer(
            max_candidates, "max_candidates", owner, low=self.min_candidates, high=catalogue.n_items
        )
        if self.max_candidates > catalogue.initial_items:
            raise InputValueError(
                f"The 'initial_items' parameter of {owner} must be >= max_candidates="
                f"{self.max_candidates} (every request needs that many live items); got "
                f"{catalogue.initial_items}."
            )
        self.logit_scale = check_real(logit_scale, "logit_scale", owner, low=0.0, high=MAX_SCALE)
        self.n_worlds = 1
        self.check_memory(1, owner)

    def _check_parts(self, owner: str) -> None:
        """The parts agree: one genre count, prices for a purchase reward, genres for fatigue
        and trends."""
        genres = self.catalogue.n_genres
        if self.users.n_genres != genres:
            raise InputValueError(
                f"The users and the catalogue of {owner} must have the same 'n_genres'; got "
                f"{self.users.n_genres} and {genres}."
            )
        if self.reward.needs_prices and not self.catalogue.has_prices:
            raise InputValueError(
                f"The 'reward' of {owner} buys items, which needs prices: set price_median > 0; "
                f"got price_median={self.catalogue.price_median!r}."
            )
        if self.fatigue.per_genre and not genres:
            raise InputValueError(
                f"Fatigue and boredom of {owner} are per genre: set n_genres > 0 (or "
                f"exposure_fatigue=click_fatigue=0); got n_genres=0."
            )
        self.trends.check_catalogue(self.catalogue, owner)
        if self.context.prefers_short and not self.catalogue.has_lengths:
            raise InputValueError(
                f"The short-item preferences of {owner} act on item lengths: set "
                f"length_median > 0 (or phone_short_preference=morning_short_preference=0); "
                f"got length_median={self.catalogue.length_median!r}."
            )

    @property
    def n_context_features(self) -> int:
        return self.users.n_features + self.context.n_signals

    def context_names(self) -> list[str]:
        """Names of the observation's ``context`` columns: the user features, then the
        context signals (``device_phone``, ``day_sin``, ...)."""
        return self.users.feature_names() + self.context.signal_names()

    @property
    def n_item_features(self) -> int:
        return self.catalogue.n_item_features

    def check_memory(self, n_worlds: int, owner: str) -> None:
        """Refuse sizes whose world or batch would not fit in ``MEMORY_LIMIT``, naming them."""
        d = self.users.n_latent
        world = (
            8
            * n_worlds
            * (
                self.users.n_users * (2 * d + self.users.history_length)
                + self.catalogue.n_items * (2 * self.n_item_features + 8)
            )
        )
        batch = (
            8 * n_worlds * self.n_requests * self.max_candidates * (2 * self.n_item_features + 8)
        )
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
        self,
        rng: np.random.Generator,
        n_worlds: int,
        arrivals: np.random.Generator | None = None,
    ) -> Batch:
        """Draw ``n_worlds`` new worlds from ``rng`` and their first batch from ``arrivals``
        (default ``rng``)."""
        self.n_worlds = n_worlds
        catalogue = self.catalogue
        self.users.reset(rng, n_worlds)
        catalogue.reset(rng, n_worlds)
        if catalogue.n_genres:
            share = np.sqrt(catalogue.genre_share) if catalogue.genre_share > 0 else 1.0
            self.users.mix_genres(rng, catalogue.genre_centres_ / share)
        self.context.reset(rng, n_worlds, self.users.n_users)
        size = n_worlds * catalogue.n_items
        self.reward.reset(rng, size, catalogue.prices_ if catalogue.has_prices else None)
        self.trends.reset(rng, n_worlds, catalogue)
        self.fatigue.reset(n_worlds * self.users.n_users, catalogue.n_genres)
        features = catalogue.features(slice(None))
        n_features = features.shape[1]
        columns = [catalogue.offsets_ + BASE_LOGIT, self.reward.values(np.arange(size))]
        genres = catalogue.genres_ if catalogue.n_genres else None
        releases = np.tile(catalogue.release_times(), n_worlds) if self.trends.has_novelty else None
        whole = [column for column in (genres, releases) if column is not None]
        # One table when a whole row fits a cache line; else the narrow numbers apart, so that
        # the passes over them do not stride through the wide features.
        self._merged = n_features + len(columns) + len(whole) <= LINE_NUMBERS  # lengths: a feature
        lengths = catalogue.has_lengths and not self._merged
        # Apart, the narrow rows are brought to a width of WORD_NUMBERS where one fewer or
        # one more column does it: genre and release step share one column, ``release *
        # 2**bits + genre`` (exact in float64), or a column of padding is added.
        width = len(columns) + len(whole) + lengths
        bits = max(int(catalogue.n_genres - 1).bit_length(), 1)
        self._genre_bits = 0
        if (
            not self._merged
            and width not in WORD_NUMBERS
            and width - 1 in WORD_NUMBERS
            and genres is not None
            and releases is not None
            and releases.max() < 2 ** (52 - bits)
        ):
            self._genre_bits = bits
            whole = [(releases << bits) | genres]
        columns += [column.astype(np.float64) for column in whole]
        if lengths:
            columns.append(features[:, catalogue.length_column])
        if (
            not self._merged
            and len(columns) not in WORD_NUMBERS
            and len(columns) + 1 in WORD_NUMBERS
        ):
            columns.append(np.zeros(size))
        first = n_features if self._merged else 0
        self.rows_ = _aligned_empty((size, first + len(columns)))
        if self._merged:
            self.rows_[:, :n_features] = features
            self.table_ = self.rows_[:, :n_features]
        else:
            self.table_ = np.ascontiguousarray(features)
        self.rows_[:, first:] = np.stack(columns, axis=1)
        self._first = first  # column of the static logit term in a gathered row
        self._genre_column = self._release_column = self._length_column = -1
        extra = first + 2
        if catalogue.n_genres:
            self._genre_column, extra = extra, extra + 1
        if self.trends.has_novelty:
            if self._genre_bits:  # the same column
                self._release_column = self._genre_column
            else:
                self._release_column, extra = extra, extra + 1
        if catalogue.has_lengths:
            self._length_column = catalogue.length_column if self._merged else extra
        self.worlds_ = np.repeat(np.arange(n_worlds), self.n_requests)
        self._full = np.full(n_worlds * self.n_requests, self.max_candidates, dtype=np.int64)
        self._all_real = np.ones((self._full.size, self.max_candidates), dtype=np.bool_)
        self._full.flags.writeable = self._all_real.flags.writeable = False  # shared by batches
        return self.next_batch(rng if arrivals is None else arrivals, 0)

    def evolve(self, rng: np.random.Generator, time: int) -> None:
        """Apply the drift and shocks due at step ``time`` (nothing drawn when none is due)."""
        self.users.evolve(rng, time)
        changed = self.trends.evolve(rng, time, self.catalogue, self.n_worlds)
        if changed.size:
            offsets = self.catalogue.offsets_[changed] + self.trends.boosts_[changed]
            offsets += BASE_LOGIT  # as each step added it
            self.rows_[changed, self._first] = offsets  # in rows_: a view would part in a copy

    def next_batch(
        self,
        rng: np.random.Generator,
        time: int,
        *,
        evolve: bool = True,
        counts_at: int | None = None,
    ) -> Batch:
        """Draw the requests of step ``time`` (after the drift and shocks due then, unless
        ``evolve`` is False: a frozen world), with the candidate counts of step ``counts_at``
        (default ``time``; :meth:`candidate_counts`)."""
        if evolve:
            self.evolve(rng, time)
        worlds = self.worlds_
        users = self.users.arrive(rng, worlds, time, self.fatigue.absent(time))
        counts, real = self._full, self._all_real
        counts_at = time if counts_at is None else counts_at
        padded = counts_at > 0 and self.min_candidates < self.max_candidates
        if padded:
            counts = np.tile(self.candidate_counts(counts_at), self.n_worlds)
            real = np.arange(self.max_candidates) < counts[:, None]
        local = self.catalogue.draw_candidates(rng, worlds, self.max_candidates, time)
        if padded:
            local[~real] = 0
        items = local + (worlds * self.catalogue.n_items)[:, None]
        repeats = None
        if self.fatigue.repeats:  # now, while the items are in the cache (not after the gather)
            repeats = self.fatigue.repeat_terms(users, items, time)
        signals = self.context.draw(rng, users, time)
        taste = self.users.tastes_[users]
        shift = self.context.taste_shift(signals, worlds)
        if shift is not None:
            taste = taste + shift
        first = self._first  # the static logit term, then the expected reward
        features, scalars, logits, values = self._gather(items, taste)
        genres = np.zeros(items.shape, dtype=np.int64)
        codes = None  # release * 2**bits + genre, when packed
        if self._genre_bits:
            codes = scalars[:, :, self._genre_column].astype(np.int64)
            genres = codes & ((1 << self._genre_bits) - 1)
        elif self.catalogue.n_genres:
            genres = scalars[:, :, self._genre_column].astype(np.int64)
        logits *= self.logit_scale
        logits += scalars[:, :, first]  # with BASE_LOGIT
        seasonal = self.trends.genre_terms(time)
        if seasonal is not None:
            n_genres = self.catalogue.n_genres
            cells = genres if self.n_worlds == 1 else genres + (worlds * n_genres)[:, None]
            logits += np.take(seasonal, cells)
        attention = self.context.attention(signals)
        if attention is not None:
            logits += attention[:, None]
        shortness = self.context.short_preference(signals, time)
        if shortness is not None:
            logits -= shortness[:, None] * scalars[:, :, self._length_column]
        if self.trends.has_novelty:
            if codes is not None:
                codes >>= self._genre_bits  # the release steps
                ages = np.subtract(time, codes, out=codes)
            else:
                ages = time - scalars[:, :, self._release_column].astype(np.int64)
            logits += self.trends.novelty_of_ages(ages, time)
        if self.fatigue.active:
            logits -= self.fatigue.penalty(users, genres, time, repeats=repeats)
        if padded:
            features[~real] = 0.0
            values[~real] = 0.0
        return Batch(
            time, worlds, users, counts, items, real, logits, values, features, genres, signals
        )

    def _gather(
        self, items: NDArray[np.int64], taste: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The candidates' feature rows and per-item numbers (one gather of whole rows each:
        np.take runs 3-5x faster than fancy indexing here), their taste terms ``phi_i .
        theta`` and their expected rewards of a click, shapes (n_rows, width, ...), (n_rows,
        width), (n_rows, width).

        Blocks of ``GATHER_ROWS`` requests: each block's gathered features are multiplied
        with its tastes (one matrix-vector product per request, numpy's matmul, about twice
        einsum's speed) while they are still in the cache, rather than read back from memory
        after the whole batch (megabytes) is gathered. ``mode="clip"`` (the rows are valid)
        lets ``np.take`` write into the blocks unbuffered. The products are the same, request
        by request.

        Each block first gathers the expected rewards alone, by flat index into ``rows_``
        (8-byte elements): in a catalogue larger than the cache that loop has many more
        row reads in flight than the whole-row gather (a memmove per row), so it fetches the
        block's rows into the cache for the whole-row gather after it, and leaves the
        rewards contiguous. At 1,000,000 items it cut the gathers' time by about a quarter;
        in a catalogue that fits the cache it costs about what the strided copy of the
        rewards out of the rows cost.
        """
        n, width = items.shape
        d = self.users.n_latent
        row_width = self.rows_.shape[1]
        scalars = np.empty((n, width, row_width))
        features = scalars[:, :, : self._first]
        if not self._merged:
            features = np.empty((n, width, self.table_.shape[1]))
        logits = np.empty((n, width, 1))
        values = np.empty((n, width))
        flat = self.rows_.reshape(-1)  # a view: the rows are contiguous
        cells = items * row_width
        cells += self._first + 1  # the expected reward's column
        for start in range(0, n, GATHER_ROWS):
            block = slice(start, start + GATHER_ROWS)
            np.take(flat, cells[block], out=values[block], mode="clip")
            if not self._merged:
                np.take(self.table_, items[block], axis=0, out=features[block], mode="clip")
            np.take(self.rows_, items[block], axis=0, out=scalars[block], mode="clip")
            np.matmul(features[block, :, :d], taste[block, :, None], out=logits[block])
        return features, scalars, logits[:, :, 0], values

    def candidate_counts(self, time: int = 0) -> NDArray[np.int64]:
        """The candidate count of each request of step ``time``, shape (n_requests,): the same
        in every world and for every seed and policy.

        Step 0 (the first batch after a reset) offers ``max_candidates`` to every request. At
        step ``t >= 1`` request ``i`` offers ``min_candidates + h(t n_requests + i) mod
        (max_candidates - min_candidates + 1)``, ``h`` the splitmix64 mixer, so the counts
        spread evenly over the range and vary from request to request and from step to step
        (also with one request per step). The environments set their action space to the
        counts of the batch they serve (:meth:`simulator.spaces.SlateSpace.set_counts`), so
        ``action_space.sample()`` draws uniformly among each request's own slates, valid for
        the next ``step``; and since no step offers more than step 0, an action drawn at any
        step is valid for the first step after a reset (gymnasium's checker draws one before
        it resets).
        """
        n = self.n_requests
        if time == 0 or self.min_candidates == self.max_candidates:
            return np.full(n, self.max_candidates, dtype=np.int64)
        spread = np.uint64(self.max_candidates - self.min_candidates + 1)
        slots = np.arange(n, dtype=np.uint64) + np.uint64(time) * np.uint64(n)
        return self.min_candidates + (_splitmix64(slots) % spread).astype(np.int64)

    def observation(self, batch: Batch) -> dict[str, NDArray[Any]]:
        """The batch in the ``SlateObservation.to_mapping()`` layout (``slate_size`` 0-d),
        stacked-world rows; built once, owned by the caller."""
        catalogue_offset = batch.worlds[:, None] * self.catalogue.n_items
        n_signals = self.context.n_signals
        context = self.users.features(batch.users, extra=n_signals)
        if n_signals:
            context[:, self.users.n_features :] = batch.signals
        n = self.n_requests
        ids = batch.items - catalogue_offset
        if self.min_candidates < self.max_candidates:  # else every candidate is real
            ids[~batch.real] = PAD_ID
        return {
            "context": context,
            "candidate_ids": ids,
            "candidate_features": batch.features,
            "n_candidates": batch.counts.copy(),
            "slate_size": np.asarray(self.slate_size, dtype=np.int64),
            "history": self.users.histories_[batch.users],
            "request_ids": np.tile(batch.time * n + np.arange(n), self.n_worlds),
            "user_ids": batch.users - batch.worlds * self.users.n_users,
            "times": np.full(batch.users.size, batch.time, dtype=np.int64),
        }

    def observation_space(self) -> spaces.Dict:
        """The space of one world's observations (n_requests rows)."""
        n, width, d = self.n_requests, self.max_candidates, self.n_item_features

        def ints(low: int, high: int, shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=low, high=high, shape=shape, dtype=np.int64)

        def reals(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=-np.inf, high=np.inf, shape=shape, dtype=np.float64)

        n_items, n_users = self.catalogue.n_items, self.users.n_users
        # n_candidates and slate_size use the bounds SlateObservation enforces, as a constant
        # quantity in a Box with low == high makes gymnasium warn.
        return spaces.Dict(
            {
                "context": reals((n, self.n_context_features)),
                "candidate_ids": ints(PAD_ID, n_items - 1, (n, width)),
                "candidate_features": reals((n, width, d)),
                "n_candidates": ints(self.slate_size, width, (n,)),
                "slate_size": ints(1, width, ()),
                "history": ints(PAD_ID, n_items - 1, (n, self.users.history_length)),
                "request_ids": ints(0, _INT64_MAX, (n,)),
                "user_ids": ints(PAD_ID, n_users - 1, (n,)),
                "times": ints(0, _INT64_MAX, (n,)),
            }
        )

    def expected_rewards(self, batch: Batch, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        """Exact expected reward per position of ``slates`` (checked), shape (n_rows,
        slate_size)."""
        cells = _cells(slates, batch.logits.shape[1])
        logits, values = np.take(batch.logits, cells), np.take(batch.values, cells)
        return self.choice_model.expected_rewards(logits, values)

    def best_slates(self, batch: Batch) -> NDArray[np.int64]:
        """The slates with the highest expected reward, shape (n_rows, slate_size)."""
        return self.choice_model.best_slates(batch.logits, batch.values, batch.real)

    def respond(
        self,
        rng: np.random.Generator,
        batch: Batch,
        slates: NDArray[np.int64],
        *,
        candidate_rewards: bool = False,
    ) -> dict[str, Any]:
        """Feedback to ``slates`` (checked) and the exact ground truth; records the clicks,
        pulls the tastes toward them and counts the fatigue.

        Returns
        -------
        dict
            ``"rewards"`` and ``"signals"`` (``"click"``, the reward's own, and ``"examined"``
            from a cascade), shape (n_rows, slate_size); ``"expected_reward"`` and
            ``"oracle_reward"``, shape (n_rows,); ``"expected_rewards"`` per position;
            ``"expected_signals"``, the exact expected total of each of the reward's signals
            (``"click"``, ``"watch_time"``, ``"purchase"``, ``"revenue"``), shape (n_rows,);
            ``"oracle_slates"``; with ``candidate_rewards=True``, ``"candidate_rewards"``,
            shape (n_rows, max_candidates, slate_size), where the choice model has it
            (position-based): an array of ``max_candidates x slate_size`` floats per request
            that nothing in the step needs, so it is built only when asked for.
        """
        uniforms = rng.random(slates.shape)
        cells = _cells(slates, batch.logits.shape[1])  # one flat index for every gather
        logits = np.take(batch.logits, cells)
        probabilities = self.choice_model.click_probabilities(logits)
        clicks, examined = self.choice_model.simulate(logits, uniforms, probabilities)
        shown = np.take(batch.items, cells)
        rewards, signals = self.reward.realise(clicks, shown, rng)
        if examined is not None:
            signals["examined"] = examined.astype(np.float64)
        expected = probabilities * np.take(batch.values, cells)
        oracle_slates = self.best_slates(batch)
        info: dict[str, Any] = {
            "rewards": rewards,
            "signals": signals,
            "expected_reward": expected.sum(axis=1),
            "oracle_reward": self.expected_rewards(batch, oracle_slates).sum(axis=1),
            "expected_rewards": expected,
            "expected_signals": {
                name: (probabilities * value).sum(axis=1)
                for name, value in self.reward.components(shown).items()
            },
            "oracle_slates": oracle_slates,
        }
        if candidate_rewards:
            candidate = self.choice_model.candidate_rewards(batch.logits, batch.values)
            if candidate is not None:
                info["candidate_rewards"] = candidate
        genres = np.take(batch.genres, cells)
        self.fatigue.observe(rng, batch.users, genres, clicks, batch.time, shown)
        offset = (batch.worlds * self.catalogue.n_items)[:, None]
        factors = None
        if self.users.click_drift > 0:  # from the catalogue, not the batch's large features
            factors = np.take(self.catalogue.factors_, shown, axis=0)
        self.users.record(batch.users, np.where(clicks, shown - offset, PAD_ID), factors)
        return info
