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
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import read_log, write_log
from bandits.observation import SlateObservation
from bandits.ope import IPS, SNIPS, Estimator

T = TypeVar("T")


def make_log(n: int, rng: np.random.Generator) -> LoggedBandit:
    """A uniform-random log: 10 candidates out of 500 items with 6 features, 6 context
    features, slates of 2."""
    width, k, d = 10, 2, 6
    obs = SlateObservation(
        context=rng.normal(size=(n, d)),
        candidate_ids=np.argsort(rng.random((n, 500)), axis=1)[:, :width],
        items=ItemTable(np.arange(500), rng.normal(size=(500, d))),
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
    names = np.full(n, "uniform")
    return LoggedBandit(obs, decision, SlateFeedback(rewards, {"click": rewards}), names)


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """``function()`` and the seconds it took."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _bare_ips(weights: NDArray[np.float64], rewards: NDArray[np.float64]) -> float:
    return float(np.mean(weights * rewards))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    log = make_log(args.rows, rng)
    arrays = {
        "context": log.observation.context,
        "candidate_ids": log.observation.candidate_ids,
        "item_ids": log.items.ids,
        "item_features": log.items.features,
        "slates": log.slates,
        "slate_probability": log.decision.slate_probability,
        "rewards": log.rewards,
    }
    print(f"{args.rows:,} rows, 10 candidates of 500 items x 6 features, slate size 2")
    print("| operation | bandits-recommender | reference | reference is |")
    print("|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        parquet_path, npz_path = Path(folder) / "log.parquet", Path(folder) / "log.npz"
        _, write = timed(lambda: write_log(log, parquet_path))
        _, write_ref = timed(lambda: np.savez(npz_path, allow_pickle=False, **arrays))
        _, read = timed(lambda: read_log(parquet_path))
        _, read_ref = timed(lambda: dict(np.load(npz_path)))
        size = sum(os.path.getsize(p) for p in Path(folder).glob("log*.parquet"))
        size_ref = os.path.getsize(npz_path)
    print(f"| write | {write:.2f} s | {write_ref:.2f} s | numpy.savez |")
    print(f"| read + validate | {read:.2f} s | {read_ref:.2f} s | numpy.load |")
    print(f"| file size | {size / 2**20:.1f} MiB | {size_ref / 2**20:.1f} MiB | numpy.savez |")

    target = rng.uniform(0, 1 / 45, args.rows)
    weights = target / log.decision.slate_probability
    reference = partial(_bare_ips, weights, log.slate_rewards)
    estimators: list[Estimator] = [IPS(), SNIPS()]
    for estimator in estimators:
        _, spent = timed(partial(estimator.estimate, log, target))
        _, spent_ref = timed(reference)
        print(
            f"| {estimator.name} estimate with SE, CI, diagnostics | {spent * 1e3:.0f} ms | "
            f"{spent_ref * 1e3:.1f} ms | bare mean(w * r) |"
        )


if __name__ == "__main__":
    main()
