"""A sweep: every policy on every world for every seed, one run folder per (world, seed), run
on local processes or Dask, resumable, with tables and a report over the seeds.

Layout of the sweep folder ``OUT``: ``sweep.json`` (the config, written first), ``runs/<world>-
seed<i>/`` (ordinary run folders, each committed atomically when its simulation ends),
``regret.csv`` (cumulative regret at the end per world and policy with its interval over
seeds), ``summary.csv``, ``regret-<world>.png`` and ``reward-<world>.png`` per world and
``report.md`` / ``report.html``. Re-running the same command skips the runs already
committed; a killed run leaves only hidden temporaries, removed when its run is made again.
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
from bandits.reports import Report, build_report, read_trace, regret_intervals, summarize_trace
from bandits.run import spawn_generators
from bandits.run.executors import run_tasks
from bandits.validation import InputValueError

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
    an evaluation ``errors`` (each estimator's bias, RMSE and coverage over seeds), and the
    ``traces`` by world (read once, for the tables and the figures)."""

    regret: pd.DataFrame
    summary: pd.DataFrame
    made: int
    skipped: int
    errors: pd.DataFrame | None = None
    traces: dict[str, pd.DataFrame] = field(default_factory=dict)


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
    on_run: Callable[[str, int, int], None] | None = None,
) -> SweepResult:
    """Make the runs of ``config`` not yet in ``out``, then the tables over all of them.

    ``on_run(run_id, done, total)`` is called as each run is committed (progress).
    """
    plan = config.plan()
    for world in config.worlds:  # unknown parameters and specs fail before any work
        make_env_factory(world.env, dict(world.params))
    build_policies(config.policies, spawn_generators(0, len(config.policies)))
    _claim_sweep_folder(out, config)
    pending = [run for run in plan if not _finished(run, out)]
    tasks = [RunTask(run.run_id, run.config.to_dict(), str(_folder(out, run)), config.evaluate)
             for run in pending]  # fmt: skip
    done = len(plan) - len(pending)
    results = run_tasks(make_run, tasks, executor=config.executor, workers=config.workers,
                        scheduler=config.scheduler)  # fmt: skip
    for _, run_id in results:
        done += 1
        if on_run is not None:
            on_run(run_id, done, len(plan))
    traces = {world: _world_trace(plan, out, world)
              for world in dict.fromkeys(run.world for run in plan)}  # fmt: skip
    regret, summary = _tables(traces)
    errors = None if config.evaluate is None else estimator_errors(_estimates(plan, out))
    made = len(pending)
    return SweepResult(regret, summary, made, len(plan) - made, errors, traces)


def write_sweep_report(config: SweepConfig, out: Path, result: SweepResult) -> list[Path]:
    """Write the tables, one regret figure per world and the report pages; returns the files."""
    report = Report(title=f"Sweep: {len(config.policies)} policies, {len(config.worlds)} "
                          f"worlds, {len(config.seeds)} seeds")  # fmt: skip
    report.notes.append(
        f"{config.requests:,} requests per policy per run; intervals over seeds are 95% "
        f"t-intervals of the cumulative regret at the end of the runs."
    )
    for world in config.worlds:
        built = build_report(result.traces[world.name], title=world.name)
        for stem, (caption, figure) in built.figures.items():
            report.figures[f"{stem.removesuffix('.png')}-{world.name}.png"] = (
                f"{world.name}: {caption.lower()}, mean over seeds with one-standard-error "
                f"band", figure)  # fmt: skip
        rows = result.regret[result.regret["world"] == world.name].drop(columns="world")
        report.sections.append((f"{world.name}: cumulative regret at the end", rows))
        if result.errors is not None:
            errors = result.errors[result.errors["world"] == world.name].drop(columns="world")
            report.sections.append(
                (f"{world.name}: off-policy estimates against the true values", errors)
            )
    written = []
    for name, (_, figure) in report.figures.items():
        with atomic_path(out / name, replace=True) as temporary:
            figure.savefig(temporary, format="png", dpi=120)
        written.append(out / name)
    tables = [("regret", result.regret), ("summary", result.summary)]
    if result.errors is not None:
        tables.append(("estimator_errors", result.errors))
    for stem, table in tables:
        with atomic_path(out / f"{stem}.csv", replace=True) as temporary:
            table.to_csv(temporary, index=False)
        written.append(out / f"{stem}.csv")
    for name, text in (("report.md", report.markdown()), ("report.html", report.html())):
        with atomic_path(out / name, replace=True) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


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
    """Every run's estimates with its world and seed."""
    parts = [
        pd.read_csv(_folder(out, run) / ESTIMATES_FILE).assign(
            world=run.world, seed_index=run.seed_index
        )
        for run in plan
    ]
    return pd.concat(parts, ignore_index=True)


def _tables(traces: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The regret and summary tables over every world's trace."""
    regret, summary = [], []
    for world, trace in traces.items():
        regret.append(regret_intervals(trace).assign(world=world))
        summary.append(summarize_trace(trace).assign(world=world))
    first = ["world", "policy"]
    regret_table = pd.concat(regret, ignore_index=True)
    summary_table = pd.concat(summary, ignore_index=True)
    return (
        regret_table[first + [c for c in regret_table.columns if c not in first]],
        summary_table[first + [c for c in summary_table.columns if c not in first]],
    )
