"""Summary tables of a run: per-policy rewards and regret from a tidy trace."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
