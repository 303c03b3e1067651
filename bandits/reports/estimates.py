"""The figure of off-policy estimates against the true values: one panel per target (per log
and target when the estimates say which log they are on), each
estimator's estimate with its interval and, when the world's truth is known, the true value as
the reference. Nothing here writes files."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bandits.validation import InputValueError, check_columns

ESTIMATES_REQUIRED = ("target", "estimator", "value", "ci_low", "ci_high")
"""Columns :func:`plot_estimates` needs (``true_value``, ``run``, ``log`` and ``confidence``
are optional)."""

SPREAD = 0.6
"""Width, in estimator slots, over which the runs of one estimator are spread side by side."""

PANELS_PER_ROW = 3

TITLE_WIDTH = 30
"""Characters per line of a panel's title: a longer target name is wrapped, never cut."""


def plot_estimates(estimates: pd.DataFrame) -> Figure:
    """Estimates with their intervals, one panel per target, one slot per estimator.

    Each row is a point (the estimate) with an error bar (its interval); several rows of one
    target and estimator (runs: a ``run`` column, e.g. seeds of a sweep) sit side by side in
    the estimator's slot. With a ``true_value`` column the truth is drawn: a dashed horizontal
    line labelled ``true value`` when the panel has one true value, else a black bar at each
    run's point (each run's world has its own truth). With a ``log`` column (the policy whose
    log was evaluated) there is one panel per log and target, its title naming both (wrapped,
    never cut).

    Parameters
    ----------
    estimates : pandas.DataFrame
        Columns ``ESTIMATES_REQUIRED``, optionally ``true_value``, ``run``, ``log`` and
        ``confidence``.
    """
    check_columns(estimates, ESTIMATES_REQUIRED, "the estimates")
    if estimates.empty:
        raise InputValueError("the estimates have no rows: there is nothing to plot.")
    by_log = "log" in estimates.columns
    keys = ["log", "target"] if by_log else ["target"]
    panels = list(dict.fromkeys(estimates[keys].itertuples(index=False, name=None)))
    estimators = list(dict.fromkeys(estimates["estimator"]))
    columns = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / columns)
    height = 3.6 + (0.3 if by_log else 0.0)  # room for the log's line of the title
    figure = Figure(figsize=(3.2 * columns + 1.0, height * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        mine = np.logical_and.reduce([estimates[k] == v for k, v in zip(keys, panel, strict=True)])
        _panel(ax, estimates[mine], estimators)
        title = wrap_name(str(panel[-1]))
        if by_log:
            title += "\n" + wrap_name(f"on the log of {panel[0]}")
        ax.set_title(title, fontsize="medium")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    legend: dict[str, Artist] = {}  # label -> handle, over every panel, in order
    for ax in axes[: len(panels)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    # below the panels, where neither the figure's title nor a panel's can be under it
    figure.legend(list(legend.values()), list(legend), loc="outside lower center",
                  ncols=min(len(legend), 4), fontsize="small")  # fmt: skip
    level = _confidence(estimates)
    by = "by log and target" if by_log else "by target"
    figure.suptitle(f"Off-policy estimates with their {level}intervals, {by}")
    return figure


def wrap_name(name: str, width: int = TITLE_WIDTH) -> str:
    """``name`` on lines of at most ``width`` characters, broken after a ``,``, ``:`` or
    space where it can be (a spec's parameters stay whole) and inside a longer part only
    where it must; joining the lines gives ``name`` back, so nothing is cut."""
    lines: list[str] = []
    line = ""
    for part in re.split(r"(?<=[,: ])", name):
        while len(part) > width:  # a part longer than a line: broken where it must be
            if line:
                lines.append(line)
                line = ""
            lines.append(part[:width])
            part = part[width:]
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    if line or not lines:
        lines.append(line)
    return "\n".join(lines)


def _panel(ax: Axes, rows: pd.DataFrame, estimators: list[str]) -> None:
    """One target: each estimator's runs (in run order) with their intervals, then the truth."""
    if "run" in rows.columns:
        rows = rows.sort_values("run", kind="stable")
    truth_x: list[float] = []
    truth_y: list[float] = []
    for slot, estimator in enumerate(estimators):
        mine = rows[rows["estimator"] == estimator]
        if mine.empty:
            continue
        value = mine["value"].to_numpy(dtype=float)
        low = np.nan_to_num(value - mine["ci_low"].to_numpy(dtype=float))
        high = np.nan_to_num(mine["ci_high"].to_numpy(dtype=float) - value)
        x = slot + _offsets(len(mine))
        ax.errorbar(x, value, yerr=np.vstack([low, high]), fmt="o", capsize=3,
                    label=str(estimator), color=f"C{slot % 10}")  # fmt: skip
        if "true_value" in mine.columns:
            truth_x.extend(x)
            truth_y.extend(mine["true_value"].to_numpy(dtype=float))
    truths = np.asarray(truth_y)
    known = truths[np.isfinite(truths)]
    if known.size and np.allclose(known, known[0], rtol=1e-12, atol=0.0):
        ax.axhline(known[0], color="black", linestyle="--", linewidth=1, label="true value")
    elif known.size:
        ax.plot(truth_x, truths, linestyle="none", marker="_", markersize=14,
                markeredgewidth=2, color="black", label="true value")  # fmt: skip
    ax.set_xticks(range(len(estimators)), [str(e) for e in estimators])
    ax.set_xlim(-0.6, len(estimators) - 0.4)
    ax.set_xlabel("estimator")
    ax.set_ylabel("value per request")
    ax.grid(alpha=0.3, axis="y")


def _offsets(count: int) -> np.ndarray:
    """Positions of ``count`` runs within a slot, centred on it."""
    if count == 1:
        return np.zeros(1)
    return np.linspace(-SPREAD / 2, SPREAD / 2, count)


def _confidence(estimates: pd.DataFrame) -> str:
    """``"95% "`` when the rows share one confidence level, else nothing."""
    if "confidence" not in estimates.columns:
        return ""
    levels = pd.to_numeric(estimates["confidence"], errors="coerce").dropna().unique()
    return f"{100 * levels[0]:g}% " if len(levels) == 1 else ""
