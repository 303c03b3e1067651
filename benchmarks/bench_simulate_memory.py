"""Peak memory of `bandits simulate` as the number of requests grows (logs stream to disk).

Each size runs `bandits simulate` with two policies (uniform and linucb) on the default
environment, in batches of ``--batch`` requests, through the small launcher
``_peak_memory.py`` (exact max RSS from ``os.wait4``). Memory should stay flat in the number
of requests: logs go to Parquet row groups as the rollout proceeds; only the trace (one row
per step) and the item table (one row per item shown) grow.

Run: .venv/bin/python benchmarks/bench_simulate_memory.py [--requests 100000 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _peak_memory import launch  # benchmarks/ is on the path when this script runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    bandits = str(Path(sys.executable).with_name("bandits"))
    print(f"bandits simulate, policies uniform and linucb, batches of {args.batch} requests")
    print("| requests per policy | wall time | peak RSS | log files on disk |")
    print("|---:|---:|---:|---:|")
    for requests in args.requests:
        folder = Path(tempfile.mkdtemp(prefix="bench-simulate-"))
        try:
            command = [bandits, "simulate", "--env-param", f"n_requests={args.batch}",
                       "--policy", "uniform", "--policy", "linucb", "--requests",
                       str(requests), "--quiet", "--out", str(folder / "run")]  # fmt: skip
            result = launch(command, folder / "output.txt")
            if result["exit_code"] != 0:
                print((folder / "output.txt").read_text())
                raise SystemExit(f"simulate failed at {requests} requests")
            size = sum(f.stat().st_size for f in (folder / "run" / "logs").iterdir())
            print(f"| {requests:,} | {result['seconds']:.1f} s | "
                  f"{int(result['peak_bytes']) / 2**20:,.0f} MiB | {size / 2**20:,.1f} MiB |",
                  flush=True)  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
