"""Rewards by segment: new against returning users, newly released against older items,
batch by batch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from factories import random_log
from matplotlib.container import BarContainer, ErrorbarContainer

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ALWAYS_FROM, ItemTable
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation
from bandits.reports import SegmentTotals, plot_segments, segment_intervals, segment_table


def loop_totals(log):
    """The user sums, request by request (every item of ``random_log`` is always available,
    so every shown item is an older one)."""
    sums = {"new user": [0, 0.0], "returning user": [0, 0.0], "older item": [0, 0.0]}
    obs = log.observation
    for i in range(len(log)):
        user = "new user" if (obs.history[i] == PAD_ID).all() else "returning user"
        sums[user][0] += 1
        sums[user][1] += float(log.feedback.rewards[i].sum())
        for k in range(log.slate_size):
            sums["older item"][0] += 1
            sums["older item"][1] += float(log.feedback.rewards[i, k])
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
    assert table.loc["new item", "count"] == 0
    assert table.loc["older item", "count"] == 60 * slate_size


def released_log():
    """Four requests at times 0, 0, 5, 9, slates of two, over items 10 (there from the start:
    always available), 11 (valid from 0, the log's first time), 12 (released at 3) and 13
    (released at 8); rewards by hand."""
    items = ItemTable([10, 11, 12, 13], np.zeros((4, 1)), valid_from=[ALWAYS_FROM, 0, 3, 8])
    ids = np.array([[10, 11, PAD_ID], [11, 10, PAD_ID], [12, 10, 11], [12, 13, 10]])
    obs = SlateObservation(
        context=np.zeros((4, 1)), candidate_ids=ids, n_candidates=np.array([2, 2, 3, 3]),
        slate_size=2, history=np.full((4, 1), PAD_ID), request_ids=np.arange(4),
        user_ids=np.arange(4), times=np.array([0, 0, 5, 9]), items=items,
    )  # fmt: skip
    slates = np.array([[0, 1], [1, 0], [0, 2], [0, 1]])  # shown: 10 11 | 10 11 | 12 11 | 12 13
    decision = SlateDecision(slates, np.full(4, 0.5), np.full((4, 2), 0.5))
    rewards = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    return LoggedBandit(obs, decision, SlateFeedback(rewards), np.full(4, "p"))


@pytest.mark.parametrize(("window", "new"), [
    (48, [(2, 0), (3, 0), (3, 1)]),  # 12 at 5 (age 2) and at 9 (age 6), 13 at 9 (age 1)
    (5, [(2, 0), (3, 1)]),  # 12 at 9 is 6 steps old: older
    (1, []),  # 13 at 9 is 1 step old: not < 1
])  # fmt: skip
def test_new_items_are_those_shown_soon_after_their_release_by_hand(window, new):
    log = released_log()
    for batches in ([log], [log.take([0, 1]), log.take([2, 3])]):
        table = segment_table([("p", batches)], new_item_steps=window).set_index("segment")
        rewards = log.feedback.rewards
        fresh = np.zeros(rewards.shape, dtype=bool)
        for row, position in new:
            fresh[row, position] = True
        assert table.loc["new item", "count"] == len(new)
        assert table.loc["older item", "count"] == 8 - len(new)
        if new:
            assert table.loc["new item", "reward_per_count"] == pytest.approx(rewards[fresh].mean())
        assert table.loc["older item", "reward_per_count"] == pytest.approx(rewards[~fresh].mean())
        # items 10 and 11, there from the start, are never new however often they are shown


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
