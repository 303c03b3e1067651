"""A sweep: every policy on every world for every seed, one run folder per (world, seed), run
on local processes or Dask, resumable, with tables and a report over the seeds.

Layout of the sweep folder ``OUT``: ``sweep.json`` (the config, written first), ``runs/<world>-
seed<i>/`` (ordinary run folders, each committed atomically when its simulation ends),
``regret.csv`` (cumulative regret at the end per world and policy with its interval over
seeds), ``summary.csv``, ``regret-<world>.png`` and ``reward-<world>.png`` per world and
``segments.csv`` (rewards by segment, with intervals over seeds), with an evaluation
``estimates.csv`` (every run's estimates and true values), ``estimator_errors.csv`` and
``estimates-<world>.png``, ``segments-<world>.png`` and ``report.md`` / ``report.html``.
Re-running the same command skips the runs already committed; a killed run leaves only hidden
temporaries, removed when its run is made again. ``bandits report OUT`` remakes the tables and
the report from the committed runs (:func:`report_sweep`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from bandits.cli.config import SimulationConfig
from bandits.cli.manifest import read_manifest
from bandits.cli.reporting import read_estimates, run_segments, write_report
from bandits.cli.run_folder import RunFolderClaim, run_folder_problem
from bandits.cli.simulation import TRACE_FILE, write_simulation
from bandits.cli.sweep_config import PlannedRun, SweepConfig
from bandits.cli.sweep_evaluation import (
    ESTIMATES_FILE,
    EvaluationPlan,
    estimator_errors,
    evaluate_run,
)
from bandits.cli.wiring import build_policies, make_env_factory
from bandits.logs.atomic import atomic_path
from bandits.reports import (
    Report,
    build_report,
    read_trace,
    regret_intervals,
    segment_intervals,
    summarize_trace,
)
from bandits.run import spawn_generators
from bandits.run.executors import run_tasks
from bandits.validation import InputError, InputValueError

SWEEP_MANIFEST = "sweep.json"
RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to make one run (picklable)."""

    run_id: str
    config: dict[str, Any]
    folder: str
    evaluate: EvaluationPlan | None = None


@dataclass(frozen=True)
class SweepResult:
    """The sweep's tables: ``regret`` (per world and policy, with intervals over seeds),
    ``summary`` (per world and policy, means over seeds), how many runs were made now, with
    an evaluation ``errors`` (each estimator's bias, RMSE and coverage over seeds) and
    ``estimates`` (every run's, ``run`` numbering the seeds), the ``traces`` by world (read
    once, for the tables and the figures) and the ``segments`` (per world, policy and
    segment, with intervals over seeds)."""

    regret: pd.DataFrame
    summary: pd.DataFrame
    made: int
    skipped: int
    errors: pd.DataFrame | None = None
    traces: dict[str, pd.DataFrame] = field(default_factory=dict)
    estimates: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None


def make_run(task: RunTask) -> str:
    """Simulate one run into its folder (claimed, committed atomically); returns its id.
    Runs in a worker process: one BLAS thread, since the workers fill the cores."""
    config = SimulationConfig.from_mapping(task.config)
    with (
        threadpool_limits(1, user_api="blas"),
        RunFolderClaim(Path(task.folder), overwrite=False) as folder,
    ):
        write_simulation(config, folder, run_id=task.run_id)
        if task.evaluate is not None:  # committed with the run, or not at all
            evaluate_run(folder, config, task.evaluate)
    return task.run_id


def run_sweep(
    config: SweepConfig,
    out: Path,
    *,
    on_start: Callable[[int, int], None] | None = None,
    on_run: Callable[[str, int, int], None] | None = None,
) -> SweepResult:
    """Make the runs of ``config`` not yet in ``out``, then the tables over all of them.

    ``on_start(done, total)`` is called once the folder is claimed, before any work, with the
    runs already committed (a resumed sweep's progress starts there); ``on_run(run_id, done,
    total)`` as each run is committed (progress).
    """
    plan = config.plan()
    for world in config.worlds:  # unknown parameters and specs fail before any work
        try:
            make_env_factory(world.env, dict(world.params))
        except (InputError, ValueError, TypeError) as error:  # the environment's own errors too
            raise type(error)(f"World {world.name!r} of the sweep: {error}") from None
    build_policies(config.policies, spawn_generators(0, len(config.policies)))
    _claim_sweep_folder(out, config)
    pending = [run for run in plan if not _finished(run, out)]
    tasks = [RunTask(run.run_id, run.config.to_dict(), str(_folder(out, run)), config.evaluate)
             for run in pending]  # fmt: skip
    done = len(plan) - len(pending)
    if on_start is not None:
        on_start(done, len(plan))
    results = run_tasks(make_run, tasks, executor=config.executor, workers=config.workers,
                        scheduler=config.scheduler)  # fmt: skip
    for _, run_id in results:
        done += 1
        if on_run is not None:
            on_run(run_id, done, len(plan))
    return collect_sweep(plan, out, evaluated=config.evaluate is not None, made=len(pending))


