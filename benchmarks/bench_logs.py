"""Logged-data speed: Parquet write/read of a LoggedBandit and IPS/SNIPS on a large table.

References, in the same run: ``numpy.savez`` / ``numpy.load`` of the same arrays (no schema,
no validation) for the file round trip, and a bare ``mean(w * r)`` for the estimators (no
checks, no standard error, no diagnostics).

Run: .venv/bin/python benchmarks/bench_logs.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope import IPS, SNIPS


def make_log(n: int, rng: np.random.Generator) -> LoggedBandit:
    """A uniform-random log: 10 candidates of 6 features, 6 context features, slates of 2."""
    width, k, d = 10, 2, 6
    obs = SlateObservation(
        context=rng.normal(size=(n, d)),
        candidate_ids=np.argsort(rng.random((n, 500)), axis=1)[:, :width],
        candidate_features=rng.normal(size=(n, width, d)),
        n_candidates=np.full(n, width),
        slate_size=k,
        history=np.full((n, 5), -1),
        request_ids=np.arange(n),
        user_ids=rng.integers(0, 1000, size=n),
        times=np.arange(n) // 100,
    )
    slates = np.argsort(rng.random((n, width)), axis=1)[:, :k]
    decision = SlateDecision(slates, np.full(n, 1 / 90), np.full((n, k), 0.1))
    rewards = (rng.random((n, k)) < 0.2).astype(float)
    return LoggedBandit(obs, decision, SlateFeedback(rewards, {"click": rewards}), "uniform")


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    log = make_log(args.rows, rng)
    arrays = {
        "context": log.observation.context,
        "candidate_ids": log.observation.candidate_ids,
        "candidate_features": log.observation.candidate_features,
        "slates": log.slates,
        "slate_probability": log.decision.slate_probability,
        "rewards": log.rewards,
    }
    print(f"{args.rows:,} rows, 10 candidates x 6 features, slate size 2")
    print("| operation | bandits-recommender | reference | reference is |")
    print("|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        parquet_path, npz_path = Path(folder) / "log.parquet", Path(folder) / "log.npz"
        _, write = timed(lambda: log.to_parquet(parquet_path))
        _, write_ref = timed(lambda: np.savez(npz_path, **arrays))
        _, read = timed(lambda: LoggedBandit.from_parquet(parquet_path))
        _, read_ref = timed(lambda: dict(np.load(npz_path)))
        size, size_ref = os.path.getsize(parquet_path), os.path.getsize(npz_path)
    print(f"| write | {write:.2f} s | {write_ref:.2f} s | numpy.savez |")
    print(f"| read + validate | {read:.2f} s | {read_ref:.2f} s | numpy.load |")
    print(f"| file size | {size / 2**20:.1f} MiB | {size_ref / 2**20:.1f} MiB | numpy.savez |")

    target = rng.uniform(0, 1 / 45, args.rows)
    for estimator in (IPS(), SNIPS()):
        _, spent = timed(lambda estimator=estimator: estimator.estimate(log, target))
        weights = target / log.decision.slate_probability
        _, spent_ref = timed(lambda weights=weights: float(np.mean(weights * log.slate_rewards)))
        print(
            f"| {estimator.name} estimate with SE, CI, diagnostics | {spent * 1e3:.0f} ms | "
            f"{spent_ref * 1e3:.1f} ms | bare mean(w * r) |"
        )


if __name__ == "__main__":
    main()
