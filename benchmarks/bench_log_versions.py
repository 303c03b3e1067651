"""Log schema version 1 against version 2 at a realistic width, in one run.

A uniform-random logger serves ``--rows`` requests (default one million), each with 80 distinct
candidates drawn from a catalogue of 10,000 items of 40 features, 8 context features, a
history of up to 5 items, slates of 3 and Bernoulli(0.05) clicks as rewards. The same rows
(same seed) are written as a version-1 log (every row repeats its candidates' features, via
``bandits.logs.v1.write_log_v1``) and as a version-2 log (rows name items by id, items stored
once, via ``bandits.logs.LogWriter``), batch by batch so memory stays small. For each version
the table reports:

- file size on disk (v2: the rows file plus its item table);
- write time (the writer's share only: generating the rows is timed and subtracted);
- read time and peak memory: streaming every batch with ``open_log(path).iter_batches()``
  and materialising each batch's ``candidate_features``, in a subprocess;
- wall time and peak memory of ``bandits evaluate`` with IPS and SNIPS on two targets, the
  uniform logger and a ridge-greedy policy trained on the oldest 1% of rows;
- for v2, the same peak memory on a log of a tenth of the rows, to show that memory does not
  grow with the rows (the goal: under 2 GiB whatever the number of rows).

Peak memory is a subprocess's max RSS, exact, from ``os.wait4``. Subprocesses are started
through the small launcher ``_peak_memory.py`` (a direct child of this large process would
report this process's peak as its own) with their address space capped
(``--memory-cap-gib``, default 12, at most 60% of available RAM), so a reader whose memory
grows with the file fails with an out-of-memory error, shown in the table, instead of
starting the kernel's OOM killer; one that spins at the cap is killed after
``--timeout-minutes``.

Version 1 at one million rows is about 25 GiB on disk; the script refuses to start without
room for it. Logs go to a fresh folder under /work/bench-scratch, deleted at the end unless
``--keep``.

Run: .venv/bin/python benchmarks/bench_log_versions.py [--rows N] [--folder DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from _peak_memory import launch  # benchmarks/ is on the path when this script runs

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import DEFAULT_BATCH_BYTES, LogWriter, open_log
from bandits.logs.v1 import write_log_v1
from bandits.observation import PAD_ID, SlateObservation
from bandits.ope.targets import available_memory
from bandits.validation import InputError

CATALOGUE = 10_000
CANDIDATES = 80
ITEM_FEATURES = 40
CONTEXT_FEATURES = 8
SLATE_SIZE = 3
HISTORY = 5
CLICK_RATE = 0.05
ANONYMOUS_SHARE = 0.1
START_TIME = 1_700_000_000_000_000  # epoch microseconds
SCRATCH = Path("/work/bench-scratch")
GIB = 2**30
MIB = 2**20
EVALUATE_OPTIONS = (
    "--target",
    "uniform",
    "--target",
    "ridge-greedy",
    "--estimator",
    "ips",
    "--estimator",
    "snips",
    "--train-fraction",
    "0.01",
    "--quiet",
)


class SyntheticLog:
    """The benchmark's log as a stream of batches; every pass yields the same rows.

    Parameters
    ----------
    rows : int
        Requests in the log.
    batch_rows : int
        Requests per generated batch.
    seed : int
        Seed of the generator (the catalogue and the rows).

    Attributes
    ----------
    seconds : float
        Time spent generating during the last pass (to subtract from a writer's time).
    """

    def __init__(self, rows: int, batch_rows: int, seed: int = 0) -> None:
        self.rows = rows
        self.batch_rows = batch_rows
        self.seed = seed
        self.seconds = 0.0

    def __iter__(self) -> Iterator[LoggedBandit]:
        self.seconds = 0.0
        began = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        items = ItemTable(
            rng.choice(10 * CATALOGUE, size=CATALOGUE, replace=False),
            rng.normal(size=(CATALOGUE, ITEM_FEATURES)),
        )
        self.seconds += time.perf_counter() - began
        for start in range(0, self.rows, self.batch_rows):
            began = time.perf_counter()
            batch = make_batch(rng, items, start, min(self.batch_rows, self.rows - start))
            self.seconds += time.perf_counter() - began
            yield batch


def make_batch(rng: np.random.Generator, items: ItemTable, start: int, n: int) -> LoggedBandit:
    """Rows ``start .. start + n`` of the log, as logged by a uniform-random slate policy.

    Distinct candidates per row come from slicing random permutations of the catalogue
    (``CATALOGUE // CANDIDATES`` rows per permutation), never from sorting per row.
    """
    per_permutation = CATALOGUE // CANDIDATES
    permutations = -(-n // per_permutation)
    pool = np.tile(items.ids, (permutations, 1))
    rng.permuted(pool, axis=1, out=pool)
    candidate_ids = pool[:, : per_permutation * CANDIDATES].reshape(-1, CANDIDATES)[:n]
    history = rng.choice(items.ids, size=(n, HISTORY))
    history[np.arange(HISTORY) >= rng.integers(0, HISTORY + 1, size=(n, 1))] = PAD_ID
    users = rng.integers(0, 200_000, size=n)
    users[rng.random(n) < ANONYMOUS_SHARE] = PAD_ID
    rows = np.arange(start, start + n)
    observation = SlateObservation(
        context=rng.normal(size=(n, CONTEXT_FEATURES)),
        candidate_ids=candidate_ids,
        n_candidates=np.full(n, CANDIDATES),
        slate_size=SLATE_SIZE,
        history=history,
        request_ids=rows,
        user_ids=users,
        times=START_TIME + rows * 1000,
        items=items,
    )
    slates = np.argsort(rng.random((n, CANDIDATES)), axis=1)[:, :SLATE_SIZE]
    slate_probability = 1.0 / np.prod(np.arange(CANDIDATES, CANDIDATES - SLATE_SIZE, -1))
    decision = SlateDecision(
        slates,
        np.full(n, slate_probability),
        np.full((n, SLATE_SIZE), 1.0 / CANDIDATES),
    )
    rewards = (rng.random((n, SLATE_SIZE)) < CLICK_RATE).astype(np.float64)
    return LoggedBandit.from_batch(observation, decision, SlateFeedback(rewards), "uniform")


def write_v1(source: SyntheticLog, path: Path) -> float:
    """Write ``source`` as a version-1 log; returns the writer's seconds (generation excluded)."""
    began = time.perf_counter()
    write_log_v1(source, path)
    return time.perf_counter() - began - source.seconds


def write_v2(source: SyntheticLog, path: Path) -> float:
    """Write ``source`` as a version-2 log; returns the writer's seconds (generation excluded)."""
    began = time.perf_counter()
    with LogWriter(path) as writer:
        for batch in source:
            writer.write(batch)
    return time.perf_counter() - began - source.seconds


def read_streamed(path: Path) -> dict[str, object]:
    """Stream every batch of the log, materialising its candidates' features.

    Returns
    -------
    dict
        ``seconds``, ``rows`` read (a check that the whole log came back) and ``error`` (the
        exception's text if reading failed part way, else None).
    """
    began = time.perf_counter()
    rows, error = 0, None
    try:
        for batch in open_log(path).iter_batches(batch_bytes=DEFAULT_BATCH_BYTES):
            features = batch.observation.candidate_features
            assert features.shape[1:] == (CANDIDATES, ITEM_FEATURES)
            rows += len(batch)
    except (MemoryError, InputError, pa.ArrowException) as failure:
        error = f"{type(failure).__name__}: {failure}"
    return {"seconds": time.perf_counter() - began, "rows": rows, "error": error}


def measured_read(path: Path, folder: Path, limit: int, timeout: float) -> dict[str, object]:
    """:func:`read_streamed` in a subprocess (this script with ``--read-log``), measured.

    Returns
    -------
    dict
        ``seconds``, ``rows``, ``error`` (None if the whole log was read) and ``peak`` (bytes).
    """
    output = folder / f"{path.stem}.read.txt"
    command = [sys.executable, __file__, "--read-log", str(path)]
    measured = launch(command, output, limit, timeout)
    text = output.read_text(errors="replace")
    try:
        result = json.loads(text.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"seconds": measured["seconds"], "rows": 0, "error": text[-2000:]}
    result["peak"] = measured["peak_bytes"]
    if measured["exit_code"] != 0 and not result["error"]:
        result["error"] = failure(measured, text)
    return result


def evaluate(path: Path, folder: Path, limit: int, timeout: float) -> dict[str, object]:
    """``bandits evaluate`` on the log at ``path`` as a subprocess, measured.

    Returns
    -------
    dict
        ``seconds``, ``peak`` (bytes), ``error`` (None on success) and ``estimates`` (a
        DataFrame, or None).
    """
    estimates = folder / f"{path.stem}.estimates.csv"
    command = [
        str(Path(sys.executable).with_name("bandits")),
        "evaluate",
        str(path),
        *EVALUATE_OPTIONS,
        "--out",
        str(estimates),
    ]
    output = folder / f"{path.stem}.evaluate.txt"
    measured = launch(command, output, limit, timeout)
    error = None
    if measured["exit_code"] != 0:
        error = failure(measured, output.read_text(errors="replace"))
    return {
        "seconds": measured["seconds"],
        "peak": measured["peak_bytes"],
        "error": error,
        "estimates": pd.read_csv(estimates) if error is None else None,
    }


def failure(measured: dict[str, float | int | bool], output: str) -> str:
    """Why a measured subprocess failed: a timeout, or its exit code and last output."""
    if measured["timed_out"]:
        return f"killed after the {measured['seconds']:,.0f} s timeout. {output[-1000:]}"
    return f"exit {measured['exit_code']}: {output[-2000:]}"


def size_text(size: float) -> str:
    """Bytes as GiB or MiB."""
    return f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / MIB:.1f} MiB"


def cell(result: dict[str, object], key: str) -> str:
    """A table cell for a measured subprocess: ``seconds`` or ``peak``, or how it failed."""
    value = result[key]
    text = f"{value:,.1f} s" if key == "seconds" else size_text(value)  # type: ignore[arg-type]
    if not result["error"]:
        return text
    rows = f" after {result['rows']:,} rows" if "rows" in result else ""
    return f"failed{rows} ({text})"


def estimate_gap(v1: pd.DataFrame | None, v2: pd.DataFrame | None) -> str:
    """How far the two versions' estimates are apart (they hold the same rows)."""
    if v1 is None or v2 is None:
        return "not compared (an evaluate failed)"
    joined = v1.merge(v2, on=["target", "estimator"], suffixes=("_v1", "_v2"))
    gap = (joined["value_v1"] - joined["value_v2"]).abs().max()
    values = ", ".join(
        f"{row.target}/{row.estimator} {row.value_v2:.5f}" for row in joined.itertuples()
    )
    return f"max |v1 - v2| = {gap:.3g} (v2: {values})"


def required_bytes(rows: int) -> int:
    """Free disk the run needs: about 1.5 x the version-1 file (features of every candidate)."""
    return int(1.5 * rows * CANDIDATES * (ITEM_FEATURES + 1) * 8)


def prepare_folder(folder: Path | None) -> tuple[Path, bool]:
    """The scratch folder and whether it is ours to delete whole (a fresh temporary one)."""
    if folder is None:
        SCRATCH.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="log-versions-", dir=SCRATCH)), True
    folder.mkdir(parents=True, exist_ok=True)
    return folder, False


