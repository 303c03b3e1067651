"""Figures from tidy traces (one row per run x step x policy). Nothing here writes files."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bandits.reports.trace import check_trace

MAX_LINES = 20
"""Most policies one figure draws (those with the least final regret); the tables hold all."""


def plot_cumulative_regret(trace: pd.DataFrame) -> Figure:
    """Cumulative regret against requests served, one line per policy.

    With several runs (a ``run`` column), the line is the mean over runs and the band one
    standard error either side. With more than ``MAX_LINES`` policies, the ``MAX_LINES`` with
    the least final regret are drawn and the legend says how many of how many.

    Parameters
    ----------
    trace : pandas.DataFrame
        Columns ``policy``, ``requests``, ``cumulative_regret`` and optionally ``run``.
    """
    check_trace(trace, ("requests", "cumulative_regret"))
    final = trace.sort_values("requests").groupby("policy", sort=False)["cumulative_regret"].last()
    shown = final.nsmallest(MAX_LINES).index if len(final) > MAX_LINES else final.index
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for policy, rows in trace[trace["policy"].isin(shown)].groupby("policy", sort=False):
        curve = rows.groupby("requests")["cumulative_regret"].agg(["mean", "sem", "count"])
        (line,) = ax.plot(curve.index, curve["mean"], label=str(policy))
        if curve["count"].max() > 1:
            band = np.nan_to_num(curve["sem"].to_numpy())
            ax.fill_between(
                curve.index,
                curve["mean"] - band,
                curve["mean"] + band,
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
    ax.set_xlabel("requests served")
    ax.set_ylabel("cumulative expected regret")
    ax.set_title("Cumulative regret by policy")
    ax.grid(alpha=0.3)
    title = "policy" if len(shown) == len(final) else f"policy ({len(shown)} of {len(final)})"
    ax.legend(title=title)
    return figure
