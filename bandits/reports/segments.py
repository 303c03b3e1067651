"""Rewards by segment of requests and shown items, from logs streamed batch by batch: new
users (no history yet) against returning ones, and positions that showed an item the policy
had never shown before against items it had."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from bandits.logged import LoggedBandit
from bandits.models.id_codes import IdCodes
from bandits.observation import PAD_ID

SEGMENT_COLUMNS = ("policy", "segment", "count", "reward_per_count")


class SegmentTotals:
    """Running sums of one policy's log, batch after batch (memory: the item ids it showed).

    Segments: ``new user`` / ``returning user`` count requests (a request is a new user's
    when its history is empty) with their slate reward; ``new item`` / ``seen item`` count
    shown positions (an item is new the first time this policy shows it) with their reward.
    """

    def __init__(self) -> None:
        self._shown = IdCodes()  # the item ids shown so far
        self._sums = {name: [0, 0.0] for name in
                      ("new user", "returning user", "new item", "seen item")}  # fmt: skip

    def add(self, log: LoggedBandit) -> None:
        """Add one batch (in log order)."""
        obs = log.observation
        fresh_user = (obs.history == PAD_ID).all(axis=1)
        slate_reward = log.slate_rewards
        self._count("new user", fresh_user, slate_reward)
        self._count("returning user", ~fresh_user, slate_reward)
        ids = np.take_along_axis(obs.candidate_ids, log.decision.slates, axis=1).ravel()
        rewards = log.feedback.rewards.ravel()
        seen_before = self._shown.encode(ids) >= 0
        _, first = np.unique(ids, return_index=True)  # an id new in this batch: its first
        new = ~seen_before  # showing is new, later ones are seen
        later = np.ones(ids.size, dtype=bool)
        later[first] = False
        new &= ~later
        self._count("new item", new, rewards)
        self._count("seen item", ~new, rewards)
        self._shown.add(ids)

    def table(self, policy: str) -> pd.DataFrame:
        """One row per segment: ``count`` and ``reward_per_count`` (NaN when empty)."""
        rows = [
            {"policy": policy, "segment": name, "count": count,
             "reward_per_count": total / count if count else float("nan")}
            for name, (count, total) in self._sums.items()
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))

    def _count(self, name: str, mask: np.ndarray, values: np.ndarray) -> None:
        self._sums[name][0] += int(mask.sum())
        self._sums[name][1] += float(values[mask].sum())


def segment_table(logs: Iterable[tuple[str, Iterable[LoggedBandit]]]) -> pd.DataFrame:
    """Rewards by segment for each ``(policy, batches)``: columns ``SEGMENT_COLUMNS``."""
    tables = []
    for policy, batches in logs:
        totals = SegmentTotals()
        for batch in batches:
            totals.add(batch)
        tables.append(totals.table(policy))
    return pd.concat(tables, ignore_index=True)
