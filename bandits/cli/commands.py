"""The ``bandits`` command: simulate, evaluate, learn, report, upgrade, list, import, export.

Each command parses its options, calls one kernel function and prints; the work itself lives
in the kernel (``bandits.run``, ``bandits.ope``, ``bandits.reports``, ``bandits.logs``).
"""

from __future__ import annotations

import sys
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.text import Text
from threadpoolctl import threadpool_limits
from typer.exceptions import TyperException

from bandits.cli.config import SimulationConfig, read_toml_table
from bandits.cli.console import (
    console,
    err,
    friendly_errors,
    number,
    print_error,
    progress,
    rich_table,
    say,
    warn,
)
from bandits.cli.manifest import record_step
from bandits.cli.reporting import run_report, write_report
from bandits.cli.run_folder import (
    CSV_TABLE,
    PARQUET_LOG,
    SAVED_POLICY,
    RunFolderClaim,
    check_folder_name,
    check_output_file,
    check_unchanged,
    claimed_run_folder,
    folder_identity,
    run_folder_problem,
)
from bandits.cli.simulation import TRACE_FILE, write_simulation
from bandits.cli.sweep import SWEEP_MANIFEST, report_sweep, run_sweep, write_sweep_report
from bandits.cli.sweep_config import SweepConfig
from bandits.cli.targets import build_logging_policy, build_targets
from bandits.cli.transfer import export_app, import_app
from bandits.cli.wiring import build_policies, check_specs, environment_ids, make_env_factory
from bandits.logs import DEFAULT_BATCH_BYTES, open_log, rewrite_log
from bandits.logs.atomic import atomic_path
from bandits.logs.source import RowRange, parse_row_range
from bandits.ope import (
    DEFAULT_ESTIMATORS,
    ESTIMATORS,
    INTERVALS,
    Estimator,
    evaluate_log,
    make_estimator,
)
from bandits.ope.registry import estimator_parameters
from bandits.policy_files import save_policy
from bandits.reports import summarize_trace
from bandits.run import learn_from_log, spawn_generators
from bandits.run.executors import EXECUTORS
from bandits.specs import parse_spec, parse_value
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_choice,
    shown,
)

app = typer.Typer(
    name="bandits",
    help="Contextual-bandit recommendation: simulate, log, evaluate off-policy, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: nothing is cut in an 80-column terminal
)

BlasThreads = Annotated[
    int,
    typer.Option(
        min=1,
        help="BLAS threads for the policies' linear algebra. Their matrices are small, and on "
        "few cores extra BLAS threads slow them down (see benchmarks/bench_linucb.py).",
    ),
]
RowsOption = Annotated[
    str | None,
    typer.Option(
        metavar="START:END",
        help="Only these rows of the log, in file order (half-open; either side may be empty; "
        "negative counts from the end), e.g. 8000: for the rows `bandits learn --rows :8000` "
        "held out.",
    ),
]
BatchBytes = Annotated[
    int,
    typer.Option(min=1, max=2**40, help="Memory budget of one batch of log rows, in bytes."),
]

app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")


