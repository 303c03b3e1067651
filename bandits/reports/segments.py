"""Rewards by segment of requests and shown items, from logs streamed batch by batch: new
users (no history yet) against returning ones, positions that showed a newly released item
(shown within ``NEW_ITEM_STEPS`` steps of its ``valid_from`` in the log's item table) against
older items, and, when the log names its context columns, the requests of each device, time of
day, weekday, season or location (:mod:`bandits.reports.context_signals`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID
from bandits.reports.context_signals import context_signals
from bandits.reports.summary import t_interval

NEW_ITEM_STEPS = 48
"""Default window of a new item: shown fewer than this many steps (the unit of the log's
``times``) after its release (``valid_from``). 48 steps is a day of the StreamingService
world, whose novelty boost halves in about 34 steps."""

SEGMENT_COLUMNS = ("policy", "dimension", "segment", "count", "reward_per_count")
"""Columns of :func:`segment_table`: ``dimension`` is what splits (``user``, ``item``,
``device``, ``time of day``, ...), ``segment`` the part (``new user``, ``phone``, ...)."""

SEGMENT_INTERVAL_COLUMNS = ("policy", "dimension", "segment", "runs", "count",
                            "reward_per_count", "stderr", "ci_low", "ci_high")  # fmt: skip
"""Columns of :func:`segment_intervals`."""


class SegmentTotals:
    """Running sums of one policy's log, batch after batch (memory: the item ids it showed).

    Segments: ``new user`` / ``returning user`` count requests (a request is a new user's
    when its history is empty) with their slate reward; ``new item`` / ``older item`` count
    shown positions with their reward: an item is new when shown at a time ``t`` with
    ``valid_from <= t < valid_from + new_item_steps`` (its release in the log's item table),
    unless it was there from the start (``valid_from`` at or before the log's first time, or
    always available); with ``context_names`` (the log's names of its context columns), each
    level of each context signal among them counts its requests with their slate reward.
    """

    def __init__(
        self, context_names: Sequence[str] | None = None, new_item_steps: int = NEW_ITEM_STEPS
    ) -> None:
        self.new_item_steps = int(new_item_steps)
        self._start: int | None = None  # the log's first time
        self._signals = context_signals(context_names or [])
        self._sums: dict[tuple[str, str], list[float]] = {
            key: [0, 0.0]
            for key in [("user", "new user"), ("user", "returning user"),
                        ("item", "new item"), ("item", "older item")]
            + [(signal.dimension, label) for signal in self._signals for label in signal.labels]
        }  # fmt: skip

    def add(self, log: LoggedBandit) -> None:
        """Add one batch (in log order)."""
        obs = log.observation
        fresh_user = (obs.history == PAD_ID).all(axis=1)
        slate_reward = log.slate_rewards
        self._count(("user", "new user"), fresh_user, slate_reward)
        self._count(("user", "returning user"), ~fresh_user, slate_reward)
        if self._start is None and len(log):
            self._start = int(obs.times.min())
        rows = np.take_along_axis(obs.candidate_rows, log.decision.slates, axis=1)
        released = obs.items.valid_from[rows]
        age = obs.times[:, None] - released  # steps since release at each shown position
        start = obs.times.min(initial=0) if self._start is None else self._start
        new = ((released > start) & (age < self.new_item_steps)).ravel()
        rewards = log.feedback.rewards.ravel()
        self._count(("item", "new item"), new, rewards)
        self._count(("item", "older item"), ~new, rewards)
        for signal in self._signals:
            levels = signal.levels(obs.context)
            for index, label in enumerate(signal.labels):
                self._count((signal.dimension, label), levels == index, slate_reward)

    def table(self, policy: str) -> pd.DataFrame:
        """One row per segment: ``count`` and ``reward_per_count`` (NaN when empty)."""
        rows = [
            {"policy": policy, "dimension": dimension, "segment": name, "count": int(count),
             "reward_per_count": total / count if count else float("nan")}
            for (dimension, name), (count, total) in self._sums.items()
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))

    def _count(self, key: tuple[str, str], mask: np.ndarray, values: np.ndarray) -> None:
        self._sums[key][0] += int(mask.sum())
        self._sums[key][1] += float(values[mask].sum())


def segment_table(
    logs: Iterable[tuple[str, Iterable[LoggedBandit]]],
    context_names: Sequence[str] | None = None,
    new_item_steps: int = NEW_ITEM_STEPS,
) -> pd.DataFrame:
    """Rewards by segment for each ``(policy, batches)``: columns ``SEGMENT_COLUMNS``;
    ``context_names`` (the logs' names of their context columns, e.g.
    :attr:`bandits.logs.LogFile.context_names`) adds the context signals' segments;
    ``new_item_steps`` is the window of a new item (see :class:`SegmentTotals`)."""
    tables = []
    for policy, batches in logs:
        totals = SegmentTotals(context_names, new_item_steps)
        for batch in batches:
            totals.add(batch)
        tables.append(totals.table(policy))
    return pd.concat(tables, ignore_index=True)


def segment_intervals(segments: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Segments over several runs (a ``run`` column): per policy and segment, the ``count``
    summed over runs and ``reward_per_count`` averaged over the runs where the segment was
    seen, with its ``confidence`` t-interval over those runs."""
    rows = []
    keys = ["policy", "dimension", "segment"]
    for (policy, dimension, segment), part in segments.groupby(keys, sort=False):
        seen = part["reward_per_count"].dropna().to_numpy()
        rows.append({"policy": policy, "dimension": dimension, "segment": segment,
                     "runs": len(seen), "count": int(part["count"].sum()),
                     **t_interval(seen, confidence, name="reward_per_count")})  # fmt: skip
    return pd.DataFrame(rows, columns=list(SEGMENT_INTERVAL_COLUMNS))
