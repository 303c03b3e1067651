"""The ``bandits`` command: simulate, evaluate, report, list."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from threadpoolctl import threadpool_limits

from bandits.atomic import atomic_directory, atomic_path, write_text_atomic
from bandits.config import SimulationConfig
from bandits.logged import LoggedBandit
from bandits.manifest import MANIFEST_NAME, read_manifest, record_step
from bandits.offline import replay_updates
from bandits.ope import ESTIMATORS
from bandits.parquet import write_log
from bandits.plots import plot_cumulative_regret
from bandits.report import render_html, render_markdown
from bandits.seeding import spawn_generators, spawn_int_seed
from bandits.simulation import run_simulation
from bandits.specs import parse_value
from bandits.summary import summarize_trace
from bandits.wiring import build_policies, file_slug, make_env_factory

app = typer.Typer(
    name="bandits",
    help="Contextual-bandit recommendation: simulate, log, evaluate off-policy, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
console = Console()

F = TypeVar("F", bound=Callable[..., Any])

BlasThreads = Annotated[
    int,
    typer.Option(
        min=1,
        help="BLAS threads for the policies' linear algebra. Their matrices are small, and on "
        "few cores extra BLAS threads slow them down (see benchmarks/bench_linucb.py).",
    ),
]

TRACE_FILE = "trace.parquet"
ESTIMATES_FILE = "estimates.csv"


def friendly_errors(command: F) -> F:
    """Print input errors as one red line and exit with status 2, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValueError, TypeError, OSError) as error:
            err.print(f"[bold red]Error:[/] {error}", highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@friendly_errors
def simulate(
    config: Annotated[
        Path | None, typer.Option(help="TOML file with a [simulation] table; options override it.")
    ] = None,
    env: Annotated[str | None, typer.Option(help="Gymnasium environment id.")] = None,
    env_param: Annotated[
        list[str] | None,
        typer.Option("--env-param", help="Environment keyword argument KEY=VALUE (repeatable)."),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            "-p",
            help="Policy spec NAME[:KEY=VALUE,...] (repeatable); see `bandits list`.",
        ),
    ] = None,
    requests: Annotated[int | None, typer.Option(help="Requests served by each policy.")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed of every random stream.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder to write (default reports/<run-id>).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Allow writing into a non-empty run folder.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    blas_threads: BlasThreads = 1,
) -> None:
    """Run policies on an environment; write their logs (Parquet), the regret trace and a manifest.

    Every policy meets the same stream of requests (one environment seed for all). The run
    folder gets logs/<policy>.parquet, trace.parquet and manifest.json.
    """
    settings = SimulationConfig.from_toml(config).to_dict() if config else {}
    if env is not None:
        settings["env"] = env
    if env_param:
        settings["env_params"] = {**settings.get("env_params", {}), **_key_values(env_param)}
    if policy:
        settings["policies"] = policy
    if requests is not None:
        settings["total_requests"] = requests
    if seed is not None:
        settings["seed"] = seed
    cfg = SimulationConfig.from_mapping(settings)
    run_dir = out or Path("reports") / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-seed{cfg.seed}"
    _check_run_folder(run_dir, overwrite)

    streams = spawn_generators(cfg.seed, len(cfg.policies) + 1)
    env_seed = spawn_int_seed(streams[0])
    make_env = make_env_factory(cfg.env, cfg.env_params)
    policies = build_policies(cfg.policies, streams[1:])
    with _progress(quiet) as progress, threadpool_limits(blas_threads, user_api="blas"):
        task = progress.add_task("simulating", total=cfg.total_requests * len(policies))
        result = run_simulation(
            make_env,
            policies,
            total_requests=cfg.total_requests,
            env_seed=env_seed,
            on_step=lambda served: progress.advance(task, served),
        )
    trace = result.trace.assign(run=cfg.seed)
    with atomic_directory(run_dir, replace=True) as folder:
        logs = {
            name: f"logs/{write_log(log, folder / 'logs' / f'{file_slug(name)}.parquet').name}"
            for name, log in result.logs.items()
        }
        trace.to_parquet(folder / TRACE_FILE, index=False)
        record_step(
            folder,
            "simulate",
            run_id=run_dir.resolve().name,
            config=cfg.to_dict(),
            seeds={"root": cfg.seed, "env": env_seed},
            logs=logs,
            trace=TRACE_FILE,
        )
    console.print(_rich_table(_summary_view(summarize_trace(trace)), "Simulation"))
    console.print(f"Run folder: {run_dir}")


def _check_run_folder(run_dir: Path, overwrite: bool) -> None:
    """A run folder may be new, empty, or (with --overwrite) an earlier run's folder."""
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"{run_dir} is not empty; pass --overwrite or choose another --out.")
    if not (run_dir / MANIFEST_NAME).exists():
        raise FileExistsError(
            f"{run_dir} is not empty and holds no {MANIFEST_NAME}, so it is not a run folder; "
            f"--overwrite replaces only run folders. Choose another --out."
        )