@app.command()
@friendly_errors
def simulate(
    config: Annotated[
        Path | None, typer.Option(help="TOML file with a [simulation] table; options override it.")
    ] = None,
    env: Annotated[str | None, typer.Option(help="Gymnasium environment id.")] = None,
    env_param: Annotated[
        list[str] | None,
        typer.Option(
            "--env-param",
            metavar="KEY=VALUE",
            help="Environment keyword argument KEY=VALUE (repeatable).",
        ),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            "-p",
            metavar="SPEC",
            help="Policy spec NAME[:KEY=VALUE,...] (repeatable); see `bandits list`.",
        ),
    ] = None,
    requests: Annotated[int | None, typer.Option(help="Requests served by each policy.")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed of every random stream.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder to write (default reports/<run-id>).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Allow replacing an earlier run's folder.")
    ] = False,
    log_marginals: Annotated[
        bool,
        typer.Option(
            help="Also log each policy's probability of every candidate at every position."
        ),
    ] = False,
    policy_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy-file",
            metavar="FILE",
            help="A saved policy (e.g. a run folder's policies/NAME.policy) that goes on "
            "acting and learning from its saved state (repeatable).",
        ),
    ] = None,
    save_policies: Annotated[
        bool,
        typer.Option(help="Save each policy as it ends the run into the run folder's policies/."),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    blas_threads: BlasThreads = 1,
) -> None:
    """Run policies on an environment; write their logs (Parquet), the regret trace and a manifest.

    Every policy meets the same stream of requests (one environment seed for all). The run
    folder gets logs/<policy>.parquet (with its .items.parquet), trace.parquet and
    manifest.json.
    """
    check_specs(policy or [], "--policy")
    settings = SimulationConfig.from_toml(config).to_dict() if config else {}
    if env is not None:
        settings["env"] = env
    if env_param:
        settings["env_params"] = {**settings.get("env_params", {}), **_key_values(env_param)}
    if policy:
        settings["policies"] = policy
    if policy_file:
        settings["policy_files"] = [str(path) for path in policy_file]
        if not policy:  # only saved policies, unless specs were given too
            settings["policies"] = settings.get("policies", []) if config else []
    if requests is not None:
        settings["total_requests"] = requests
    if seed is not None:
        settings["seed"] = seed
    cfg = SimulationConfig.from_mapping(settings)
    if out is not None:
        check_folder_name(out, "--out", "bandits simulate writes the run")
    run_dir = out or Path("reports") / _run_id(cfg.seed)
    make_env_factory(cfg.env, cfg.env_params)  # bad worlds and specs fail before the claim
    build_policies(cfg.policies, spawn_generators(cfg.seed, len(cfg.policies)), cfg.policy_files)
    with RunFolderClaim(run_dir, overwrite=overwrite) as folder:  # claimed before the work
        with progress(quiet) as bar, threadpool_limits(blas_threads, user_api="blas"):
            n_policies = len(cfg.policies) + len(cfg.policy_files)
            task = bar.add_task("simulating", total=cfg.total_requests * n_policies)
            trace = write_simulation(
                cfg,
                folder,
                run_id=run_dir.resolve().name,
                log_marginals=log_marginals,
                save_policies=save_policies,
                on_step=lambda served: bar.advance(task, served),
            )
    console.print(rich_table(_summary_view(summarize_trace(trace)), "Simulation"))
    say(f"Run folder: {run_dir}")


