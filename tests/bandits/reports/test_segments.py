"""Rewards by segment: new against returning users, new against seen items, batch by batch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from factories import random_log
from matplotlib.container import BarContainer, ErrorbarContainer

from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID
from bandits.reports import SegmentTotals, plot_segments, segment_intervals, segment_table


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


CONTEXT_NAMES = ["taste_0", "device_phone", "device_tv", "device_desktop", "day_sin", "day_cos",
                 "weekday_0", "weekday_1"]  # fmt: skip


def log_with_context(rng, n_requests=40):
    """A log whose context holds a device one-hot, the time of day and a weekday one-hot."""
    log = random_log(rng, n_requests=n_requests, n_context=len(CONTEXT_NAMES))
    device = rng.integers(0, 3, n_requests)
    hour = rng.integers(0, 24, n_requests)
    weekday = rng.integers(0, 2, n_requests)
    angle = 2 * np.pi * hour / 24
    context = np.column_stack([rng.normal(size=n_requests), np.eye(3)[device], np.sin(angle),
                               np.cos(angle), np.eye(2)[weekday]])  # fmt: skip
    obs = dataclasses.replace(log.observation, context=context)
    log = LoggedBandit(obs, log.decision, log.feedback, log.policy_names)
    return log, device, hour, weekday


@pytest.mark.parametrize("batches", [1, 3])
def test_context_segments_equal_a_row_by_row_count(batches):
    log, device, hour, weekday = log_with_context(np.random.default_rng(5))
    parts = [log.take(rows) for rows in np.array_split(np.arange(len(log)), batches)]
    table = segment_table([("p", parts)], context_names=CONTEXT_NAMES)
    by = table.set_index(["dimension", "segment"])
    reward = log.feedback.rewards.sum(axis=1)
    expected = {("device", name): device == k for k, name in enumerate(["phone", "tv", "desktop"])}
    quarters = ["00-06h", "06-12h", "12-18h", "18-24h"]
    expected |= {("time of day", q): hour // 6 == k for k, q in enumerate(quarters)}
    expected |= {("weekday", f"weekday {k}"): weekday == k for k in range(2)}
    for key, mask in expected.items():
        assert by.loc[key, "count"] == mask.sum(), key
        assert by.loc[key, "reward_per_count"] == pytest.approx(reward[mask].mean()), key
    assert list(table["dimension"].unique()) == ["user", "item", "device", "weekday",
                                                 "time of day"]  # fmt: skip
    for dimension in ("device", "time of day", "weekday"):  # every request in one level
        assert by.loc[dimension, "count"].sum() == len(log)


def test_without_context_names_there_are_only_user_and_item_segments():
    log, *_ = log_with_context(np.random.default_rng(6))
    table = segment_table([("p", [log])])
    assert list(table.columns) == ["policy", "dimension", "segment", "count", "reward_per_count"]
    assert set(table["dimension"]) == {"user", "item"}


def test_segment_intervals_average_over_runs():
    table = pd.DataFrame({"policy": "p", "dimension": "device", "segment": "tv",
                          "count": [10, 20, 0], "reward_per_count": [0.2, 0.4, np.nan],
                          "run": [0, 1, 2]})  # fmt: skip
    (row,) = segment_intervals(table).to_dict("records")
    assert row["runs"] == 2 and row["count"] == 30  # the run without a tv request is left out
    assert row["reward_per_count"] == pytest.approx(0.3)
    assert row["stderr"] == pytest.approx(0.1)
    half = 12.706204736174707 * 0.1  # t(0.975, 1 degree of freedom)
    assert row["ci_low"] == pytest.approx(0.3 - half)
    assert row["ci_high"] == pytest.approx(0.3 + half)


def bars_of(ax):
    """(label, heights) of each bar container of ``ax``."""
    return [(c.get_label(), [patch.get_height() for patch in c.patches]) for c in ax.containers
            if isinstance(c, BarContainer)]  # fmt: skip


def test_segment_figure_has_a_panel_per_dimension_and_a_bar_per_policy_and_segment():
    log, *_ = log_with_context(np.random.default_rng(7))
    table = segment_table([("a", [log]), ("b", [log.take(np.arange(20))])],
                          context_names=CONTEXT_NAMES)  # fmt: skip
    figure = plot_segments(table)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["user", "item", "device", "weekday", "time of day"]
    assert figure.get_suptitle() == "Reward by segment"
    device = axes[2]
    assert [t.get_text() for t in device.get_xticklabels()] == ["phone", "tv", "desktop"]
    expected = table[table["dimension"] == "device"]
    bars = bars_of(device)
    assert [label for label, _ in bars] == ["a", "b"]
    for label, heights in bars:
        rates = expected[expected["policy"] == label]["reward_per_count"].fillna(0.0)
        np.testing.assert_allclose(heights, rates)
    assert device.get_ylabel() == "reward per request"
    assert axes[1].get_ylabel() == "reward per shown item"
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    assert legend.get_title().get_text() == "policy"


def test_segment_figure_draws_intervals_over_runs():
    runs = pd.DataFrame({"policy": "p", "dimension": "device", "segment": ["tv", "tv"],
                         "count": [10, 20], "reward_per_count": [0.2, 0.4],
                         "run": [0, 1]})  # fmt: skip
    figure = plot_segments(segment_intervals(runs))
    ax = figure.axes[0]
    (container,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert container.patches[0].get_height() == pytest.approx(0.3)
    (errors,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    (_, _, (bars,)) = errors.lines
    low, high = np.asarray(bars.get_segments())[0, :, 1]
    assert low == pytest.approx(0.3 - 12.706204736174707 * 0.1)
    assert high == pytest.approx(0.3 + 12.706204736174707 * 0.1)
    assert figure.get_suptitle() == "Reward by segment, mean over runs with 95% interval"
