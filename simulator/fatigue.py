"""Fatigue, boredom and churn: a user's temporary loss of interest in a genre after repeated
exposure and clicks, in an item they were just shown or just clicked, and a bored user's
absence (their requests stop, then resume)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError, check_integer, check_real
from simulator.catalogue import MAX_SCALE
from simulator.sampling import group_newest_first

MAX_REPEAT_MEMORY = 10_000
"""Largest ``repeat_memory``: the buffer costs 24 bytes per user and remembered item."""

REPEAT_SLOTS = 1024
"""Flags per request of the repeat penalty's filter (a power of 2; one byte each)."""


class Fatigue:
    """Per user and genre, a fatigue level ``f`` with exponential forgetting.

    - after each step ``t``, ``f_ug <- f_ug + exposure_fatigue * (items of genre g shown to
      u) + click_fatigue * (items of genre g clicked by u)``; between steps ``f_ug`` decays
      by ``fatigue_decay`` per step (``f(t) = f(t0) fatigue_decay**(t - t0)``, applied when the
      user is next seen, so the cost is per request, not per user);
    - fatigue lowers the utility logit of the genre's items by ``fatigue_weight * f_ug``;
    - repeated items: each user keeps a buffer of the last ``repeat_memory = H`` items shown
      to them (newest first: later requests, then higher positions of a slate, are older),
      each with its step ``t_e`` and weight ``w_e = repeat_exposure + repeat_click *
      [clicked]``; item ``i`` then has its logit lowered by ``R_ui(t) = sum_e [item_e = i]
      w_e repeat_decay**(t - t_e)`` (summed over its entries in the buffer: an item shown
      twice counts twice, one shown more than H showings ago not at all). So a title just
      watched is unlikely to be watched again at once, and the loss fades by ``repeat_decay``
      per step. Like the genre fatigue it is part of the logit, so the exact expected rewards
      and best slates include it;
    - boredom (after SARDINE, Deffayet et al. 2023, where a topic with ``boredom_threshold`` of
      the recent clicks is bored and its interest zeroed for a window of steps; here the
      recent count is the decayed ``f``): when ``f_ug >= boredom_threshold`` (0: never), the
      user is bored with ``g`` for the next ``boredom_duration`` steps (the genre's logits
      lower by ``boredom_penalty``) and ``f_ug`` restarts from 0;
    - churn and return: a user who becomes bored leaves with probability
      ``churn_probability`` for ``A ~ Geometric(1 / mean_absence)`` steps (``A >= 1``, mean
      ``mean_absence``), making no request, then returns with everything carried over (tastes,
      history, fatigue decayed meanwhile).

    Rows of one batch all see the state before the batch; the batch's exposures and clicks
    count after it. The draws per step are fixed (one uniform and one geometric per request),
    whatever the slates. The repeat penalty costs O(max_candidates x H) per request.

    Parameters
    ----------
    exposure_fatigue, click_fatigue : float
    fatigue_decay : float
        In (0, 1].
    fatigue_weight : float
    boredom_threshold : float
        0: no boredom.
    boredom_duration : int
    boredom_penalty : float
    churn_probability : float
    mean_absence : float
        >= 1 when churn is on.
    repeat_exposure, repeat_click : float
        Logit penalty of an item shown (and added if clicked) at the step it was shown.
    repeat_decay : float
        In (0, 1].
    repeat_memory : int
        ``H``, the items remembered per user (0: no repeat penalty).
    owner : str

    Attributes
    ----------
    levels_ : ndarray of float64, shape (n_worlds * n_users, n_genres)
        ``f`` at step ``updated_``.
    updated_ : ndarray of int64, shape (n_worlds * n_users,)
    bored_until_ : ndarray of int64, shape (n_worlds * n_users, n_genres)
        Bored with the genre at steps ``t < bored_until_``.
    away_until_ : ndarray of int64, shape (n_worlds * n_users,)
        Absent at steps ``t < away_until_``.
    recent_items_, recent_times_ : ndarray of int64, shape (n_worlds * n_users, repeat_memory)
        The buffer: items shown (catalogue rows of the stacked worlds, -1 for an empty slot),
        newest first, and the step each was shown.
    recent_weights_ : ndarray of float64, shape (n_worlds * n_users, repeat_memory)
        ``w_e`` of each entry.
    """

    def __init__(
        self,
        *,
        exposure_fatigue: float = 0.0,
        click_fatigue: float = 0.0,
        fatigue_decay: float = 0.9,
        fatigue_weight: float = 0.0,
        boredom_threshold: float = 0.0,
        boredom_duration: int = 0,
        boredom_penalty: float = 0.0,
        churn_probability: float = 0.0,
        mean_absence: float = 0.0,
        repeat_exposure: float = 0.0,
        repeat_click: float = 0.0,
        repeat_decay: float = 0.9,
        repeat_memory: int = 0,
        owner: str = "Fatigue",
    ) -> None:
        self.exposure_fatigue = check_real(
            exposure_fatigue, "exposure_fatigue", owner, low=0.0, high=MAX_SCALE
        )
        self.click_fatigue = check_real(
            click_fatigue, "click_fatigue", owner, low=0.0, high=MAX_SCALE
        )
        self.fatigue_decay = check_real(
            fatigue_decay, "fatigue_decay", owner, low=0.0, low_open=True, high=1.0
        )
        self.fatigue_weight = check_real(
            fatigue_weight, "fatigue_weight", owner, low=0.0, high=MAX_SCALE
        )
        self.boredom_threshold = check_real(
            boredom_threshold, "boredom_threshold", owner, low=0.0, high=MAX_SCALE
        )
        bored = self.boredom_threshold > 0
        self.boredom_duration = check_integer(
            boredom_duration, "boredom_duration", owner, low=1 if bored else 0
        )
        self.boredom_penalty = check_real(
            boredom_penalty, "boredom_penalty", owner, low=0.0, high=MAX_SCALE
        )
        self.churn_probability = check_real(
            churn_probability, "churn_probability", owner, low=0.0, high=1.0
        )
        if self.churn_probability > 0 and not bored:
            raise InputValueError(
                f"The 'churn_probability' parameter of {owner} needs boredom (users leave when "
                f"they become bored): set boredom_threshold > 0; got churn_probability="
                f"{churn_probability!r} with boredom_threshold={boredom_threshold!r}."
            )
        self.mean_absence = check_real(
            mean_absence,
            "mean_absence",
            owner,
            low=1.0 if self.churn_probability > 0 else 0.0,
            high=1e9,
        )
        self.repeat_exposure = check_real(
            repeat_exposure, "repeat_exposure", owner, low=0.0, high=MAX_SCALE
        )
        self.repeat_click = check_real(repeat_click, "repeat_click", owner, low=0.0, high=MAX_SCALE)
        self.repeat_decay = check_real(
            repeat_decay, "repeat_decay", owner, low=0.0, low_open=True, high=1.0
        )
        self.repeat_memory = check_integer(
            repeat_memory, "repeat_memory", owner, low=0, high=MAX_REPEAT_MEMORY
        )
        if self.repeat_memory == 0 and (self.repeat_exposure > 0 or self.repeat_click > 0):
            raise InputValueError(
                f"The 'repeat_exposure' and 'repeat_click' parameters of {owner} act on the "
                f"items a user remembers: set repeat_memory >= 1; got repeat_exposure="
                f"{repeat_exposure!r}, repeat_click={repeat_click!r} with repeat_memory=0."
            )
        self.n_genres = 0
        self.levels_: NDArray[np.float64] = np.zeros((0, 0))
        self.updated_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.bored_until_: NDArray[np.int64] = np.zeros((0, 0), dtype=np.int64)
        self.away_until_: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.recent_items_: NDArray[np.int64] = np.zeros((0, 0), dtype=np.int64)
        self.recent_times_: NDArray[np.int64] = np.zeros((0, 0), dtype=np.int64)
        self.recent_weights_: NDArray[np.float64] = np.zeros((0, 0))

    @property
    def per_genre(self) -> bool:
        """True if genre fatigue or boredom can change a logit (needs genres)."""
        accumulates = self.exposure_fatigue > 0 or self.click_fatigue > 0
        return accumulates and (self.fatigue_weight > 0 or self.boredom_threshold > 0)

    @property
    def repeats(self) -> bool:
        """True if recently shown items are penalised."""
        return self.repeat_memory > 0 and (self.repeat_exposure > 0 or self.repeat_click > 0)

    @property
    def active(self) -> bool:
        """True if fatigue, boredom or the repeat penalty can change a logit."""
        return self.per_genre or self.repeats

    @property
    def churns(self) -> bool:
        return self.churn_probability > 0

    def reset(self, n_users: int, n_genres: int) -> None:
        """Fresh users (all worlds): no fatigue, no boredom, nobody away; draws nothing."""
        self.n_genres = n_genres
        self.levels_ = np.zeros((n_users, n_genres))
        self.updated_ = np.zeros(n_users, dtype=np.int64)
        self.bored_until_ = np.zeros((n_users, n_genres), dtype=np.int64)
        self.away_until_ = np.zeros(n_users, dtype=np.int64)
        memory = self.repeat_memory if self.repeats else 0
        self.recent_items_ = np.full((n_users, memory), -1, dtype=np.int64)
        self.recent_times_ = np.zeros((n_users, memory), dtype=np.int64)
        self.recent_weights_ = np.zeros((n_users, memory))

    def levels(self, users: NDArray[np.int64], time: int) -> NDArray[np.float64]:
        """``f`` of ``users`` at step ``time``, shape (n, n_genres)."""
        steps = time - self.updated_[users]
        return self.levels_[users] * (self.fatigue_decay ** steps.astype(np.float64))[:, None]

    def penalty(
        self,
        users: NDArray[np.int64],
        genres: NDArray[np.int64],
        time: int,
        items: NDArray[np.int64] | None = None,
        *,
        repeats: tuple[NDArray[np.int64], NDArray[np.float64]] | None = None,
    ) -> NDArray[np.float64]:
        """Logit penalty of each candidate, ``fatigue_weight f_ug + boredom_penalty [bored]
        + R_ui(t)`` (the last with ``items`` or ``repeats`` given and a repeat memory).

        Parameters
        ----------
        users : ndarray of int64, shape (n_requests,)
        genres : ndarray of int64, shape (n_requests, n_candidates)
        items : ndarray of int64, shape (n_requests, n_candidates), optional
            The candidates' catalogue rows (of the stacked worlds).
        repeats : tuple of ndarray, optional
            :meth:`repeat_terms` of these users and items at ``time``, computed beforehand
            (the world does so while the items are still in the cache); replaces ``items``.

        Returns
        -------
        ndarray of float64, shape (n_requests, n_candidates)
        """
        if not self.per_genre:
            penalty = np.zeros(genres.shape)
        else:
            # Per request and genre first (n_genres numbers per request), then one gather.
            by_genre = self.fatigue_weight * self.levels(users, time)
            if self.boredom_threshold > 0:
                by_genre += self.boredom_penalty * (self.bored_until_[users] > time)
            cells = genres + (np.arange(users.shape[0]) * self.n_genres)[:, None]
            penalty = np.take(by_genre, cells)
        if repeats is None and self.repeats and items is not None:
            repeats = self.repeat_terms(users, items, time)
        if repeats is not None:
            cells, terms = repeats
            penalty.reshape(-1)[cells] += terms  # cells distinct: one addition each
        return penalty

    def repeat_penalty(
        self, users: NDArray[np.int64], items: NDArray[np.int64], time: int
    ) -> NDArray[np.float64]:
        """``R_ui(t)`` of each candidate, shape (n_requests, n_candidates)."""
        penalty = np.zeros(items.shape)
        if self.repeats:
            cells, terms = self.repeat_terms(users, items, time)
            penalty.reshape(-1)[cells] = terms
        return penalty

    def repeat_terms(
        self, users: NDArray[np.int64], items: NDArray[np.int64], time: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The candidates with a remembered showing and their ``R_ui(t)``: flat cells of
        (n_requests, n_candidates), ascending and distinct, and the penalties.

        A table of ``REPEAT_SLOTS`` flags per request (slot ``item mod REPEAT_SLOTS`` of each
        remembered item, empty entries included) leaves the candidates that may be
        remembered (the matches and about ``repeat_memory / REPEAT_SLOTS`` of the others, 1%
        for 10 entries); only those are compared with each remembered item, and the matches
        weighted. A candidate's entries are summed in buffer order from 0, as one comparison
        of every candidate with every remembered item would.
        """
        n, width = items.shape
        recent = self.recent_items_[users]
        slots = REPEAT_SLOTS - 1
        base = (np.arange(n) * REPEAT_SLOTS)[:, None]
        table = np.zeros(n * REPEAT_SLOTS, dtype=np.bool_)
        table[(recent & slots) + base] = True
        probe = items & slots
        probe += base
        cells = np.flatnonzero(np.take(table, probe))  # (request, candidate), ascending
        rows = cells // width
        # (cell, slot): matches in cell order, then buffer order within a cell.
        found = np.flatnonzero(np.take(items, cells)[:, None] == recent[rows])
        memory = self.repeat_memory
        at, entries = np.divmod(found, memory)
        cells, owners = cells[at], users[rows[at]]
        age = (time - self.recent_times_[owners, entries]).astype(np.float64)
        weight = self.recent_weights_[owners, entries] * self.repeat_decay**age
        # Sum each cell's matches (adjacent) by bincount over their group numbers.
        new = np.ones(cells.size, dtype=np.bool_)
        np.not_equal(cells[1:], cells[:-1], out=new[1:])
        groups = np.cumsum(new) - 1
        summed = np.bincount(groups, weights=weight, minlength=0)
        return cells[new], np.asarray(summed, dtype=np.float64)

    def absent(self, time: int) -> NDArray[np.bool_] | None:
        """Users away at step ``time``, shape (n_users,); None without churn."""
        return self.away_until_ > time if self.churns else None

    def observe(
        self,
        rng: np.random.Generator,
        users: NDArray[np.int64],
        genres: NDArray[np.int64],
        clicks: NDArray[np.bool_],
        time: int,
        items: NDArray[np.int64] | None = None,
    ) -> None:
        """Count step ``time``'s exposures and clicks, remember the shown items, then start
        boredom and churn.

        Parameters
        ----------
        users : ndarray of int64, shape (n_requests,)
        genres : ndarray of int64, shape (n_requests, slate_size)
            Genre of each shown item.
        clicks : ndarray of bool, shape (n_requests, slate_size)
        items : ndarray of int64, shape (n_requests, slate_size), optional
            The shown items' catalogue rows (needed for the repeat penalty).
        """
        n = users.shape[0]
        uniforms: NDArray[np.float64] | None = None
        absences: NDArray[np.int64] | None = None
        if self.churns:
            uniforms = np.asarray(rng.random(n), dtype=np.float64)
            absences = np.asarray(rng.geometric(1.0 / self.mean_absence, n), dtype=np.int64)
        remember = self.repeats and items is not None
        if not (remember or self.per_genre):
            return
        # One grouping of the rows by user (latest row first) serves the buffers, the
        # per-user updates and the first row of each user (np.unique's return_index).
        newest_first, touched, start, counts = group_newest_first(users)
        if remember and items is not None:
            self._remember(newest_first, touched, start, counts, items, clicks, time)
        if not self.per_genre:
            return
        first_row = newest_first[start + counts - 1]
        self.levels_[touched] = self.levels(touched, time)
        self.updated_[touched] = time
        added = self.exposure_fatigue + self.click_fatigue * clicks
        # In row order, one at a time, as np.add.at over (user, genre) pairs: the flat index
        # takes ufunc.at's fast path.
        if not self.levels_.flags.c_contiguous:  # reshape(-1) must be a view
            self.levels_ = np.ascontiguousarray(self.levels_)
        cells = genres + (users * self.n_genres)[:, None]
        np.add.at(self.levels_.reshape(-1), cells.ravel(), added.ravel())
        if self.boredom_threshold <= 0:
            return
        levels = self.levels_[touched]
        newly = levels >= self.boredom_threshold
        if not newly.any():
            return
        rows, columns = np.nonzero(newly)
        bored_users = touched[rows]
        self.bored_until_[bored_users, columns] = time + 1 + self.boredom_duration
        self.levels_[bored_users, columns] = 0.0
        if uniforms is None or absences is None:
            return
        leaving = newly.any(axis=1) & (uniforms[first_row] < self.churn_probability)
        self.away_until_[touched[leaving]] = time + 1 + absences[first_row[leaving]]

    def _remember(
        self,
        newest_first: NDArray[np.int64],
        touched: NDArray[np.int64],
        start: NDArray[np.int64],
        counts: NDArray[np.int64],
        items: NDArray[np.int64],
        clicks: NDArray[np.bool_],
        time: int,
    ) -> None:
        """Push the shown items onto their users' buffers, as if requests were served in row
        order and positions top to bottom (the last is the newest); vectorised, a user may
        appear in several rows.

        ``newest_first, touched, start, counts``: the rows grouped by user, latest row first
        (:func:`group_newest_first` of the users). A user's entries newest first are their
        rows latest first, each from its last position to its first, so the entry of rank
        ``r`` is position ``width - 1 - r mod width`` of their ``r // width``-th row; only the
        first ``repeat_memory`` ranks are kept.
        """
        memory = self.repeat_memory
        width = items.shape[1]
        counts = np.minimum(counts * width, memory)  # entries pushed per user
        group = np.repeat(np.arange(touched.size), counts)
        rank = np.arange(group.size) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.take(newest_first, start[group] + rank // width)
        entries = rows * width + (width - 1 - rank % width)  # flat (row, position)
        weights = self.repeat_exposure + self.repeat_click * np.take(clicks, entries)
        # Each touched user's new buffer row: the new entries at their rank, then the
        # ``memory - counts`` newest old entries (none when the new ones fill the buffer).
        fresh = group * memory + rank
        lengths = memory - counts
        survivors = np.repeat(np.arange(touched.size), lengths)
        old = np.arange(survivors.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        moved = survivors * memory + (old + np.take(counts, survivors))
        source = np.take(touched, survivors) * memory + old  # flat cells of the buffer
        for buffer, new in (
            (self.recent_items_, np.take(items, entries)),
            (self.recent_times_, np.full(entries.size, time, dtype=np.int64)),
            (self.recent_weights_, weights),
        ):
            merged = np.empty(touched.size * memory, dtype=buffer.dtype)
            merged[fresh] = new
            if survivors.size:
                merged[moved] = np.take(buffer, source)
            buffer[touched] = merged.reshape(touched.size, memory)
