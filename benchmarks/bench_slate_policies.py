"""Serving speed of every policy on slates of 10 from 100 candidates with 32 item features.

Requests come in batches of 100: 8 context features, 100 candidates drawn from a catalogue of
10,000 items, a history of 5 items; clicks are Bernoulli draws of a hidden logistic model
of (context x item). Each policy acts and learns on the same batches; the table gives requests
per second of act + update (building the observation is outside the timing) after a warm-up
batch, each policy run for ``--seconds`` or ``--batches``, whichever ends first. One BLAS
thread.

Run: .venv/bin/python benchmarks/bench_slate_policies.py [--batches 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from threadpoolctl import threadpool_limits

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import SlateObservation
from bandits.specs import parse_spec
from policies import make_policy

N_ITEMS, N_CONTEXT, N_FEATURES, CANDIDATES, SLATE, BATCH, HISTORY = (
    10_000, 8, 32, 100, 10, 100, 5)  # fmt: skip

SPECS = [
    "uniform",
    "epsilon-greedy",
    "ridge-greedy",
    "linucb",
    "linucb:model=disjoint",
    "linucb:model=hybrid",
    "lints:probability_draws=100",
    "lints:model=disjoint,probability_draws=100",
    "popularity",
    "item-item",
    "user-knn",
    "content",
    "cf-hybrid",
]
"""vw is left out: its exact marginals for slates of 10 from 100 candidates would take more
VW predictions per request than its ``max_predictions`` allows (see bench_vw.py)."""


class World:
    """The catalogue, a hidden click model and a stream of request batches."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        features = self.rng.normal(size=(N_ITEMS, N_FEATURES)) / np.sqrt(N_FEATURES)
        self.items = ItemTable(np.arange(N_ITEMS), features)
        self.weights = self.rng.normal(size=(N_CONTEXT, N_FEATURES))
        self.start = 0

    def batch(self) -> SlateObservation:
        rng, n = self.rng, BATCH
        keys = rng.random((n, N_ITEMS))
        candidates = np.argpartition(keys, CANDIDATES, axis=1)[:, :CANDIDATES]
        obs = SlateObservation(
            context=rng.normal(size=(n, N_CONTEXT)),
            candidate_ids=candidates.astype(np.int64),
            n_candidates=np.full(n, CANDIDATES),
            slate_size=SLATE,
            history=rng.integers(0, N_ITEMS, size=(n, HISTORY)),
            request_ids=self.start + np.arange(n),
            user_ids=rng.integers(0, 5_000, size=n),
            times=np.full(n, self.start),
            items=self.items,
        )
        self.start += n
        return obs

    def clicks(self, obs: SlateObservation, slates: NDArray[np.int64]) -> NDArray[np.float64]:
        shown = self.items.features[np.take_along_axis(obs.candidate_ids, slates, axis=1)]
        logits = np.einsum("na,ab,nkb->nk", obs.context, self.weights, shown) - 2.0
        examine = 1.0 / (1.0 + np.arange(SLATE))
        return (self.rng.random(slates.shape) < examine * expit(logits)).astype(np.float64)


def requests_per_second(spec: str, batches: int, seconds: float) -> tuple[float, int]:
    world = World(seed=0)
    policy = make_policy(*parse_spec(spec), rng=np.random.default_rng(1))
    spent, served = 0.0, 0
    for index in range(batches + 1):
        obs = world.batch()
        begin = time.perf_counter()
        decision = policy.act(obs)
        feedback = SlateFeedback(world.clicks(obs, decision.slates))
        policy.update(obs, decision, feedback)
        if index:  # the first batch warms up
            spent += time.perf_counter() - begin
            served += obs.n_requests
            if spent > seconds:
                break
    return served / spent, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"slates of {SLATE} from {CANDIDATES} candidates, {N_FEATURES} item features, "
          f"{N_CONTEXT} context features, batches of {BATCH}; one BLAS thread")  # fmt: skip
    print("| policy | requests/s (act + update) | requests timed |")
    print("|---|---:|---:|")
    with threadpool_limits(1, user_api="blas"):
        for spec in SPECS:
            speed, served = requests_per_second(spec, args.batches, args.seconds)
            print(f"| {spec} | {speed:,.0f} | {served:,} |", flush=True)


if __name__ == "__main__":
    main()
