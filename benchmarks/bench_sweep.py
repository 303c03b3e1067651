"""A sweep's wall time and peak memory on 1 and 2 local workers and on a 2-worker Dask cluster,
and the peak memory of one long streamed run.

The sweep is ``--policies`` policies x ``--seeds`` seeds x ``--requests`` requests per policy on
the default world (batches of 256 requests). Each configuration runs `bandits sweep` through
the small launcher ``_peak_memory.py``: the exact max RSS of the command's own process (the
coordinator), and the largest peak among it and the processes it started, e.g. one worker's,
from the launcher's ``RUSAGE_CHILDREN`` (the sum over workers is not measured). The tables the
runs produce are compared: they must be identical whatever the executor. Then one policy
serves ``--long`` requests in one `bandits simulate` run (logs streamed to disk) and its peak
RSS is reported.

Run: .venv/bin/python benchmarks/bench_sweep.py [--requests 200000] [--seeds 8] [--long 10000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
from _peak_memory import launch  # benchmarks/ is on the path when this script runs

POLICIES = ["uniform", "epsilon-greedy", "linucb", "linucb:model=disjoint"]


def sweep_config(folder: Path, requests: int, seeds: int, policies: int) -> Path:
    specs = ", ".join(f'"{spec}"' for spec in POLICIES[:policies])
    path = folder / "sweep.toml"
    path.write_text(
        f"[sweep]\nrequests = {requests}\nseeds = {seeds}\npolicies = [{specs}]\n"
        f'[[sweep.worlds]]\nname = "default"\nparams = {{ n_requests = 256 }}\n'
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--policies", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--long", type=int, default=10_000_000)
    args = parser.parse_args()
    bandits = str(Path(sys.executable).with_name("bandits"))
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        config = sweep_config(folder, args.requests, args.seeds, args.policies)
        print(f"sweep: {args.policies} policies x {args.seeds} seeds x {args.requests:,} requests")
        print("| executor | workers | wall time | peak RSS (coordinator) | peak RSS (largest "
              "process) | speed-up |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|")
        tables, first = [], None
        for executor, workers in (("local", 1), ("local", 2), ("dask", 2)):
            out = folder / f"{executor}-{workers}"
            command = [bandits, "sweep", str(config), "--out", str(out), "--executor",
                       executor, "--workers", str(workers), "--quiet"]  # fmt: skip
            result = launch(command, folder / f"{executor}-{workers}.txt")
            if result["exit_code"] != 0:
                print((folder / f"{executor}-{workers}.txt").read_text())
                raise SystemExit(f"the {executor} sweep failed")
            seconds = float(result["seconds"])
            first = first or seconds
            tables.append(pd.read_csv(out / "regret.csv"))
            largest = int(result["largest_process_bytes"]) / 2**20
            print(f"| {executor} | {workers} | {seconds:.1f} s | "
                  f"{int(result['peak_bytes']) / 2**20:,.0f} MiB | {largest:,.0f} MiB | "
                  f"{first / seconds:.2f}x |", flush=True)  # fmt: skip
            shutil.rmtree(out / "runs")
        same = all(table.equals(tables[0]) for table in tables)
        print(f"identical regret tables on every executor: {same}")
        long_out = str(folder / "long")
        command = [bandits, "simulate", "--env-param", "n_requests=1024", "--policy", "uniform",
                   "--requests", str(args.long), "--quiet", "--out", long_out]  # fmt: skip
        result = launch(command, folder / "long.txt")
        if result["exit_code"] != 0:
            print((folder / "long.txt").read_text())
            raise SystemExit("the long run failed")
        size = sum(f.stat().st_size for f in (folder / "long" / "logs").iterdir())
        print(f"one policy, {args.long:,} requests streamed: {float(result['seconds']):.1f} s, "
              f"peak RSS {int(result['peak_bytes']) / 2**20:,.0f} MiB, logs {size / 2**20:,.0f} "
              f"MiB on disk")  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
