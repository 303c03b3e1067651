"""Speed of every estimator (with its reward model and each interval) on one large log.

The log of ``bench_logs.make_log``: 10 candidates, slates of 2, 6 context and 6 item features,
a uniform logger; the target is epsilon-greedy (epsilon 0.3) over a ridge model trained on the
first 10,000 rows. Each row of the table is one ``estimate`` call (fitting the cross-fitted
reward model where there is one) on all rows, one BLAS thread.

Run: .venv/bin/python benchmarks/bench_estimators.py [--rows N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_logs import make_log  # the same log as bench_logs (run from the repo root)
from threadpoolctl import threadpool_limits

from bandits.ope import make_estimator
from bandits.run.replay import replay_updates
from policies import EpsilonGreedy

CASES = [
    ("ips", "normal"),
    ("snips", "normal"),
    ("dm", "normal"),
    ("dr", "normal"),
    ("sndr", "normal"),
    ("switch-dr", "normal"),
    ("dros", "normal"),
    ("dr:model=ridge-pooled", "normal"),
    ("ips", "bootstrap-percentile"),
    ("ips", "bootstrap"),
    ("dr", "bootstrap"),
    ("switch-dr", "bootstrap"),
    ("dr", "bernstein"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    log = make_log(args.rows, rng)
    target = replay_updates(
        EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(1)), log.take(np.arange(10_000))
    )
    print(f"| estimator | interval | seconds for {args.rows:,} rows | value | interval |")
    print("|---|---|---|---|---|")
    with threadpool_limits(1, user_api="blas"):
        for spec, interval in CASES:
            estimator = make_estimator(spec, interval=interval, reward_range=[0.0, 2.0])
            start = time.perf_counter()
            estimate = estimator.estimate(log, target)
            spent = time.perf_counter() - start
            tuned = f" ({estimate.tuning})" if estimate.tuning else ""
            print(
                f"| {spec}{tuned} | {interval} | {spent:.2f} | {estimate.value:.4f} | "
                f"[{estimate.ci_low:.4f}, {estimate.ci_high:.4f}] |"
            )


if __name__ == "__main__":
    main()