def _run_id(seed: int) -> str:
    """A new run id: UTC time, seed and a random suffix (two runs never share one)."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-seed{seed}-{uuid.uuid4().hex[:6]}"


@app.command()
@friendly_errors
def sweep(
    config: Annotated[Path, typer.Argument(help="TOML file with a [sweep] table.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Sweep folder (new, empty, or this sweep's); default: the config's out."),
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="local (processes, the default) or dask.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local processes or local Dask workers.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a Dask scheduler (implies --executor dask).")
    ] = None,
    requests: Annotated[
        int | None, typer.Option(help="Requests per policy and run (overrides the config).")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Root seed of the runs' seeds (overrides root_seed); refused when the config "
            "lists its seeds."
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option(help="No progress bar (for CI logs): only a line per finished run.")
    ] = False,
) -> None:
    """Run every policy on every world for every seed of a config; resumable.

    Each (world, seed) is a run folder under OUT/runs, committed when it ends; running the
    same command again skips the runs already there. At the end: regret.csv (cumulative
    regret with its interval over seeds), summary.csv, regret-<world>.png and report.html.
    """
    settings = read_toml_table(config, "sweep")
    out = _sweep_folder(out, settings.pop("out", None), config)
    if seed is not None and isinstance(settings.get("seeds"), list):
        raise InputValueError(
            f"--seed {seed} sets the root seed that spawns a count of seeds, but {config} lists "
            f"its seeds (seeds = {shown(settings['seeds'])}), which are used as written; drop "
            f"--seed or give 'seeds' as a count."
        )
    overrides = (("executor", executor), ("workers", workers), ("scheduler", scheduler),
                 ("requests", requests), ("root_seed", seed))  # fmt: skip
    for key, value in overrides:
        if value is not None:
            settings[key] = value
    if scheduler is not None and executor is None:
        settings["executor"] = "dask"
    plan = SweepConfig.from_mapping(settings, str(config))
    per_run = plan.requests * len(plan.policies)
    started, made = time.monotonic(), 0
    with progress(quiet) as bar:
        task = None

        def start(done: int, runs: int) -> None:
            nonlocal task, started  # the bar starts at the runs already committed
            task = bar.add_task("runs", total=runs, completed=done)
            started = time.monotonic()

        def finished(run_id: str, done: int, runs: int) -> None:
            nonlocal made
            made += 1
            rate = made * per_run / max(time.monotonic() - started, 1e-9)
            say(f"Run {run_id} committed ({done}/{runs}, {rate:,.0f} requests/s).")
            if task is not None:
                bar.update(task, completed=done, description=f"runs, {rate:,.0f} requests/s")

        result = run_sweep(plan, out, on_start=start, on_run=finished)
    write_sweep_report(plan.plan(), out, result)
    view = result.regret.assign(
        interval=[
            f"[{number(lo)}, {number(hi)}]"
            for lo, hi in zip(result.regret["ci_low"], result.regret["ci_high"], strict=True)
        ]
    )[["world", "policy", "runs", "cumulative_regret", "interval"]]
    console.print(rich_table(view, "Cumulative regret at the end (95% interval over seeds)"))
    if result.errors is not None:
        title = "Off-policy estimates against the true values (over seeds)"
        shown_errors = result.errors[["world", "target", "estimator", "runs", "bias", "rmse",
                                      "coverage"]]  # fmt: skip
        whole = ("estimator", "runs", "bias", "rmse", "coverage")
        console.print(rich_table(shown_errors, title, whole=whole))
    say(f"Made {result.made} runs, {result.skipped} already there. Report: {out / 'report.html'}")


@app.command()
@friendly_errors
def evaluate(
    log: Annotated[Path, typer.Argument(help="A Parquet log (e.g. from `bandits simulate`).")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            "-t",
            metavar="SPEC",
            help="Target policy spec NAME[:KEY=VALUE,...] (repeatable).",
        ),
    ] = None,
    target_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--target-file",
            "-f",
            metavar="FILE",
            help="Target from a file (repeatable): a saved policy (from `bandits learn`), or "
            "the target's probability of each candidate at each position on every logged row "
            "(.parquet, .npy or .npz; obp's action_dist layout).",
        ),
    ] = None,
    estimator: Annotated[
        list[str] | None,
        typer.Option(
            "--estimator",
            "-e",
            metavar="SPEC",
            help=f"Estimator spec NAME[:KEY=VALUE,...] (repeatable): {', '.join(ESTIMATORS)}; "
            f"e.g. switch-dr:threshold=50, dr:model=ridge,folds=5,clip=100. Default: "
            f"{', '.join(DEFAULT_ESTIMATORS)}.",
        ),
    ] = None,
    logging_policy: Annotated[
        str | None,
        typer.Option(
            "--logging-policy",
            metavar="SPEC_OR_FILE",
            help="The policy that wrote the log, for the estimators that ask it for "
            f"probabilities the log does not hold ({', '.join(LOGGER_ESTIMATORS)}): a spec or a "
            "saved policy file. Right only if it did not change while logging (uniform, a "
            "frozen saved policy).",
        ),
    ] = None,
    train_fraction: Annotated[
        float,
        typer.Option(
            help="Share of the log, oldest first, replayed to train each target before the rest "
            "evaluates it. 0 (the default) evaluates the targets as built on the whole log.",
            min=0.0,
            max=0.95,
        ),
    ] = 0.0,
    rows: RowsOption = None,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    interval: Annotated[
        str,
        typer.Option(
            help=f"Interval: {' | '.join(INTERVALS)} (bootstrap is BCa; bernstein needs "
            f"--reward-range and an estimator that is a mean of one term)."
        ),
    ] = "normal",
    bootstrap_samples: Annotated[
        int, typer.Option(min=2, max=100_000, help="Poisson bootstrap replicates.")
    ] = 1000,
    reward_range: Annotated[
        tuple[float, float] | None,
        typer.Option(
            metavar="LOW HIGH", help="Bounds of a slate reward (for --interval bernstein)."
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            min=0,
            help="Seed of the targets' random streams and the estimators' (folds, bootstrap).",
        ),
    ] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the table to this CSV file.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Allow replacing an existing --out.")] = False,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Estimate in tasks of whole row groups: local (processes) or dask. Default: in "
            "this process."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Local processes or local Dask workers."),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a Dask scheduler (implies --executor dask).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    blas_threads: BlasThreads = 1,
) -> None:
    """Estimate target policies' value per request on a log (off-policy evaluation).

    The log is streamed in batches, so its size is limited by the disk, not the memory. With
    --executor, the estimating pass runs in tasks of whole Parquet row groups on local processes or
    a Dask cluster, with the same estimates; a --train-fraction split trains the targets in
    one task there, so this process reads only the log's metadata.
    """
    check_choice(interval, INTERVALS, "interval")
    target, files = target or [], target_files or []
    check_specs(target, "--target")
    check_specs(estimator or [], "--estimator")
    check_specs([] if logging_policy is None else [logging_policy], "--logging-policy")
    if not target and not files:
        raise InputValueError("evaluate needs a target: --target SPEC or --target-file FILE.")
    row_range = parse_row_range(rows) if rows is not None else None
    if executor is None and (workers is not None or scheduler is not None):
        executor = "dask" if scheduler is not None else "local"
    if executor is not None:
        check_choice(executor, EXECUTORS, "executor")
    specs = list(dict.fromkeys(estimator or DEFAULT_ESTIMATORS))  # each once, in the order given
    streams = spawn_generators(seed, len(target) + len(specs) + 1)
    logger = None if logging_policy is None else build_logging_policy(logging_policy, streams[-1])
    estimators: list[Estimator] = []
    for spec, stream in zip(specs, streams[len(target) : -1], strict=True):
        takes_logger = "logging_policy" in estimator_parameters(ESTIMATORS[_estimator_name(spec)])
        built = make_estimator(
            spec,
            confidence=confidence,
            interval=interval,
            bootstrap_samples=bootstrap_samples,
            reward_range=reward_range,
            rng=stream,
            **({"logging_policy": logger} if logger is not None and takes_logger else {}),
        )
        if built.label not in [e.label for e in estimators]:  # "ips" and "ips:" are one
            estimators.append(built)
    names = [e.label for e in estimators]
    targets = build_targets(target, files, streams[: len(target)])
    if out is not None:
        check_output_file(
            out, writes=CSV_TABLE, command="evaluate", inputs=[log, *files], overwrite=overwrite
        )
    opened = open_log(log)
    target_file, identity = None, (0, 0)
    if out is not None:
        target_file = check_output_file(
            out,
            writes=CSV_TABLE,
            command="evaluate",
            inputs=[*opened.files, *files],
            overwrite=overwrite,
        )
        identity = folder_identity(target_file.parent)
    with progress(quiet) as bar, threadpool_limits(blas_threads, user_api="blas"):
        chosen = opened.n_rows if row_range is None else _range_size(row_range, opened.n_rows)
        passes = chosen  # training and estimating; a reward model adds a pass
        if any(e.needs_fit for e in estimators):
            passes += chosen - round(train_fraction * chosen)
        task = bar.add_task("evaluating", total=passes)
        frame = evaluate_log(
            log,
            targets,
            estimators,
            train_fraction=train_fraction,
            rows=row_range,
            batch_bytes=batch_bytes,
            on_rows=lambda rows: bar.advance(task, rows),
            executor=executor,
            workers=workers,
            scheduler=scheduler,
        )
    view = _estimates_view(frame, f"{confidence:.0%} {interval} interval")
    console.print(rich_table(view, f"Estimates on {log}"))
    for name, method, warnings in zip(
        frame["target"], frame["estimator"], frame["warnings"], strict=True
    ):
        if warnings:
            warn(f"{name} / {method}: {warnings}")
    if target_file is not None:
        folder = target_file.parent
        check_unchanged(folder, identity)  # whether or not it is a run folder
        in_run = run_folder_problem(folder) is None  # then claim it and note the step
        with claimed_run_folder(folder, identity) if in_run else nullcontext(folder):
            with atomic_path(target_file, replace=overwrite) as temporary:
                frame.to_csv(temporary, index=False)
            if in_run:
                record_step(
                    folder,
                    "evaluate",
                    log=str(log),
                    targets=list(targets),
                    estimators=names,
                    interval=interval,
                    train_fraction=train_fraction,
                    rows=rows,
                    seed=seed,
                    executor=executor or "in-process",
                    estimates=str(out),
                )
        say(f"Estimates: {out}")


@app.command()
@friendly_errors
def learn(
    log: Annotated[Path, typer.Argument(help="A Parquet log with its logger's probabilities.")],
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            "-p",
            metavar="SPEC",
            help='Policy spec to learn: vw (e.g. vw:cb_type="dr"), ridge-greedy, linucb, lints, '
            "or epsilon-greedy / softmax over a linear base.",
        ),
    ],
    out: Annotated[Path, typer.Option(help="The policy file to write (e.g. model.pkl).")],
    rows: RowsOption = None,
    train_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Learn from the oldest share of the rows (by time), holding out the rest.",
        ),
    ] = 1.0,
    clip: Annotated[
        float,
        typer.Option(
            min=1.0, help="Largest importance weight, 1 / logged probability (default: none)."
        ),
    ] = float("inf"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the policy's random stream.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Allow replacing an existing --out.")] = False,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    blas_threads: BlasThreads = 1,
) -> None:
    """Learn a policy from a log off-policy and save it (a target for `evaluate --target-file`).

    Every logged row weighs by its logger's probability: VW learns with its --cb_type (ips,
    dr or mtr) from cost -reward and the logged probability; linear policies fit an
    importance-weighted ridge model (weights 1 / logged position probability, capped by
    --clip). The log is streamed.
    """
    check_specs([policy], "--policy")
    row_range = parse_row_range(rows) if rows is not None else None
    learner = next(iter(build_policies([policy], spawn_generators(seed, 1)).values()))
    opened = open_log(log)
    target_file = check_output_file(out, writes=SAVED_POLICY, command="learn",
                                    inputs=opened.files, overwrite=overwrite)  # fmt: skip
    chosen = opened.n_rows if row_range is None else _range_size(row_range, opened.n_rows)
    with progress(quiet) as bar, threadpool_limits(blas_threads, user_api="blas"):
        task = bar.add_task("learning", total=round(train_fraction * chosen))
        result = learn_from_log(
            log,
            learner,
            rows=row_range,
            train_fraction=train_fraction,
            clip=clip,
            batch_bytes=batch_bytes,
            on_rows=lambda done: bar.advance(task, done),
        )
    info = {"learned_from": str(log), "rows": rows, "train_fraction": train_fraction,
            "clip": None if clip == float("inf") else clip, "n_learned": result.n_learned,
            "held_out": None if result.held_out is None else list(result.held_out)}  # fmt: skip
    save_policy(learner, target_file, replace=overwrite, info=info)
    say(f"Learned {learner.name} off-policy on {result.n_learned:,} rows of {log}; saved {out}.")
    if result.held_out is not None:
        start, stop = result.held_out
        say(f"Evaluate it on the {result.n_held_out:,} held-out rows: bandits evaluate {log} "
            f"--target-file {out} --rows {start}:{stop}")  # fmt: skip
    elif result.n_held_out:
        say(f"{result.n_held_out:,} rows were held out (not one range of rows: the log is not "
            f"in time order).")  # fmt: skip


@app.command()
@friendly_errors
def report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder (`bandits simulate`) or a sweep folder.")
    ],
    title: Annotated[
        str | None, typer.Option(help="Report title (default: the run id, or what a sweep ran).")
    ] = None,
) -> None:
    """Write the report of a run folder (regret, reward, segment and estimate figures, tables,
    report.md / report.html) into it; on a sweep folder, remake the sweep's report."""
    if (run_dir / SWEEP_MANIFEST).exists():
        result = report_sweep(run_dir, title)
        say(f"Report: {run_dir / 'report.html'} (from {result.skipped} runs)")
        return
    trace_path = run_dir / TRACE_FILE
    if not trace_path.exists():
        raise FileNotFoundError(f"{run_dir} has no {TRACE_FILE}; run `bandits simulate` first.")
    problem = run_folder_problem(run_dir)
    if problem is not None:
        raise InputValueError(
            f"{run_dir} {problem}, so it is not a run folder; report writes only into run "
            f"folders (made by `bandits simulate`)."
        )
    with claimed_run_folder(run_dir):
        built = run_report(run_dir, title)
        written = write_report(built, run_dir)
        record_step(run_dir, "report", files=[str(path) for path in written])
    console.print(rich_table(_summary_view(built.tables["summary"]), "Policies"))
    figures = ", ".join(built.figures)
    say(f"Report: {run_dir / 'report.html'} (and report.md, {figures})")


