"""CF and content baselines on a large catalogue: speed, clicks and what they store.

Each policy meets the same requests of bandits/LatentFactor-v0 (reset with one seed) with a
catalogue of 100,000 items and 20,000 users, batches of 256 requests choosing 5 of 100
candidates; the table reports requests per second for act + update, the mean expected clicks
per request over the run and over its last quarter, and the entries each policy keeps (items,
co-clicked pairs, user-item pairs), which grow with what was seen, not with the id range.

Run: .venv/bin/python benchmarks/bench_cf.py [--steps N] [--seed S]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation
from bandits.specs import parse_spec
from policies import BasePolicy, CFHybrid, ItemItem, Popularity, UserKNN, make_policy
from simulator import LatentFactorEnv

WORLD: dict[str, Any] = {
    "n_users": 20_000,
    "n_items": 100_000,
    "n_requests": 256,
    "slate_size": 5,
    "min_candidates": 100,
    "max_candidates": 100,
    "history_length": 10,
}
SPECS = [
    "uniform",
    "popularity",
    "item-item",
    "user-knn",
    "content",
    "content:interactions=true",
    "cf-hybrid",
    "cf-hybrid:interactions=true",
    "linucb",
]


def stored_entries(policy: BasePolicy) -> str:
    """What a policy keeps, by kind."""
    if isinstance(policy, Popularity):
        return f"{len(policy.counts_):,} items"
    if isinstance(policy, ItemItem | CFHybrid):
        cooccurrence = policy.cooccurrence_
        return f"{len(cooccurrence.codes_):,} items, {len(cooccurrence.pair_counts_):,} pairs"
    if isinstance(policy, UserKNN):
        return f"{len(policy.users_):,} users, {len(policy.user_items_):,} user-items"
    return ""


def run(spec: str, steps: int, seed: int) -> tuple[float, float, float, str]:
    """Requests per second, mean expected clicks (all, last quarter), stored entries."""
    env = LatentFactorEnv(**WORLD)
    raw, _ = env.reset(seed=seed)
    policy = make_policy(*parse_spec(spec), rng=np.random.default_rng(seed + 1))
    clicks, busy = [], 0.0
    for _ in range(steps):
        obs = SlateObservation.from_mapping(raw)
        start = time.perf_counter()
        decision = policy.act(obs)
        busy += time.perf_counter() - start
        raw, _, _, _, info = env.step(decision.slates)
        feedback = SlateFeedback(info["rewards"])
        start = time.perf_counter()
        policy.update(obs, decision, feedback)
        busy += time.perf_counter() - start
        clicks.append(info["expected_reward"].mean())
    quarter = max(1, steps // 4)
    speed = steps * WORLD["n_requests"] / busy
    return speed, float(np.mean(clicks)), float(np.mean(clicks[-quarter:])), stored_entries(policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{args.steps} steps x {WORLD['n_requests']} requests, {WORLD['n_items']:,} items, "
        f"{WORLD['n_users']:,} users, slates of {WORLD['slate_size']} out of "
        f"{WORLD['max_candidates']}, seed {args.seed}, one BLAS thread"
    )
    print(f"{'policy':<30} {'requests/s':>11} {'clicks':>7} {'last 1/4':>9}  stored")
    with threadpool_limits(limits=1, user_api="blas"):
        for spec in SPECS:
            speed, mean, late, stored = run(spec, args.steps, args.seed)
            print(f"{spec:<30} {speed:>11,.0f} {mean:>7.3f} {late:>9.3f}  {stored}")


if __name__ == "__main__":
    main()
