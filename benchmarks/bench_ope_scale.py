"""Off-policy estimators at scale: in memory against a plain numpy formula, and streamed from
Parquet with their peak memory.

The log: slates of 2 from 10 candidates out of 500 items with 2 features, 2 context features,
a uniform logger, clicks with probability 0.2 per position. It is generated in chunks of a
million rows (each from its own seed) and written to Parquet chunk by chunk, so a log of any
size is generated in flat memory; the in-memory log is the same rows.

The target is epsilon-greedy (epsilon 0.3) over a fixed item score (the item's first
feature), in closed form. In memory, both sides get the target's answers precomputed (the
target's own computation is left out of both), and DM and DR get a reward model fitted
beforehand (the 5-fold cross-fitted ridge model, fitted on the same rows); the reference then
calls the same fitted models' ``predict`` and applies the formula in numpy:

- ips: ``mean(w r)``; snips: ``sum(w r) / sum(w)`` with ``w = pi(s|x) / mu(s|x)``, ``r`` the
  slate reward;
- dm: ``mean_i sum_{c,k} pi(c at k | x_i) q(x_i, c, k)``; dr: ``dm_i + w_i (r_i - q(x_i, s_i))``;
- pi: ``mean(w_PI r)`` with the uniform logger's pseudo-inverse weight
  ``(n - 1) A + (n - 1) / (n - K) S + 1 - K (n - 1) / (n - K)``.

The estimator's time is ``finalize(statistics(log, target))`` (weights, checks, the terms'
co-moments for the standard error, diagnostics): the best of ``--repeats`` runs, as is the
reference's. The reference computes less than the estimator reports: the value alone, with
no check of the target's probabilities or the weights, no standard error or interval and no
diagnostics (effective sample size, largest and mean weight, deterministic rows); the output
says so. What the log's checks found when it was built (its largest logged probability,
whether every reward is >= 0: ``SlateDecision.probability_bound``,
``SlateFeedback.known_nonnegative``) is the estimator's to use, as on any user's log: it lets
the estimator skip its count of deterministic rows and the second read of the target's
probabilities where the weights prove them in [0, 1]; nothing found by an earlier call is
kept. Streamed: ``evaluate_log`` on the Parquet file in a fresh process (for DM and DR
that includes the pass fitting the reward model), timed with its exact peak RSS
(``os.wait4``, through ``_peak_memory``).

With ``--dask-estimators``, those are also streamed by ``evaluate_log(..., executor="dask")``
on a local cluster of ``--dask-workers`` processes (one task per row group of the file, which
``LogWriter`` writes in row groups of 64 MiB).

Run: .venv/bin/python benchmarks/bench_ope_scale.py [--rows 1e6 1e7] [--memory-rows 1e7]
     [--estimators ...] [--stream-estimators ips snips dm dr pi] [--stream-specs SPEC ...]
     [--dask-estimators ips dr] [--folder DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from _peak_memory import launch
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import LogWriter
from bandits.observation import SlateObservation
from bandits.ope import Estimate, Estimator, evaluate_log, make_estimator
from bandits.ope.model_based import ModelBasedEstimator
from bandits.slates import count_ordered_slates

CHUNK = 1_000_000
WIDTH, SLATE, FEATURES, N_ITEMS = 10, 2, 2, 500
EPSILON = 0.3
ESTIMATORS = ("ips", "snips", "dm", "dr", "pi")
T = TypeVar("T")
REFERENCE_NOTE = (
    "<!-- numpy formula: the value alone; the estimator's time also covers checking the "
    "target's probabilities and the weights, the standard error, the interval and the "
    "diagnostics (effective sample size, largest and mean weight) -->"
)


def item_table() -> ItemTable:
    return ItemTable(np.arange(N_ITEMS), np.random.default_rng(0).normal(size=(N_ITEMS, FEATURES)))


def make_chunk(index: int, size: int, items: ItemTable) -> LoggedBandit:
    """Rows ``index * CHUNK`` to ``index * CHUNK + size`` of the log, from their own seed."""
    rng = np.random.default_rng([1, index])
    start = rng.integers(0, N_ITEMS, size)
    first = rng.integers(0, WIDTH, size)
    second = (first + rng.integers(1, WIDTH, size)) % WIDTH
    obs = SlateObservation(
        context=rng.normal(size=(size, FEATURES)),
        candidate_ids=(start[:, None] + 7 * np.arange(WIDTH)) % N_ITEMS,  # distinct
        items=items,
        n_candidates=np.full(size, WIDTH),
        slate_size=SLATE,
        history=np.full((size, 1), -1),
        request_ids=index * CHUNK + np.arange(size),
        user_ids=rng.integers(0, 10_000, size),
        times=(index * CHUNK + np.arange(size)) // 100,
    )
    slates = np.stack([first, second], axis=1)
    uniform = 1.0 / (WIDTH * (WIDTH - 1))
    decision = SlateDecision(slates, np.full(size, uniform), np.full((size, SLATE), 1 / WIDTH))
    rewards = (rng.random((size, SLATE)) < 0.2).astype(np.float64)
    return LoggedBandit(obs, decision, SlateFeedback(rewards), np.full(size, "uniform"))


def chunks(rows: int, items: ItemTable) -> Iterator[LoggedBandit]:
    for index, start in enumerate(range(0, rows, CHUNK)):
        yield make_chunk(index, min(CHUNK, rows - start), items)


class ScoreTarget:
    """Epsilon-greedy over the items' first feature, in closed form; answers from
    :meth:`precompute`'s arrays for a contiguous range of request ids it was given."""

    name = "epsilon-greedy over a fixed score"

    def __init__(self) -> None:
        self._first = -1
        self._probability: NDArray[np.float64] = np.zeros(0)
        self._marginals: NDArray[np.float64] = np.zeros((0, WIDTH, SLATE))

    def precompute(self, log: LoggedBandit) -> None:
        self._first = -1
        probability = self.slate_probability(log.observation, log.slates)
        marginals = self.candidate_position_probability(log.observation)
        self._first = int(log.observation.request_ids[0])
        self._probability, self._marginals = probability, marginals

    def _known(self, obs: SlateObservation) -> slice | None:
        ids = obs.request_ids
        if self._first < 0 or not len(ids):
            return None
        start, stop = int(ids[0]) - self._first, int(ids[-1]) - self._first + 1
        if start < 0 or stop > len(self._probability) or stop - start != len(ids):
            return None
        return slice(start, stop)

    def _greedy(self, obs: SlateObservation) -> NDArray[np.int64]:
        scores = obs.items.features[obs.candidate_rows, 0]
        scores[~obs.candidate_mask] = -np.inf
        return np.argsort(-scores, axis=1, kind="stable")[:, : obs.slate_size]

    def slate_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        known = self._known(obs)
        if known is not None:
            return self._probability[known]
        greedy = (slates == self._greedy(obs)).all(axis=1)
        uniform = 1.0 / count_ordered_slates(obs.n_candidates, obs.slate_size)
        return (1 - EPSILON) * greedy + EPSILON * uniform

    def candidate_position_probability(self, obs: SlateObservation) -> NDArray[np.float64]:
        known = self._known(obs)
        if known is not None:
            return self._marginals[known]
        greedy = self._greedy(obs)
        share = EPSILON * obs.candidate_mask / obs.n_candidates[:, None]
        result = np.repeat(share[:, :, None], obs.slate_size, axis=2)
        rows = np.arange(obs.n_requests)
        for k in range(obs.slate_size):
            result[rows, greedy[:, k], k] += 1 - EPSILON
        return result

    def position_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        marginals = self.candidate_position_probability(obs)
        return np.take_along_axis(marginals, slates[:, None, :], axis=1)[:, 0, :]

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        raise NotImplementedError("the benchmark's target only answers probabilities")

    def update(self, obs: SlateObservation, decision: SlateDecision, feedback: object) -> None:
        """A fixed target learns nothing."""