def main() -> None:
    """Parse the options, measure both versions and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="requests in the log")
    parser.add_argument("--batch-rows", type=int, default=20_000, help="rows per written batch")
    parser.add_argument("--folder", type=Path, help="scratch folder (default: a fresh one)")
    parser.add_argument("--keep", action="store_true", help="keep the logs written")
    parser.add_argument(
        "--memory-cap-gib",
        type=float,
        default=12.0,
        help="address-space cap of the measured subprocesses (at most 60%% of available RAM)",
    )
    parser.add_argument(
        "--timeout-minutes",
        type=float,
        default=60.0,
        help="kill a measured subprocess after this long (a capped one may spin, not fail)",
    )
    parser.add_argument("--read-log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_log is not None:  # the child of measured_read
        print(json.dumps(read_streamed(args.read_log)))
        return
    command = shlex.join([sys.executable, *sys.argv])
    limit = int(min(args.memory_cap_gib * GIB, 0.6 * available_memory()))
    timeout = 60 * args.timeout_minutes
    small_rows = max(args.rows // 10, 2)
    folder, temporary = prepare_folder(args.folder)
    free = shutil.disk_usage(folder).free
    if free < required_bytes(args.rows):
        if temporary:
            shutil.rmtree(folder)
        sys.exit(
            f"Only {size_text(free)} free at {folder}; {args.rows:,} rows need about "
            f"{size_text(required_bytes(args.rows))}. Nothing was written."
        )
    paths = {
        "v1": folder / "log-v1.parquet",
        "v2": folder / "log-v2.parquet",
        "v2-small": folder / "log-v2-small.parquet",
    }
    began = time.perf_counter()
    try:
        source = SyntheticLog(args.rows, args.batch_rows)
        writes = {"v1": write_v1(source, paths["v1"]), "v2": write_v2(source, paths["v2"])}
        write_v2(SyntheticLog(small_rows, args.batch_rows), paths["v2-small"])
        sizes = {
            "v1": paths["v1"].stat().st_size,
            "v2 rows": paths["v2"].stat().st_size,
            "v2 items": sum(file.stat().st_size for file in open_log(paths["v2"]).files[1:]),
        }
        reads = {name: measured_read(paths[name], folder, limit, timeout) for name in ("v1", "v2")}
        for result in reads.values():
            if not result["error"] and result["rows"] != args.rows:
                result["error"] = f"streamed {result['rows']:,} rows, not {args.rows:,}"
        runs = {name: evaluate(path, folder, limit, timeout) for name, path in paths.items()}
    finally:
        if not args.keep:
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                for path in paths.values():
                    for file in [path, *folder.glob(f"{path.stem}.*")]:
                        file.unlink(missing_ok=True)
    total = time.perf_counter() - began

    v2_rows, v2_items = sizes["v2 rows"], sizes["v2 items"]
    table = [
        ("rows", f"{args.rows:,}", f"{args.rows:,}"),
        (
            "file size on disk",
            size_text(sizes["v1"]),
            f"{size_text(v2_rows + v2_items)} (rows {size_text(v2_rows)} + items "
            f"{size_text(v2_items)})",
        ),
        ("write time", f"{writes['v1']:,.1f} s", f"{writes['v2']:,.1f} s"),
        (
            "read time (streamed, features materialised)",
            *(cell(reads[v], "seconds") for v in ("v1", "v2")),
        ),
        ("read peak RSS (streamed)", *(cell(reads[v], "peak") for v in ("v1", "v2"))),
        ("`bandits evaluate` wall time", *(cell(runs[v], "seconds") for v in ("v1", "v2"))),
        ("`bandits evaluate` peak RSS", *(cell(runs[v], "peak") for v in ("v1", "v2"))),
        (
            f"`bandits evaluate` peak RSS at {small_rows:,} rows",
            "n/a",
            cell(runs["v2-small"], "peak"),
        ),
    ]
    cpus = len(os.sched_getaffinity(0))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(
        f"{args.rows:,} requests x {CANDIDATES} candidates (catalogue {CATALOGUE:,} items x "
        f"{ITEM_FEATURES} features), {CONTEXT_FEATURES} context features, slate {SLATE_SIZE}, "
        f"history {HISTORY}; uniform logger, Bernoulli({CLICK_RATE}) clicks; written in batches "
        f"of {args.batch_rows:,} rows."
    )
    print(f"evaluate: bandits evaluate LOG {shlex.join(EVALUATE_OPTIONS)}")
    print()
    print("| quantity | schema v1 | schema v2 |")
    print("|---|---:|---:|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    print()
    print(
        f"Machine: {cpus} CPUs (nproc), {memory / GIB:.1f} GiB RAM; measured subprocesses capped "
        f"at {size_text(limit)} of address space. Command: `{command}`"
    )
    gap = estimate_gap(runs["v1"]["estimates"], runs["v2"]["estimates"])  # type: ignore[arg-type]
    print(f"Estimates, v1 against v2: {gap}")
    print(f"Total run time: {total / 60:,.1f} min.")
    failures = {
        f"{kind} {name}": result["error"]
        for kind, results in (("read", reads), ("evaluate", runs))
        for name, result in results.items()
        if result["error"]
    }
    for name, error in failures.items():
        print(f"\n{name} failed: {str(error).strip()[-800:]}")


if __name__ == "__main__":
    main()
