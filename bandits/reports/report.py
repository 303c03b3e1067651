"""Assemble a run's report: summary tables, figures and notes, as objects (nothing written)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bandits.reports.estimates import plot_estimates
from bandits.reports.plots import (
    plot_click_rate,
    plot_cumulative_regret,
    plot_engagement_rate,
    plot_reward_rate,
)
from bandits.reports.render import render_html, render_markdown
from bandits.reports.segment_plots import plot_segments
from bandits.reports.summary import summarize_trace


@dataclass
class Report:
    """A report ready to be written: the caller (the CLI) decides where.

    Attributes
    ----------
    title : str
    notes : list of str
        Paragraphs under the title.
    tables : dict of str to DataFrame
        By file stem (``"summary"``); each also appears as a section.
    sections : list of (str, DataFrame)
        (heading, table) in the order shown.
    figures : dict of str to (str, Figure)
        By file name (``"regret.png"``): (caption, figure).
    """

    title: str
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sections: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: dict[str, tuple[str, Figure]] = field(default_factory=dict)

    def markdown(self) -> str:
        """The report as Markdown that links the figures by file name."""
        return render_markdown(self.title, self.sections, self._captions(), self.notes)

    def html(self) -> str:
        """The report as one self-contained HTML page: the figures are embedded as PNG data
        (it opens from disk, alone, with no server)."""
        embedded = [(caption, png_data_uri(figure)) for caption, figure in self.figures.values()]
        return render_html(self.title, self.sections, embedded, self.notes)

    def _captions(self) -> list[tuple[str, str]]:
        return [(caption, name) for name, (caption, _) in self.figures.items()]


def png_data_uri(figure: Figure, dpi: int = 120) -> str:
    """``figure`` as a ``data:image/png;base64,...`` URI (what an ``<img src>`` can embed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


SEGMENTS_CAPTION = "Reward by segment (users, items, device, time of day...) per policy"
ESTIMATES_CAPTION = "Off-policy estimates with their intervals (true values where known)"


def build_report(
    trace: pd.DataFrame,
    *,
    estimates: pd.DataFrame | None = None,
    config: Mapping[str, Any] | None = None,
    title: str = "Run",
    segments: pd.DataFrame | None = None,
) -> Report:
    """The report of a run: per-policy summary, cumulative regret and reward plots, the
    click-through rate and engagement when the trace records them (``clicks``, ``engagement``
    all finite) and, if
    given, the segments and the off-policy estimates (a table and a figure of the estimates
    with their intervals against the true values, when the table has them).

    Parameters
    ----------
    trace : pandas.DataFrame
        The rollout trace (one row per policy x step, optionally a ``run`` column).
    estimates : pandas.DataFrame, optional
        A table from :func:`bandits.ope.evaluate_log`.
    config : mapping, optional
        The simulation config (``env``, ``env_params``, ``seed``, ``total_requests``) for the
        notes.
    title : str
    segments : pandas.DataFrame, optional
        A table from :func:`bandits.reports.segment_table` (or, over runs,
        :func:`bandits.reports.segment_intervals`).
    """
    summary = summarize_trace(trace)
    report = Report(title=title)
    if config is not None:
        report.notes.append(
            f"Environment {config.get('env', '?')} with {config.get('env_params', {})}; "
            f"seed {config.get('seed', '?')}; {config.get('total_requests', '?')} requests per "
            f"policy."
        )
    report.figures["regret.png"] = (
        "Cumulative expected regret per policy",
        plot_cumulative_regret(trace),
    )
    report.figures["reward.png"] = (
        "Reward per request so far, per policy",
        plot_reward_rate(trace),
    )
    for column, name, caption, plot in (
        ("clicks", "ctr.png", "Click-through rate (clicks per request so far), per policy",
         plot_click_rate),
        ("engagement", "engagement.png", "Engagement (watch time) per request so far, per "
         "policy", plot_engagement_rate),
    ):  # fmt: skip
        if column in trace.columns and np.isfinite(trace[column].to_numpy(dtype=float)).all():
            report.figures[name] = (caption, plot(trace))
    report.tables["summary"] = summary
    report.sections.append(("Policies", summary))
    if segments is not None:
        report.figures["segments.png"] = (SEGMENTS_CAPTION, plot_segments(segments))
        report.tables["segments"] = segments
        report.sections.append(
            ("Reward by segment (users, items and the context signals the logs name)", segments)
        )
    if estimates is not None:
        report.figures["estimates.png"] = (ESTIMATES_CAPTION, plot_estimates(estimates))
        report.sections.append(("Off-policy estimates", estimates))
    return report