def numpy_formula(
    name: str, log: LoggedBandit, target: ScoreTarget, estimator: Estimator
) -> Callable[[], float]:
    """The estimator's formula in plain numpy on the log's arrays and the target's answers."""
    p, marginals = target._probability, target._marginals
    mu, slates = log.decision.slate_probability, log.slates
    rewards = log.rewards

    def reward() -> NDArray[np.float64]:
        return rewards[:, 0] + rewards[:, 1]

    def predictions() -> NDArray[np.float64]:
        assert isinstance(estimator, ModelBasedEstimator) and estimator.crossfit_ is not None
        return estimator.crossfit_.predict(log)

    def ips() -> float:
        return float(np.mean(p / mu * reward()))

    def snips() -> float:
        w = p / mu
        return float(np.sum(w * reward()) / np.sum(w))

    def dm() -> float:
        return float(np.einsum("nck,nck->", marginals, predictions()) / len(log))

    def dr() -> float:
        q = predictions()
        direct = np.einsum("nck,nck->n", marginals, q)
        shown = np.take_along_axis(q, slates[:, None, :], axis=1)[:, 0, :]
        return float(np.mean(direct + p / mu * (reward() - shown[:, 0] - shown[:, 1])))

    def pseudo_inverse() -> float:
        n, k = float(WIDTH), float(SLATE)
        at = np.take_along_axis(marginals, slates[:, None, :], axis=1)[:, 0, :]
        anywhere = np.take_along_axis(marginals, slates[:, :, None], axis=1)  # (n, K, K)
        ratio = (n - 1) / (n - k)
        spread = anywhere[:, 0, 0] + anywhere[:, 0, 1] + anywhere[:, 1, 0] + anywhere[:, 1, 1]
        w = (n - 1) * (at[:, 0] + at[:, 1]) + ratio * spread
        return float(np.mean((w + 1 - k * ratio) * reward()))

    formulas = {"ips": ips, "snips": snips, "dm": dm, "dr": dr, "pi": pseudo_inverse}
    return formulas[name]


