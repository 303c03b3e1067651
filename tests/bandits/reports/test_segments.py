"""Rewards by segment: new against returning users, new against seen items, batch by batch."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_log

from bandits.observation import PAD_ID
from bandits.reports import SegmentTotals, segment_table


def loop_totals(log, shown=None):
    """The same sums, request by request and position by position."""
    shown = set() if shown is None else shown
    sums = {"new user": [0, 0.0], "returning user": [0, 0.0], "new item": [0, 0.0],
            "seen item": [0, 0.0]}  # fmt: skip
    obs = log.observation
    for i in range(len(log)):
        user = "new user" if (obs.history[i] == PAD_ID).all() else "returning user"
        sums[user][0] += 1
        sums[user][1] += float(log.feedback.rewards[i].sum())
        for k, index in enumerate(log.decision.slates[i]):
            item = int(obs.candidate_ids[i, index])
            name = "seen item" if item in shown else "new item"
            shown.add(item)
            sums[name][0] += 1
            sums[name][1] += float(log.feedback.rewards[i, k])
    return sums


@pytest.mark.parametrize("batches", [1, 4])
def test_segments_equal_a_row_by_row_count_in_any_batching(batches):
    log = random_log(np.random.default_rng(3), n_requests=60)
    parts = [log.take(rows) for rows in np.array_split(np.arange(60), batches)]
    table = segment_table([("p", parts)]).set_index("segment")
    for name, (count, total) in loop_totals(log).items():
        assert table.loc[name, "count"] == count
        if count:
            assert table.loc[name, "reward_per_count"] == pytest.approx(total / count)
    assert table.loc["new user", "count"] + table.loc["returning user", "count"] == 60
    slate_size = log.decision.slates.shape[1]
    assert table.loc["new item", "count"] + table.loc["seen item", "count"] == 60 * slate_size


def test_an_empty_segment_has_no_rate():
    totals = SegmentTotals()
    log = random_log(np.random.default_rng(4), n_requests=5)
    returning = log.take(np.flatnonzero((log.observation.history != PAD_ID).any(axis=1)))
    totals.add(returning)
    row = totals.table("p").set_index("segment").loc["new user"]
    assert row["count"] == 0 and np.isnan(row["reward_per_count"])