@app.command()
@friendly_errors
def upgrade(
    log: Annotated[Path, typer.Argument(help="A log of an older schema version (e.g. 1).")],
    out: Annotated[Path, typer.Option(help="The version-2 log to write (.parquet).")],
    overwrite: Annotated[bool, typer.Option(help="Allow replacing an existing --out.")] = False,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
) -> None:
    """Rewrite a log in the current schema (version 2: items stored once), streaming."""
    opened = open_log(log)
    target_file = check_output_file(
        out, writes=PARQUET_LOG, command="upgrade", inputs=opened.files, overwrite=overwrite
    )
    rewrite_log(log, target_file, overwrite=overwrite, batch_bytes=batch_bytes)
    rows = f"{opened.n_rows} rows"
    say(f"Wrote {out} (schema version 2) from {log} (version {opened.version}, {rows}).")


@app.command("list")
@friendly_errors
def list_components() -> None:
    """List the environments, policies (with their default specs and named choices) and
    estimators that specs can name."""
    from policies import POLICIES, make_policy

    say("Environments: " + ", ".join(environment_ids()))
    rows = []
    for name, cls in POLICIES.items():
        default = make_policy(name, {}, rng=np.random.default_rng(0))
        choices = "; ".join(f"{key}: {' | '.join(values)}" for key, values in
                            cls.param_choices.items())  # fmt: skip
        rows.append({"policy": name, "default spec": default.spec, "choices": choices})
    console.print(rich_table(pd.DataFrame(rows), "Policies", whole=("policy",)))
    say("Estimators: " + ", ".join(ESTIMATORS))