def collect_sweep(
    plan: list[PlannedRun], out: Path, *, evaluated: bool, made: int = 0
) -> SweepResult:
    """The tables over the committed runs of ``plan`` in ``out``, read from their files (the
    streamed traces and logs, the estimates when ``evaluated``)."""
    worlds = list(dict.fromkeys(run.world for run in plan))
    traces = {world: _world_trace(plan, out, world) for world in worlds}
    regret, summary = _tables(traces)
    estimates = _estimates(plan, out) if evaluated else None
    errors = None if estimates is None else estimator_errors(estimates)
    segments = _with_world_first(pd.concat(
        [segment_intervals(pd.concat([run_segments(_folder(out, run)).assign(run=run.seed_index)
                                      for run in plan if run.world == world])).assign(world=world)
         for world in worlds], ignore_index=True))  # fmt: skip
    return SweepResult(regret, summary, made, len(plan) - made, errors, traces, estimates,
                       segments)  # fmt: skip


FIGURE_NOTES = {
    "regret": "mean over seeds with one-standard-error band",
    "reward": "mean over seeds with one-standard-error band",
    "ctr": "mean over seeds with one-standard-error band",
    "engagement": "mean over seeds with one-standard-error band",
    "segments": "mean over seeds with 95% t-interval",
    "estimates": "one point per seed, each seed's world with its own true value",
}
"""What each figure of a world shows over the seeds (by file stem)."""


def write_sweep_report(
    plan: list[PlannedRun], out: Path, result: SweepResult, title: str | None = None
) -> list[Path]:
    """Write the tables, the figures of each world and the report pages (titled ``title``, by
    default what the sweep ran); returns the files."""
    worlds = list(dict.fromkeys(run.world for run in plan))
    first = plan[0].config
    seeds = len(plan) // len(worlds)
    ran = f"Sweep: {len(first.policies)} policies, {len(worlds)} worlds, {seeds} seeds"
    report = Report(title=" ".join((title or ran).split()))  # one line
    report.notes.append(
        f"{first.total_requests:,} requests per policy per run; intervals over seeds are 95% "
        f"t-intervals of the cumulative regret at the end of the runs."
    )
    for world in worlds:
        estimates = None
        if result.estimates is not None:
            estimates = result.estimates[result.estimates["world"] == world]
        segments = None
        if result.segments is not None:
            segments = result.segments[result.segments["world"] == world].drop(columns="world")
        built = build_report(result.traces[world], title=world, estimates=estimates,
                             segments=segments)  # fmt: skip
        for name, (caption, figure) in built.figures.items():
            stem = name.removesuffix(".png")
            described = f"{caption[0].lower()}{caption[1:]}, {FIGURE_NOTES[stem]}"
            report.figures[f"{stem}-{world}.png"] = (f"{world}: {described}", figure)
        rows = result.regret[result.regret["world"] == world].drop(columns="world")
        report.sections.append((f"{world}: cumulative regret at the end", rows))
        if result.errors is not None:
            errors = result.errors[result.errors["world"] == world].drop(columns="world")
            report.sections.append(
                (f"{world}: off-policy estimates against the true values", errors)
            )
        if segments is not None:
            report.sections.append((f"{world}: reward by segment (mean over seeds)", segments))
    report.tables["regret"] = result.regret
    report.tables["summary"] = result.summary
    if result.errors is not None and result.estimates is not None:
        report.tables["estimator_errors"] = result.errors
        report.tables["estimates"] = result.estimates
    if result.segments is not None:
        report.tables["segments"] = result.segments
    return write_report(report, out)


