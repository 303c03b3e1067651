"""LinUCB serving speed: this package's batched LinUCB against a row-at-a-time reference.

The reference is the textbook loop: for each request, score its candidates with an explicit
A^-1 and, after feedback, fold each shown item into A^-1 by a Sherman-Morrison update. Both see
the same observations from bandits/LatentFactor-v0 and the same feedback (the reference's
slates are scored but the feedback of ours is fed to both, so their states stay equal); the
table reports requests per second for act + update, and how often the two chose the same slate.

Both are run with one BLAS thread and with the machine's default, side by side: the matrices
are small (43 x 43), and on a 2-core machine extra BLAS threads cost more than they give, which
is why the CLI defaults to --blas-threads 1.

Run: .venv/bin/python benchmarks/bench_linucb.py [--requests N]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_info, threadpool_limits

import simulator  # noqa: F401  (registers the environment)
from bandits.feedback import SlateFeedback
from bandits.models.features import interaction_features
from bandits.observation import SlateObservation, as_observation
from policies import LinUCB


class RowAtATimeLinUCB:
    """Reference: per-request scoring and per-row Sherman-Morrison updates of A^-1."""

    def __init__(self, alpha: float, n_features: int) -> None:
        self.alpha = alpha
        self.a_inv = np.eye(n_features)
        self.b = np.zeros(n_features)

    def act(self, obs: SlateObservation) -> NDArray[np.int64]:
        x = interaction_features(obs)
        slates = np.empty((obs.n_requests, obs.slate_size), dtype=np.int64)
        theta = self.a_inv @ self.b
        for i in range(obs.n_requests):
            rows = x[i, : obs.n_candidates[i]]
            ucb = rows @ theta + self.alpha * np.sqrt(
                np.einsum("cd,de,ce->c", rows, self.a_inv, rows)
            )
            slates[i] = np.argsort(-ucb, kind="stable")[: obs.slate_size]
        return slates

    def update(
        self, obs: SlateObservation, slates: NDArray[np.int64], rewards: NDArray[np.float64]
    ) -> None:
        x = interaction_features(obs, slates)
        for i in range(obs.n_requests):
            for k in range(obs.slate_size):
                v = x[i, k]
                av = self.a_inv @ v
                self.a_inv -= np.outer(av, av) / (1.0 + v @ av)
                self.b += rewards[i, k] * v


def run(total: int, batch: int) -> list[tuple[str, float, float]]:
    env = gym.make(
        "bandits/LatentFactor-v0",
        n_requests=batch,
        slate_size=3,
        min_candidates=20,
        max_candidates=20,
    )
    raw, _ = env.reset(seed=0)
    obs = as_observation(raw)
    ours = LinUCB(alpha=1.0)
    reference = RowAtATimeLinUCB(1.0, interaction_features(obs).shape[-1])
    spent = {"batched": 0.0, "reference": 0.0}
    agree = 0
    for _ in range(total // batch):
        start = time.perf_counter()
        decision = ours.act(obs)
        spent["batched"] += time.perf_counter() - start
        start = time.perf_counter()
        reference_slates = reference.act(obs)
        spent["reference"] += time.perf_counter() - start
        agree += int((reference_slates == decision.slates).all(axis=1).sum())
        raw, _, _, _, info = env.step(decision.slates)
        feedback = SlateFeedback(info["rewards"])
        start = time.perf_counter()
        ours.update(obs, decision, feedback)
        spent["batched"] += time.perf_counter() - start
        start = time.perf_counter()
        reference.update(obs, decision.slates, feedback.rewards)
        spent["reference"] += time.perf_counter() - start
        obs = as_observation(raw)
    served = (total // batch) * batch
    return [
        ("LinUCB, batched (bandits-recommender)", served / spent["batched"], agree / served),
        ("LinUCB, row at a time (reference)", served / spent["reference"], 1.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    print(
        f"{args.requests} requests, batches of {args.batch}, 20 candidates, slate size 3, "
        "43 features"
    )
    print("| implementation | BLAS threads | requests/s | same slate as reference |")
    print("|---|---:|---:|---:|")
    for threads in sorted({1, max(blas, default=1)}):
        with threadpool_limits(threads, user_api="blas"):
            rows = run(args.requests, args.batch)
        for name, speed, agree in rows:
            print(f"| {name} | {threads} | {speed:,.0f} | {agree:.1%} |")


if __name__ == "__main__":
    main()