def _range_size(row_range: RowRange, n_rows: int) -> int:
    return len(range(*slice(*row_range).indices(n_rows)))


LOGGER_ESTIMATORS = [name for name, cls in ESTIMATORS.items()
                     if "logging_policy" in estimator_parameters(cls)]  # fmt: skip
"""Estimators that take ``--logging-policy``."""


def _estimator_name(spec: str) -> str:
    """The registry name of an estimator spec (an unknown one is refused, with the closest)."""
    return check_choice(parse_spec(spec)[0], ESTIMATORS, "estimator")


def _sweep_folder(option: Path | None, setting: object, config: Path) -> Path:
    """``--out``, else the config's ``out`` (a path, relative to the current folder)."""
    writes = "bandits sweep writes its runs and report"
    if option is not None:
        check_folder_name(option, "--out", writes)
        return option
    if setting is None:
        raise InputValueError(
            f'bandits sweep needs a folder to write: --out DIR, or out = "DIR" in the '
            f"[sweep] table of {config}."
        )
    if not isinstance(setting, str) or not setting.strip():
        raise InputTypeError(
            f"The 'out' of [sweep] in {config} must be a folder path; got {shown(setting)}."
        )
    check_folder_name(Path(setting), f"The 'out' of [sweep] in {config},", writes)
    return Path(setting)


