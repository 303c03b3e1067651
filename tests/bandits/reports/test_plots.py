"""plot_cumulative_regret: the figure's content (lines, band, labels), not its pixels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from bandits.reports.plots import plot_cumulative_regret, plot_reward_rate
from bandits.validation import InputTypeError, InputValueError


def test_one_line_per_policy():
    trace = pd.DataFrame(
        {
            "policy": ["a", "a", "a", "b", "b", "b"],
            "requests": [2, 4, 6, 2, 4, 6],
            "cumulative_regret": [1.0, 1.5, 1.75, 2.0, 4.0, 6.0],
        }
    )
    figure = plot_cumulative_regret(trace)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    for line, expected in zip(ax.lines, ([1.0, 1.5, 1.75], [2.0, 4.0, 6.0]), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [2, 4, 6])
        np.testing.assert_array_equal(line.get_ydata(), expected)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a", "b"]
    assert ax.get_legend().get_title().get_text() == "policy"
    assert ax.get_xlabel() == "requests served"
    assert ax.get_ylabel() == "cumulative expected regret"
    assert ax.get_title() == "Cumulative regret by policy"
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # one run: no band


def test_several_runs_give_the_mean_and_a_band():
    trace = pd.DataFrame(
        {
            "policy": "a",
            "run": [0, 0, 0, 1, 1, 1],
            "requests": [1, 2, 3, 1, 2, 3],
            "cumulative_regret": [1.0, 2.0, 3.0, 3.0, 4.0, 7.0],
        }
    )
    (ax,) = plot_cumulative_regret(trace).axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), [2.0, 3.0, 5.0])
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    # the standard error of two runs is half their gap: the band spans exactly the two runs
    y = band.get_paths()[0].vertices[:, 1]
    assert y.min() == pytest.approx(1.0)
    assert y.max() == pytest.approx(7.0)
    assert {1.0, 2.0, 3.0, 4.0, 7.0} <= set(np.round(y, 12))


def test_missing_columns_are_named():
    trace = pd.DataFrame({"policy": ["a"], "requests": [1]})
    with pytest.raises(
        InputValueError, match=re.escape("lacks the column(s) ['cumulative_regret']")
    ):
        plot_cumulative_regret(trace)


def test_not_a_dataframe():
    with pytest.raises(InputTypeError, match="must be a pandas DataFrame; got dict"):
        plot_cumulative_regret({"policy": ["a"], "requests": [1], "cumulative_regret": [0.0]})


def test_reward_rate_is_the_running_reward_per_request_with_a_band_over_runs():
    trace = pd.DataFrame(
        {
            "policy": "a",
            "run": [0, 0, 1, 1],
            "requests": [10, 20, 10, 20],
            "cumulative_reward": [1.0, 4.0, 3.0, 4.0],
        }
    )
    (ax,) = plot_reward_rate(trace).axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), [10, 20])
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.2])  # (0.1 + 0.3) / 2, (0.2 + 0.2) / 2
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert low == pytest.approx(0.1) and high == pytest.approx(0.3)  # sem of (0.1, 0.3) = 0.1
    assert ax.get_ylabel() == "reward per request so far"
    assert ax.get_title() == "Reward per request by policy"


def test_click_rate_is_the_running_clicks_per_request_whatever_the_reward():
    from bandits.reports.plots import plot_click_rate, plot_engagement_rate

    trace = pd.DataFrame({"policy": ["a"] * 3 + ["b"] * 3, "step": [0, 1, 2] * 2,
                          "requests": [10, 20, 30] * 2, "clicks": [1.0, 3.0, 2.0, 0.0, 5.0, 4.0],
                          "engagement": [10.0, 0.0, 20.0, 5.0, 5.0, 5.0]})  # fmt: skip
    (ax,) = plot_click_rate(trace).axes
    assert ax.get_title() == "Click-through rate by policy"
    assert ax.get_ylabel() == "clicks per request so far"
    a, b = ax.lines
    np.testing.assert_allclose(a.get_ydata(), [0.1, 0.2, 0.2])  # 1/10, 4/20, 6/30
    np.testing.assert_allclose(b.get_ydata(), [0.0, 0.25, 0.3])
    (ax,) = plot_engagement_rate(trace).axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 1.0])
    assert ax.get_title() == "Engagement by policy"


def test_the_report_draws_the_click_rate_only_when_the_trace_has_clicks():
    from bandits.reports import build_report

    trace = pd.DataFrame({"policy": "a", "step": [0, 1], "requests": [10, 20],
                          "reward": [1.0, 2.0], "expected_reward": [1.0, 2.0],
                          "oracle_reward": [2.0, 2.0], "regret": [1.0, 0.0],
                          "cumulative_reward": [1.0, 3.0],
                          "cumulative_regret": [1.0, 1.0]})  # fmt: skip
    assert set(build_report(trace).figures) == {"regret.png", "reward.png"}  # an older trace
    clicked = trace.assign(clicks=[2.0, 1.0], engagement=np.nan)
    assert set(build_report(clicked).figures) == {"regret.png", "reward.png", "ctr.png"}
    watched = clicked.assign(engagement=[3.0, 4.0])
    assert "engagement.png" in build_report(watched).figures
