"""Rewards by segment of requests and shown items, from logs streamed batch by batch: new
users (no history yet) against returning ones, positions that showed an item the policy had
never shown before against items it had, and, when the log names its context columns, the
requests of each device, time of day, weekday, season or location
(:mod:`bandits.reports.context_signals`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bandits.logged import LoggedBandit
from bandits.models.id_codes import IdCodes
from bandits.observation import PAD_ID
from bandits.reports.context_signals import context_signals
from bandits.reports.summary import t_interval

SEGMENT_COLUMNS = ("policy", "dimension", "segment", "count", "reward_per_count")
"""Columns of :func:`segment_table`: ``dimension`` is what splits (``user``, ``item``,
``device``, ``time of day``, ...), ``segment`` the part (``new user``, ``phone``, ...)."""

SEGMENT_INTERVAL_COLUMNS = ("policy", "dimension", "segment", "runs", "count",
                            "reward_per_count", "stderr", "ci_low", "ci_high")  # fmt: skip
"""Columns of :func:`segment_intervals`."""


class SegmentTotals:
    """Running sums of one policy's log, batch after batch (memory: the item ids it showed).

    Segments: ``new user`` / ``returning user`` count requests (a request is a new user's
    when its history is empty) with their slate reward; ``new item`` / ``seen item`` count
    shown positions (an item is new the first time this policy shows it) with their reward;
    with ``context_names`` (the log's names of its context columns), each level of each
    context signal among them counts its requests with their slate reward.
    """

    def __init__(self, context_names: Sequence[str] | None = None) -> None:
        self._shown = IdCodes()  # the item ids shown so far
        self._signals = context_signals(context_names or [])
        self._sums: dict[tuple[str, str], list[float]] = {
            key: [0, 0.0]
            for key in [("user", "new user"), ("user", "returning user"),
                        ("item", "new item"), ("item", "seen item")]
            + [(signal.dimension, label) for signal in self._signals for label in signal.labels]
        }  # fmt: skip

    def add(self, log: LoggedBandit) -> None:
        """Add one batch (in log order)."""
        obs = log.observation
        fresh_user = (obs.history == PAD_ID).all(axis=1)
        slate_reward = log.slate_rewards
        self._count(("user", "new user"), fresh_user, slate_reward)
        self._count(("user", "returning user"), ~fresh_user, slate_reward)
        ids = np.take_along_axis(obs.candidate_ids, log.decision.slates, axis=1).ravel()
        rewards = log.feedback.rewards.ravel()
        seen_before = self._shown.encode(ids) >= 0
        _, first = np.unique(ids, return_index=True)  # an id new in this batch: its first
        new = ~seen_before  # showing is new, later ones are seen
        later = np.ones(ids.size, dtype=bool)
        later[first] = False
        new &= ~later
        self._count(("item", "new item"), new, rewards)
        self._count(("item", "seen item"), ~new, rewards)
        self._shown.add(ids)
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
) -> pd.DataFrame:
    """Rewards by segment for each ``(policy, batches)``: columns ``SEGMENT_COLUMNS``;
    ``context_names`` (the logs' names of their context columns, e.g.
    :attr:`bandits.logs.LogFile.context_names`) adds the context signals' segments."""
    tables = []
    for policy, batches in logs:
        totals = SegmentTotals(context_names)
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