def _key_values(items: list[str]) -> dict[str, Any]:
    """``["slate_size=3", ...]`` as ``{"slate_size": 3, ...}`` (values read as TOML literals)."""
    values = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise InputValueError(f"--env-param takes KEY=VALUE; got {shown(item)}.")
        values[key.strip()] = parse_value(text.strip())
    return values


def _summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": summary["policy"],
            "requests": summary["requests"].astype(int),
            "reward per request": summary["reward_per_request"],
            "regret per request": summary["regret_per_request"],
            "final regret per request": summary["final_regret_per_request"],
            "cumulative regret": summary["cumulative_regret"],
        }
    )


def _estimates_view(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    view = pd.DataFrame(
        {
            "target": frame["target"],
            "estimator": frame["estimator"],
            "n": frame["n"].astype(int),
            "value": frame["value"],
            "stderr": frame["stderr"],
            interval: [
                f"[{number(low)}, {number(high)}]"
                for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)
            ],
            "ESS": frame["effective_sample_size"],
            "max weight": frame["max_weight"],
        }
    )
    if frame["tuning"].astype(bool).any():
        view["tuned"] = frame["tuning"]
    return view


def main(args: list[str] | None = None) -> None:
    """The ``bandits`` command: the typer app, with the parser's own usage errors (an unknown
    option, a value out of range) printed as one line and exit status 2, like every other
    input error."""
    words = sys.argv[1:] if args is None else list(args)
    try:
        result = app(args=words or ["--help"], standalone_mode=False)
    except typer.Abort:
        err.print(Text("Aborted."))
        raise SystemExit(1) from None
    except TyperException as problem:  # the parser's errors (click's ClickException)
        format_message = getattr(problem, "format_message", None)
        message = format_message() if callable(format_message) else str(problem)
        context = getattr(problem, "ctx", None)
        where = context.command_path if context is not None else "bandits"
        print_error(f"{message} (see `{where} --help`)")
        raise SystemExit(2) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
