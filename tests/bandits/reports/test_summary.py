"""summarize_trace on a hand-made trace, every column checked by hand arithmetic."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bandits.reports.summary import regret_intervals, summarize_trace

COLUMNS = [
    "policy",
    "runs",
    "requests",
    "reward_per_request",
    "expected_reward_per_request",
    "cumulative_regret",
    "regret_per_request",
    "final_regret_per_request",
]


def trace_of(policy, requests, reward, expected, regret, run=None):
    """One policy's rows; ``requests`` is the running count of requests served."""
    frame = pd.DataFrame(
        {
            "policy": policy,
            "step": range(len(requests)),
            "requests": requests,
            "reward": reward,
            "expected_reward": expected,
            "regret": regret,
        }
    )
    return frame if run is None else frame.assign(run=run)


def test_two_policies_one_run():
    # greedy: batches 2, 3, 1, 1, 3 -> 10 requests; the last 20% of 5 steps is step 4 (3 requests)
    greedy = trace_of(
        "greedy", [2, 5, 6, 7, 10], [1, 2, 0, 1, 2], [1, 1.5, 0.5, 0.5, 1.5], [1, 1, 0.5, 0.5, 0.3]
    )
    # uniform: batches of 4 -> 20 requests; step 4 serves 4 requests
    uniform = trace_of("uniform", [4, 8, 12, 16, 20], [1, 1, 2, 2, 2], [2] * 5, [2, 2, 2, 2, 3])
    trace = pd.concat([greedy, uniform], ignore_index=True)
    summary = summarize_trace(trace.iloc[::-1])  # row order must not matter

    assert list(summary.columns) == COLUMNS
    assert summary["policy"].tolist() == ["uniform", "greedy"]  # order of first appearance
    assert summary["runs"].tolist() == [1, 1]
    assert summary["requests"].tolist() == [20, 10]
    assert summary["requests"].dtype == "int64"
    figures = summary.set_index("policy").drop(columns=["runs", "requests"])
    assert figures.loc["greedy"].tolist() == pytest.approx([6 / 10, 5 / 10, 3.3, 3.3 / 10, 0.3 / 3])
    assert figures.loc["uniform"].tolist() == pytest.approx([8 / 20, 10 / 20, 11, 11 / 20, 3 / 4])


def test_final_regret_uses_the_last_fifth_of_steps():
    # 10 steps -> the last 2 steps (batches 1 and 4), regret 2 + 3 over 5 requests
    requests = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13]
    regret = [9, 9, 9, 9, 9, 9, 9, 9, 2, 3]
    summary = summarize_trace(trace_of("p", requests, [0] * 10, [0] * 10, regret))
    assert summary.loc[0, "final_regret_per_request"] == pytest.approx(5 / 5)
    assert summary.loc[0, "regret_per_request"] == pytest.approx(77 / 13)


def test_several_runs_are_averaged():
    requests = [2, 4, 6, 8, 10]
    trace = pd.concat(
        [
            trace_of("p", requests, [1, 1, 1, 1, 0], [1] * 5, [1] * 5, run=0),
            trace_of("p", requests, [2, 1, 1, 1, 1], [1] * 5, [3, 3, 3, 3, 2], run=1),
        ]
    )
    summary = summarize_trace(trace)
    row = summary.iloc[0]
    assert len(summary) == 1
    assert (row["policy"], row["runs"], row["requests"]) == ("p", 2, 10)
    assert row["reward_per_request"] == pytest.approx((4 / 10 + 6 / 10) / 2)
    assert row["expected_reward_per_request"] == pytest.approx(0.5)
    assert row["cumulative_regret"] == pytest.approx((5 + 14) / 2)
    assert row["regret_per_request"] == pytest.approx((5 / 10 + 14 / 10) / 2)
    assert row["final_regret_per_request"] == pytest.approx((1 / 2 + 2 / 2) / 2)


def test_missing_columns():
    trace = trace_of("p", [1, 2], [0, 1], [0, 1], [1, 0]).drop(columns=["regret", "step"])
    with pytest.raises(
        ValueError, match=re.escape("the trace lacks the column(s) ['step', 'regret']")
    ):
        summarize_trace(trace)


def test_regret_intervals_by_hand():
    trace = pd.DataFrame({"policy": "a", "run": [0, 1, 2], "step": 0, "regret": [1.0, 2.0, 4.0]})
    row = regret_intervals(trace).iloc[0]
    stderr = np.std([1.0, 2.0, 4.0], ddof=1) / np.sqrt(3)
    half = stats.t.ppf(0.975, 2) * stderr
    assert row["runs"] == 3 and row["cumulative_regret"] == pytest.approx(7 / 3)
    assert row["stderr"] == pytest.approx(stderr)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((7 / 3 - half, 7 / 3 + half))