@app.command()
@friendly_errors
def evaluate(
    log: Annotated[Path, typer.Argument(help="A Parquet log written by `bandits simulate`.")],
    target: Annotated[
        list[str],
        typer.Option(
            "--target", "-t", help="Target policy spec NAME[:KEY=VALUE,...] (repeatable)."
        ),
    ],
    estimator: Annotated[
        list[str] | None,
        typer.Option("--estimator", "-e", help=f"Estimator (repeatable): {', '.join(ESTIMATORS)}."),
    ] = None,
    train_fraction: Annotated[
        float,
        typer.Option(
            help="Share of the log, oldest first, used to train each target before the rest is "
            "used to evaluate it (0: evaluate the targets untrained on the whole log).",
            min=0.0,
            max=0.95,
        ),
    ] = 0.5,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the targets' random streams.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the table to this CSV file.")] = None,
    blas_threads: BlasThreads = 1,
) -> None:
    """Estimate target policies' value per request on a logged table (off-policy evaluation)."""
    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the path of a CSV file to write.")
    table = LoggedBandit.from_parquet(log)
    names = estimator or list(ESTIMATORS)
    unknown = [name for name in names if name not in ESTIMATORS]
    if unknown:
        raise ValueError(f"Unknown estimator(s) {unknown}; choose from {list(ESTIMATORS)}.")
    estimators = [ESTIMATORS[name](confidence=confidence) for name in names]
    train, test = table.split(train_fraction)
    if len(test) < 2:
        raise ValueError(f"{log} leaves {len(test)} row(s) to evaluate on; it needs at least 2.")
    policies = build_policies(target, spawn_generators(seed, len(target)))
    rows = []
    with threadpool_limits(blas_threads, user_api="blas"):
        for name, policy in policies.items():
            replay_updates(policy, train)
            for est in estimators:
                rows.append({"target": name, **est.estimate(test, policy).as_dict()})
    frame = pd.DataFrame(rows)
    console.print(_rich_table(_estimates_view(frame, confidence), f"Estimates on {log}"))
    for row in rows:
        if row["warnings"]:
            err.print(f"[yellow]Warning[/] {row['target']} / {row['estimator']}: {row['warnings']}")
    if out is not None:
        with atomic_path(out) as temporary:
            frame.to_csv(temporary, index=False)
        if (out.parent / "manifest.json").exists():
            record_step(
                out.parent,
                "evaluate",
                log=str(log),
                targets=list(target),
                estimators=names,
                train_fraction=train_fraction,
                seed=seed,
                estimates=str(out),
            )
        console.print(f"Estimates: {out}")


@app.command()
@friendly_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `bandits simulate`.")],
    title: Annotated[str | None, typer.Option(help="Report title (default: the run id).")] = None,
) -> None:
    """Plot cumulative regret per policy and write report.md / report.html into the run folder."""
    trace_path = run_dir / TRACE_FILE
    if not trace_path.exists():
        raise FileNotFoundError(f"{run_dir} has no {TRACE_FILE}; run `bandits simulate` first.")
    trace = pd.read_parquet(trace_path)
    summary = summarize_trace(trace)
    figure = plot_cumulative_regret(trace)
    with atomic_path(run_dir / "regret.png") as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    with atomic_path(run_dir / "summary.csv") as temporary:
        summary.to_csv(temporary, index=False)
    sections = [("Policies", summary)]
    estimates_path = run_dir / ESTIMATES_FILE
    if estimates_path.exists():
        estimates = pd.read_csv(estimates_path, dtype={"warnings": "string"})
        estimates["warnings"] = estimates["warnings"].fillna("")
        sections.append(("Off-policy estimates", estimates))
    manifest = read_manifest(run_dir)
    config = manifest.get("steps", {}).get("simulate", {}).get("config", {})
    notes = [
        f"Environment {config.get('env', '?')} with {config.get('env_params', {})}; "
        f"seed {config.get('seed', '?')}; {config.get('total_requests', '?')} requests per policy."
    ]
    heading = title or f"Run {run_dir.resolve().name}"
    figures = [("Cumulative expected regret per policy", "regret.png")]
    write_text_atomic(run_dir / "report.md", render_markdown(heading, sections, figures, notes))
    write_text_atomic(run_dir / "report.html", render_html(heading, sections, figures, notes))
    record_step(
        run_dir,
        "report",
        files=[
            str(run_dir / name)
            for name in ("regret.png", "summary.csv", "report.md", "report.html")
        ],
    )
    console.print(_rich_table(_summary_view(summary), "Policies"))
    console.print(f"Report: {run_dir / 'report.html'} (and report.md, regret.png)")


@app.command("list")
def list_components() -> None:
    """List the environments, policies and estimators that specs can name."""
    import gymnasium as gym

    import simulator  # noqa: F401  (registers the bandits/ environments)
    from policies import POLICIES

    console.print(
        "[bold]Environments[/]: " + ", ".join(k for k in gym.registry if k.startswith("bandits/"))
    )
    console.print("[bold]Policies[/]: " + ", ".join(POLICIES))
    console.print("[bold]Estimators[/]: " + ", ".join(ESTIMATORS))


def _key_values(items: list[str]) -> dict[str, Any]:
    """``["slate_size=3", ...]`` as ``{"slate_size": 3, ...}`` (values read as TOML literals)."""
    values = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--env-param takes KEY=VALUE; got {item!r}.")
        values[key.strip()] = parse_value(text.strip())
    return values


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )


def _summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": summary["policy"],
            "requests": summary["requests"].astype(int),
            "reward/request": summary["reward_per_request"],
            "regret/request": summary["regret_per_request"],
            "final regret/request": summary["final_regret_per_request"],
            "cumulative regret": summary["cumulative_regret"],
        }
    )


def _estimates_view(frame: pd.DataFrame, confidence: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": frame["target"],
            "estimator": frame["estimator"],
            "value": frame["value"],
            "stderr": frame["stderr"],
            f"{confidence:.0%} interval": [
                f"[{low:.4g}, {high:.4g}]"
                for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)
            ],
            "ESS": frame["effective_sample_size"],
            "max weight": frame["max_weight"],
        }
    )


def _rich_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if frame[column].dtype.kind in "iuf" else "left"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(_number(v) if isinstance(v, float) else str(v) for v in row))
    return table


def _number(value: float) -> str:
    """Four significant digits, but whole numbers >= 10,000 in full (``12,345``)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


if __name__ == "__main__":
    app()
