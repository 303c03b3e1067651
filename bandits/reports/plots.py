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
    return _plot_over_requests(
        trace, "cumulative_regret", "cumulative expected regret", "Cumulative regret by policy",
        best_low=True,
    )  # fmt: skip


def plot_reward_rate(trace: pd.DataFrame) -> Figure:
    """Reward per request so far (the running click-through rate for click rewards) against
    requests served, one line per policy; mean and one-standard-error band over runs as in
    :func:`plot_cumulative_regret` (the ``MAX_LINES`` with the most reward are drawn).

    Parameters
    ----------
    trace : pandas.DataFrame
        Columns ``policy``, ``requests``, ``cumulative_reward`` and optionally ``run``.
    """
    check_trace(trace, ("requests", "cumulative_reward"))
    rate = trace.assign(reward_rate=trace["cumulative_reward"] / trace["requests"])
    return _plot_over_requests(
        rate, "reward_rate", "reward per request so far", "Reward per request by policy",
        best_low=False,
    )  # fmt: skip


def plot_click_rate(trace: pd.DataFrame) -> Figure:
    """Clicks per request so far (the running click-through rate, from the trace's
    ``clicks`` whatever the reward is) against requests served, one line per policy; mean and
    one-standard-error band over runs as in :func:`plot_cumulative_regret`.

    Parameters
    ----------
    trace : pandas.DataFrame
        Columns ``policy``, ``requests``, ``clicks`` (per step) and optionally ``run``.
    """
    return _running_rate(trace, "clicks", "clicks per request so far",
                         "Click-through rate by policy")  # fmt: skip


def plot_engagement_rate(trace: pd.DataFrame) -> Figure:
    """Engagement (watch time) per request so far against requests served, one line per
    policy, as :func:`plot_click_rate` from the trace's ``engagement``."""
    return _running_rate(trace, "engagement", "engagement (watch time) per request so far",
                         "Engagement by policy")  # fmt: skip


def _running_rate(trace: pd.DataFrame, column: str, ylabel: str, title: str) -> Figure:
    """The running sum of the per-step ``column`` over requests served, per policy and run."""
    check_trace(trace, ("step", "requests", column))
    keys = ["policy", "run"] if "run" in trace.columns else ["policy"]
    ordered = trace.sort_values([*keys, "step"], kind="stable")
    running = ordered.groupby(keys, sort=False)[column].cumsum() / ordered["requests"]
    return _plot_over_requests(ordered.assign(rate=running), "rate", ylabel, title,
                               best_low=False)  # fmt: skip


def _plot_over_requests(
    trace: pd.DataFrame, column: str, ylabel: str, title: str, *, best_low: bool
) -> Figure:
    """``column`` against requests, a line (mean over runs) and band (one standard error) per
    policy; at most ``MAX_LINES`` policies, the best by their final value."""
    final = trace.sort_values("requests").groupby("policy", sort=False)[column].last()
    if len(final) > MAX_LINES:
        shown = final.nsmallest(MAX_LINES).index if best_low else final.nlargest(MAX_LINES).index
    else:
        shown = final.index
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for policy, rows in trace[trace["policy"].isin(shown)].groupby("policy", sort=False):
        curve = rows.groupby("requests")[column].agg(["mean", "sem", "count"])
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
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    legend = "policy" if len(shown) == len(final) else f"policy ({len(shown)} of {len(final)})"
    ax.legend(title=legend)
    return figure
