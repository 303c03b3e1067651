"""Reports of runs: summary tables, figures and their rendering. Nothing here writes files."""

from bandits.reports.estimates import plot_estimates
from bandits.reports.plots import (
    plot_click_rate,
    plot_cumulative_regret,
    plot_engagement_rate,
    plot_reward_rate,
)
from bandits.reports.render import markdown_table, render_html, render_markdown
from bandits.reports.report import Report, build_report
from bandits.reports.segment_plots import plot_segments
from bandits.reports.segments import SegmentTotals, segment_intervals, segment_table
from bandits.reports.summary import regret_intervals, summarize_trace
from bandits.reports.trace import check_trace, read_trace

__all__ = [
    "Report",
    "SegmentTotals",
    "build_report",
    "check_trace",
    "markdown_table",
    "plot_click_rate",
    "plot_cumulative_regret",
    "plot_engagement_rate",
    "plot_estimates",
    "plot_reward_rate",
    "plot_segments",
    "read_trace",
    "regret_intervals",
    "render_html",
    "render_markdown",
    "segment_intervals",
    "segment_table",
    "summarize_trace",
]
