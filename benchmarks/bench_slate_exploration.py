"""Slate exploration speed: act() of softmax (Plackett-Luce) and per-position epsilon-greedy
slates, with and without the candidate-position marginals.

Requests carry 8 context features and 100 candidates out of a catalogue of 5,000 items with 32
features; slates of 10; batches of 100 requests. Every policy scores with the same ridge model
(joint features, 8 x 32 + 32 + 1 = 289), trained first on 2,000 requests of a linear reward, so
the scores are spread as a learning policy's are. Each row times act() alone (the model's
scoring included: the ridge-greedy and whole-slate epsilon-greedy rows show what scoring and
top-k cost by themselves) over the same batches, and reports requests per second.

Softmax's act() reports the exact slate probability (log-sum-exp per position) and each shown
item's position probability, which for positions 2 and later is the exponential-race quadrature
(see bandits.slates.plackett_luce_marginals); with marginals it runs the quadrature for every
candidate instead of the shown ones. Per-position epsilon-greedy's probabilities are an exact
DP costing O(k^4) per request whatever the number of candidates.

Run: .venv/bin/python benchmarks/bench_slate_exploration.py [--batches N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import SlateObservation
from policies import (
    BasePolicy,
    EpsilonGreedy,
    GreedyPolicy,
    PerPositionEpsilonGreedy,
    RidgeGreedy,
    Softmax,
)

N_CONTEXT, N_ITEM, CATALOGUE, CANDIDATES, SLATE, BATCH = 8, 32, 5000, 100, 10, 100


def batches(n_batches: int, seed: int) -> list[SlateObservation]:
    rng = np.random.default_rng(seed)
    items = ItemTable(np.arange(CATALOGUE), rng.normal(size=(CATALOGUE, N_ITEM)) / np.sqrt(N_ITEM))
    out = []
    for b in range(n_batches):
        ids = np.argsort(rng.random((BATCH, CATALOGUE)), axis=1)[:, :CANDIDATES]
        out.append(
            SlateObservation(
                context=rng.normal(size=(BATCH, N_CONTEXT)),
                candidate_ids=ids,
                n_candidates=np.full(BATCH, CANDIDATES),
                slate_size=SLATE,
                history=np.zeros((BATCH, 0), dtype=np.int64),
                request_ids=b * BATCH + np.arange(BATCH),
                user_ids=np.zeros(BATCH, dtype=np.int64),
                times=np.full(BATCH, b),
                items=items,
            )
        )
    return out


def trained_base(seed: int) -> RidgeGreedy:
    """A ridge model fitted on 2,000 requests whose rewards are linear in item features."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=N_ITEM)
    base = RidgeGreedy(rng=np.random.default_rng(seed + 1))
    explorer = EpsilonGreedy(epsilon=1.0, base=base, rng=np.random.default_rng(seed + 2))
    for obs in batches(20, seed + 3):
        decision = explorer.act(obs)
        features = np.take_along_axis(obs.candidate_features, decision.slates[:, :, None], axis=1)
        rewards = features @ weights + rng.normal(scale=0.3, size=decision.slates.shape)
        explorer.update(obs, decision, SlateFeedback(rewards))
    return base


def requests_per_second(policy: BasePolicy, work: list[SlateObservation], marginals: bool) -> float:
    policy.act(work[0], with_marginals=marginals)  # warm up
    start = time.perf_counter()
    for obs in work:
        policy.act(obs, with_marginals=marginals)
    return len(work) * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="batches of 100 requests")
    args = parser.parse_args()
    base: GreedyPolicy = trained_base(0)
    work = batches(args.batches, 1)
    rng = np.random.default_rng(2)
    policies: list[tuple[str, BasePolicy]] = [
        ("softmax:temperature=0.1", Softmax(temperature=0.1, base=base, rng=rng)),
        ("softmax:temperature=1.0", Softmax(temperature=1.0, base=base, rng=rng)),
        (
            "per-position-epsilon-greedy:epsilon=0.1",
            PerPositionEpsilonGreedy(epsilon=0.1, base=base, rng=rng),
        ),
        (
            "epsilon-greedy:epsilon=0.1 (whole slate)",
            EpsilonGreedy(epsilon=0.1, base=base, rng=rng),
        ),
        ("ridge-greedy (scoring and top-k only)", base),
    ]
    print(
        f"{args.batches * BATCH} requests in batches of {BATCH}, {CANDIDATES} candidates, "
        f"slates of {SLATE}, {N_ITEM} item features, 1 BLAS thread"
    )
    print("| policy | act() requests/s | act(with_marginals=True) requests/s |")
    print("|---|---:|---:|")
    with threadpool_limits(1, user_api="blas"):
        for name, policy in policies:
            plain = requests_per_second(policy, work, False)
            full = requests_per_second(policy, work, True)
            print(f"| {name} | {plain:,.0f} | {full:,.0f} |")
    softmax = policies[0][1]
    decision = softmax.act(work[0], with_marginals=True)
    assert decision.candidate_position_probability is not None
    drift = np.abs(decision.candidate_position_probability.sum(axis=1) - 1.0).max()
    print(f"\nsoftmax marginals: largest |sum over candidates - 1| at a position = {drift:.1e}")


if __name__ == "__main__":
    main()
