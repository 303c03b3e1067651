"""Summary tables of a run: per-policy rewards and regret from a tidy trace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bandits.reports.trace import check_trace

FINAL_FRACTION = 0.2
"""Share of the last steps over which the 'final' regret per request is averaged."""


def summarize_trace(trace: pd.DataFrame) -> pd.DataFrame:
    """One row per policy: requests, mean reward, mean regret, and regret near the end.

    With several runs (a ``run`` column) the figures are averaged over runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy``, ``runs``, ``requests``, ``reward_per_request``,
        ``expected_reward_per_request``, ``cumulative_regret``, ``regret_per_request`` and
        ``final_regret_per_request`` (over the last ``FINAL_FRACTION`` of steps).
    """
    check_trace(trace, ("step", "requests", "reward", "expected_reward", "regret"))
    frame = trace if "run" in trace.columns else trace.assign(run=0)
    per_run = pd.DataFrame(
        [
            {"policy": policy, **_one_run(rows)}
            for (policy, _), rows in frame.groupby(["policy", "run"], sort=False)
        ]
    )
    summary = per_run.groupby("policy", sort=False).mean()
    summary.insert(0, "runs", per_run.groupby("policy", sort=False).size())
    summary["requests"] = summary["requests"].round().astype(np.int64)
    return summary.reset_index()


def _one_run(rows: pd.DataFrame) -> dict[str, float]:
    rows = rows.sort_values("step")
    served = rows["requests"].iloc[-1]
    batch = rows["requests"].diff().fillna(rows["requests"].iloc[0])
    tail = np.arange(len(rows)) >= int((1 - FINAL_FRACTION) * len(rows))
    tail_requests = batch[tail].sum()
    return {
        "requests": float(served),
        "reward_per_request": float(rows["reward"].sum() / served),
        "expected_reward_per_request": float(rows["expected_reward"].sum() / served),
        "cumulative_regret": float(rows["regret"].sum()),
        "regret_per_request": float(rows["regret"].sum() / served),
        "final_regret_per_request": float(rows.loc[tail, "regret"].sum() / tail_requests),
    }


def regret_intervals(trace: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Cumulative regret at the end of the runs, per policy, with a t-interval over runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy``, ``runs``, ``cumulative_regret`` (mean over runs), ``stderr``,
        ``ci_low``, ``ci_high`` (the ``confidence`` t-interval; NaN with a single run).
    """
    check_trace(trace, ("step", "regret"))
    frame = trace if "run" in trace.columns else trace.assign(run=0)
    totals = frame.groupby(["policy", "run"], sort=False)["regret"].sum()
    rows = [
        {"policy": policy, "runs": len(values),
         **t_interval(values.to_numpy(), confidence, name="cumulative_regret")}
        for policy, values in totals.groupby(level="policy", sort=False)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def t_interval(
    values: np.ndarray, confidence: float = 0.95, *, name: str = "mean"
) -> dict[str, float]:
    """The mean of ``values`` (one per run) under ``name``, its ``stderr`` and the
    ``confidence`` t-interval ``ci_low``, ``ci_high`` over runs (NaN with fewer than two runs
    or when a value is NaN)."""
    n = len(values)
    mean = float(np.mean(values)) if n else float("nan")
    stderr = float(np.std(values, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * stderr) if n > 1 else float("nan")
    return {name: mean, "stderr": stderr, "ci_low": mean - half, "ci_high": mean + half}
