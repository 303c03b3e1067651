"""The figure of rewards by segment: one panel per dimension (users, items, device, time of
day, ...), one bar per policy and segment, with the interval over runs when there is one.
Nothing here writes files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bandits.reports.plots import MAX_LINES
from bandits.validation import InputValueError, check_columns

PANELS_PER_ROW = 3

UNITS = {"item": "reward per shown item"}
"""The y label of a dimension whose count is not requests (default: reward per request)."""


def plot_segments(segments: pd.DataFrame) -> Figure:
    """Reward per request (per shown item for the item segments) of each segment, by policy.

    Parameters
    ----------
    segments : pandas.DataFrame
        Columns ``policy``, ``dimension``, ``segment``, ``reward_per_count`` (a table of
        :func:`~bandits.reports.segment_table`); with ``ci_low`` and ``ci_high`` (from
        :func:`~bandits.reports.segment_intervals`) each bar gets its interval as an error bar.
        The first ``MAX_LINES`` policies are drawn.
    """
    check_columns(segments, ("policy", "dimension", "segment", "reward_per_count"),
                  "the segments")  # fmt: skip
    if segments.empty:
        raise InputValueError("the segments have no rows: there is nothing to plot.")
    dimensions = list(dict.fromkeys(segments["dimension"]))
    policies = list(dict.fromkeys(segments["policy"]))[:MAX_LINES]
    intervals = {"ci_low", "ci_high"} <= set(segments.columns)
    columns = min(len(dimensions), PANELS_PER_ROW)
    rows = math.ceil(len(dimensions) / columns)
    figure = Figure(figsize=(3.4 * columns + 1.0, 3.4 * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    width = 0.8 / len(policies)
    for ax, dimension in zip(axes, dimensions, strict=False):
        part = segments[segments["dimension"] == dimension]
        labels = list(dict.fromkeys(part["segment"]))
        for k, policy in enumerate(policies):
            mine = part[part["policy"] == policy].set_index("segment").reindex(labels)
            x = np.arange(len(labels)) - 0.4 + width * (k + 0.5)
            height = mine["reward_per_count"].to_numpy(dtype=float)
            error = None
            if intervals:
                low = np.nan_to_num(height - mine["ci_low"].to_numpy(dtype=float))
                high = np.nan_to_num(mine["ci_high"].to_numpy(dtype=float) - height)
                error = np.vstack([low, high])
            ax.bar(x, np.nan_to_num(height), width, yerr=error, capsize=2, label=str(policy),
                   color=f"C{k % 10}")  # fmt: skip
        ax.set_xticks(range(len(labels)), labels, rotation=20)
        ax.set_title(str(dimension))
        ax.set_ylabel(UNITS.get(str(dimension), "reward per request"))
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[len(dimensions) :]:
        ax.set_visible(False)
    legend = "policy" if len(policies) == segments["policy"].nunique() else (
        f"policy ({len(policies)} of {segments['policy'].nunique()})")  # fmt: skip
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, title=legend, loc="outside lower center", fontsize="small",
                  ncols=min(len(policies), PANELS_PER_ROW))  # fmt: skip
    suffix = ", mean over runs with 95% interval" if intervals else ""
    figure.suptitle(f"Reward by segment{suffix}")
    return figure