def best_of(repeats: int, function: Callable[[], T]) -> tuple[T, float]:
    """``function()`` and its shortest time over ``repeats`` (at least 1) calls."""
    start = time.perf_counter()
    result = function()
    best = time.perf_counter() - start
    for _ in range(repeats - 1):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def _estimate(estimator: Estimator, log: LoggedBandit, target: ScoreTarget) -> Estimate:
    """The estimating pass alone, nothing kept from an earlier call (a reward model's
    predictions, the slate rewards and the count of deterministic rows cached on the log)."""
    if isinstance(estimator, ModelBasedEstimator):
        estimator._cache = None
    log.feedback.__dict__.pop("slate_reward", None)
    log.decision.__dict__.pop("n_deterministic", None)
    return estimator.finalize(estimator.statistics(log, target))


def in_memory(rows: int, names: list[str], repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per estimator: (estimator seconds, numpy seconds, |difference| of the values)."""
    items = item_table()
    parts = list(chunks(rows, items))
    log = LoggedBandit.concat(parts) if len(parts) > 1 else parts[0]
    del parts
    target = ScoreTarget()
    target.precompute(log)
    results = {}
    for name in names:
        estimator = make_estimator(name)
        if estimator.needs_fit:  # the reward model is fitted beforehand (not timed)
            estimator.start_fit()
            estimator.fit_batch(log)
            estimator.finish_fit()
        estimate, spent = best_of(repeats, partial(_estimate, estimator, log, target))
        value, spent_ref = best_of(repeats, numpy_formula(name, log, target, estimator))
        results[name] = (spent, spent_ref, abs(estimate.value - value))
    return results


def write_parquet(rows: int, path: Path) -> float:
    """Write the log chunk by chunk; the seconds it took."""
    start = time.perf_counter()
    items = item_table()
    with LogWriter(path, overwrite=True) as writer:
        for chunk in chunks(rows, items):
            writer.write(chunk)
    return time.perf_counter() - start


def stream_one(path: str, name: str, dask_workers: int) -> None:
    """(In the measured subprocess) evaluate ``name`` on the file, in this process or on a
    local Dask cluster of ``dask_workers`` processes; print value and seconds."""
    start = time.perf_counter()
    options: dict[str, Any] = {}
    if dask_workers:
        options = {"executor": "dask", "workers": dask_workers}
    with threadpool_limits(1, user_api="blas"):
        table = evaluate_log(path, {"target": ScoreTarget()}, [make_estimator(name)], **options)
    seconds = time.perf_counter() - start
    print(json.dumps({"value": float(table["value"].iloc[0]), "seconds": seconds}))


def streamed(
    path: Path, name: str, folder: Path, dask_workers: int = 0
) -> tuple[float, float, float]:
    """(seconds inside, peak RSS bytes, value) of ``stream_one`` in a fresh process (the
    peak of the largest process: the client or a Dask worker it started)."""
    output = folder / f"stream-{name}.txt"
    command = [sys.executable, __file__, "--stream-one", str(path), name, str(dask_workers)]
    measured = launch(command, output)
    text = output.read_text()
    if measured["exit_code"] != 0:
        raise RuntimeError(f"streaming {name} failed:\n{text}")
    result = json.loads(text.strip().splitlines()[-1])
    return float(result["seconds"]), float(measured["peak_bytes"]), float(result["value"])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--stream-one":
        stream_one(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--memory-rows", type=float, default=1e7,
                        help="Largest log measured in memory too.")  # fmt: skip
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--stream-estimators", nargs="+", default=list(ESTIMATORS),
                        choices=ESTIMATORS)  # fmt: skip
    parser.add_argument("--stream-specs", nargs="*", default=[],
                        help="Also stream these estimator specs (any, e.g. dr:model=gbm "
                        "cascade-dr:model=gbm; streamed only).")  # fmt: skip
    parser.add_argument("--dask-estimators", nargs="*", default=[], choices=ESTIMATORS,
                        help="Also stream these on a local Dask cluster.")  # fmt: skip
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path,
                        help="Keep the Parquet logs here and reuse those already there "
                        "(default: a temporary folder, removed).")  # fmt: skip
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            folder = args.folder
            folder.mkdir(parents=True, exist_ok=True)
        print(REFERENCE_NOTE)
        print("| rows | estimator | in memory, s | numpy formula, s | ratio | streamed, s "
              "| streamed rows/s | streamed peak RSS | value gap |")  # fmt: skip
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for rows in (int(r) for r in args.rows):
            memory = {}
            if rows <= args.memory_rows:
                with threadpool_limits(1, user_api="blas"):
                    memory = in_memory(rows, args.estimators, args.repeats)
            path = folder / f"log-{rows}.parquet"
            if args.folder is not None and path.exists():
                written = "reused"
            else:
                written = f"written in {write_parquet(rows, path):.1f} s"
            size = sum(f.stat().st_size for f in folder.glob(f"log-{rows}.*parquet"))
            print(f"<!-- {rows:,} rows {written}, {size / 2**20:,.0f} MiB -->")
            streamed_names = [*args.stream_estimators, *args.stream_specs]
            for name in dict.fromkeys([*args.estimators, *streamed_names]):
                cells = [f"{rows:,}", name]
                if name in memory:
                    spent, spent_ref, _ = memory[name]
                    cells += [f"{spent:.3f}", f"{spent_ref:.3f}", f"{spent / spent_ref:.2f}x"]
                else:
                    cells += ["-", "-", "-"]
                if name in streamed_names:
                    seconds, peak, _ = streamed(path, name, folder)
                    cells += [f"{seconds:.1f}", f"{rows / seconds:,.0f}",
                              f"{peak / 2**20:,.0f} MiB"]  # fmt: skip
                else:
                    cells += ["-", "-", "-"]
                cells.append(f"{memory[name][2]:.1e}" if name in memory else "-")
                print("| " + " | ".join(cells) + " |", flush=True)
            for name in args.dask_estimators:
                seconds, peak, _ = streamed(path, name, folder, args.dask_workers)
                label = f"{name} (Dask, {args.dask_workers} local workers)"
                cells = [f"{rows:,}", label, "-", "-", "-", f"{seconds:.1f}",
                         f"{rows / seconds:,.0f}", f"{peak / 2**20:,.0f} MiB", "-"]  # fmt: skip
                print("| " + " | ".join(cells) + " |", flush=True)
            if args.folder is None:
                for file in folder.glob(f"log-{rows}.*parquet"):
                    file.unlink()


if __name__ == "__main__":
    main()
