"""plot_estimates: one panel per target, each estimator's estimate with its interval, and the
true value as the reference (the figure's content, not its pixels)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bandits.reports import plot_estimates
from bandits.validation import InputValueError


def one_run():
    return pd.DataFrame(
        {
            "target": ["t1", "t1", "t2", "t2"],
            "estimator": ["ips", "dr", "ips", "dr"],
            "value": [0.5, 0.45, 0.3, 0.32],
            "ci_low": [0.4, 0.42, 0.2, 0.3],
            "ci_high": [0.6, 0.48, 0.4, 0.34],
            "confidence": 0.95,
            "true_value": [0.47, 0.47, 0.31, 0.31],
        }
    )


def error_bars(ax):
    """(label, x, y, low, high) of each error bar container of ``ax``."""
    found = []
    for container in ax.containers:
        line, _, (bars,) = container.lines
        segments = np.asarray(bars.get_segments())
        found.append((container.get_label(), line.get_xdata(), line.get_ydata(),
                      segments[:, 0, 1], segments[:, 1, 1]))  # fmt: skip
    return found


def test_one_panel_per_target_with_intervals_and_the_true_value_as_a_line():
    figure = plot_estimates(one_run())
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["t1", "t2"]
    assert figure.get_suptitle() == "Off-policy estimates with their 95% intervals, by target"
    ax = axes[0]
    bars = error_bars(ax)
    assert [label for label, *_ in bars] == ["ips", "dr"]
    (_, x, y, low, high) = bars[0]
    np.testing.assert_array_equal(x, [0.0])
    np.testing.assert_allclose(y, [0.5])
    np.testing.assert_allclose(low, [0.4])
    np.testing.assert_allclose(high, [0.6])
    np.testing.assert_allclose(bars[1][3:], [[0.42], [0.48]])
    (truth,) = [line for line in ax.lines if line.get_label() == "true value"]
    np.testing.assert_allclose(truth.get_ydata(), [0.47, 0.47])  # a horizontal line
    assert truth.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ips", "dr"]
    assert ax.get_xlabel() == "estimator" and ax.get_ylabel() == "value per request"
    (legend,) = figure.legends  # one legend beside the panels
    assert [t.get_text() for t in legend.get_texts()] == ["true value", "ips", "dr"]
    truth2 = [line for line in axes[1].lines if line.get_label() == "true value"]
    np.testing.assert_allclose(truth2[0].get_ydata(), [0.31, 0.31])


def test_runs_sit_side_by_side_each_with_its_own_truth():
    two = pd.concat([one_run().assign(run=0),
                     one_run().assign(run=1, value=lambda f: f["value"] + 0.01,
                                      true_value=lambda f: f["true_value"] + 0.02)])  # fmt: skip
    ax = plot_estimates(two).axes[0]
    (_, x, y, _, _) = error_bars(ax)[0]
    assert x[0] < 0 < x[1]  # run 0 left of the slot's centre, run 1 right
    np.testing.assert_allclose(y, [0.5, 0.51])
    (truth,) = [line for line in ax.lines if line.get_label() == "true value"]
    assert truth.get_marker() == "_" and truth.get_linestyle() == "None"
    np.testing.assert_allclose(truth.get_xdata()[:2], x)  # each run's truth at its point
    np.testing.assert_allclose(truth.get_ydata(), [0.47, 0.49, 0.47, 0.49])


def test_without_true_values_only_the_estimates_are_drawn():
    ax = plot_estimates(one_run().drop(columns=["true_value", "confidence"])).axes[0]
    assert not [line for line in ax.lines if line.get_label() == "true value"]
    assert len(error_bars(ax)) == 2
    assert ax.figure.get_suptitle() == "Off-policy estimates with their intervals, by target"


def test_missing_columns_and_empty_tables_are_named():
    with pytest.raises(InputValueError, match=re.escape("lacks the column(s) ['ci_high']")):
        plot_estimates(one_run().drop(columns="ci_high"))
    with pytest.raises(InputValueError, match="no rows"):
        plot_estimates(one_run().iloc[:0])


LONG = 'epsilon-greedy:epsilon=0.1,base="linucb:alpha=0.5,ridge=2.0,model=disjoint"'


def test_long_target_names_are_wrapped_whole_and_the_legend_overlaps_nothing():
    frame = one_run().replace({"target": {"t1": LONG, "t2": "t2"}})
    figure = plot_estimates(frame)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    title = axes[0].get_title()
    assert "\n" in title and title.replace("\n", "") == LONG  # wrapped, nothing cut
    assert max(len(line) for line in title.split("\n")) <= 30
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)  # lays the figure out (constrained layout), as savefig does
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    others = [figure._suptitle.get_window_extent(renderer)]
    for ax in axes:
        others += [ax.title.get_window_extent(renderer), ax.get_tightbbox(renderer)]
    assert not any(box.overlaps(other) for other in others)
    # the titles fit in the figure: no line of a title runs past its edges
    width = figure.bbox.width
    for ax in axes:
        extent = ax.title.get_window_extent(renderer)
        assert extent.x0 >= 0 and extent.x1 <= width


@pytest.mark.parametrize("name", ["", "short", LONG, "a" * 75, "x, y: z" * 9])
def test_wrap_name_gives_the_name_back(name):
    from bandits.reports.estimates import wrap_name

    lines = wrap_name(name, 30).split("\n")
    assert "".join(lines) == name and all(len(line) <= 30 for line in lines)