def report_sweep(out: Path, title: str | None = None) -> SweepResult:
    """Remake the tables and the report of the sweep folder ``out`` from its committed runs
    (its ``sweep.json`` says which); every run must be there."""
    plan, evaluated = read_sweep_plan(out)
    for run in plan:
        if not _finished(run, out):
            raise InputValueError(
                f"{_folder(out, run)} is not a finished run of this sweep; run `bandits "
                f"sweep` again to make it, then the report."
            )
    result = collect_sweep(plan, out, evaluated=evaluated)
    write_sweep_report(plan, out, result, title)
    return result


def read_sweep_plan(out: Path) -> tuple[list[PlannedRun], bool]:
    """The runs a sweep folder's ``sweep.json`` lists (by world name, then seed), and whether
    they evaluate targets."""
    manifest = out / SWEEP_MANIFEST
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        runs = []
        for run_id, config in recorded["runs"].items():
            world, _, index = str(run_id).rpartition("-seed")
            runs.append(PlannedRun(world, int(index), SimulationConfig.from_mapping(config)))
        evaluated = recorded.get("evaluate") is not None
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as error:
        raise InputValueError(f"{manifest} is not the record of a sweep ({error}).") from None
    if not runs:
        raise InputValueError(f"{manifest} lists no runs.")
    return sorted(runs, key=lambda run: (run.world, run.seed_index)), evaluated


def _claim_sweep_folder(out: Path, config: SweepConfig) -> None:
    """``out`` must be new, empty, or the folder of this same sweep (then runs resume)."""
    manifest = out / SWEEP_MANIFEST
    wanted = _describe(config)
    if manifest.exists():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, OSError) as error:
            raise InputValueError(f"{manifest} cannot be read ({error}); remove it or choose "
                                  f"another --out.") from None  # fmt: skip
        if recorded != wanted:
            raise InputValueError(
                f"{out} holds a different sweep (its {SWEEP_MANIFEST} differs from this config); "
                f"choose another --out, or remove that folder to start over."
            )
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"{out} exists and is not an empty folder or a sweep folder; choose another --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(manifest) as temporary:
        temporary.write_text(json.dumps(wanted, indent=2, sort_keys=True), encoding="utf-8")


def _describe(config: SweepConfig) -> dict[str, Any]:
    """What makes two sweeps the same: the runs they plan (not where they execute)."""
    evaluate = None if config.evaluate is None else config.evaluate.to_dict()
    return {"runs": {run.run_id: run.config.to_dict() for run in config.plan()},
            "evaluate": evaluate}  # fmt: skip


def _folder(out: Path, run: PlannedRun) -> Path:
    return out / RUNS_FOLDER / run.run_id


def _finished(run: PlannedRun, out: Path) -> bool:
    """True if the run's folder is a committed run of exactly this config."""
    folder = _folder(out, run)
    if not folder.exists() or not any(not p.name.startswith(".") for p in folder.iterdir()):
        return False  # never started, or killed before it committed (only its claim is left)
    problem = run_folder_problem(folder)
    if problem is None:
        config = read_manifest(folder)["steps"]["simulate"].get("config")
        if config == run.config.to_dict():
            return True
        problem = "holds a run of another config"
    raise InputValueError(f"{folder} {problem}; remove it to make the run again.")


def _world_trace(plan: list[PlannedRun], out: Path, world: str) -> pd.DataFrame:
    """The traces of one world's runs, ``run`` numbering the seeds."""
    parts = [
        read_trace(_folder(out, run) / TRACE_FILE).assign(run=run.seed_index)
        for run in plan
        if run.world == world
    ]
    return pd.concat(parts, ignore_index=True)


def _estimates(plan: list[PlannedRun], out: Path) -> pd.DataFrame:
    """Every run's estimates with its world and seed (``run``, numbering the seeds)."""
    parts = [
        read_estimates(_folder(out, run) / ESTIMATES_FILE).assign(world=run.world,
                                                                  run=run.seed_index)
        for run in plan
    ]  # fmt: skip
    return _with_world_first(pd.concat(parts, ignore_index=True))


def _tables(traces: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The regret and summary tables over every world's trace."""
    regret, summary = [], []
    for world, trace in traces.items():
        regret.append(regret_intervals(trace).assign(world=world))
        summary.append(summarize_trace(trace).assign(world=world))
    return (
        _with_world_first(pd.concat(regret, ignore_index=True)),
        _with_world_first(pd.concat(summary, ignore_index=True)),
    )


def _with_world_first(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``world`` column first (then ``policy``, if it has one)."""
    first = [c for c in ("world", "policy") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]
