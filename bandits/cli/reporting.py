"""A run folder's report, from what the run recorded (its trace, logs, estimates and
manifest), and the writing of any report's files: the work behind ``bandits report`` on a run
folder, shared with the sweep's report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bandits.cli.console import number
from bandits.cli.manifest import read_manifest
from bandits.cli.simulation import TRACE_FILE
from bandits.cli.sweep_evaluation import ESTIMATES_FILE
from bandits.logs import iter_log_batches, open_log
from bandits.logs.atomic import atomic_path
from bandits.reports import Report, build_report, read_trace, segment_table
from bandits.validation import InputError, InputValueError, check_columns, check_regular_file, shown

ESTIMATE_REQUIRED = ("target", "estimator", "value", "stderr", "ci_low", "ci_high", "n")
"""Columns an estimates file must have for a report (older files lack some of the rest)."""

MAX_ESTIMATES_BYTES = 64 * 2**20
"""Largest estimates file a report reads (one row per target and estimator)."""


def run_report(run_dir: Path, title: str | None = None) -> Report:
    """The report of the run folder ``run_dir``: its trace (streamed to ``trace.parquet``),
    its segments (streamed from its logs), its estimates (if any) and its manifest's config."""
    trace_path = run_dir / TRACE_FILE
    trace = read_trace(trace_path)
    estimates = None
    if (run_dir / ESTIMATES_FILE).exists():
        estimates = read_estimates(run_dir / ESTIMATES_FILE)
        if "unsupported_mass" in estimates.columns:  # NaN where not computable: shown empty
            estimates["unsupported_mass"] = [
                "" if pd.isna(v) else number(v) for v in estimates["unsupported_mass"]
            ]
    step = read_manifest(run_dir)["steps"]["simulate"]
    try:
        return build_report(
            trace,
            estimates=estimates,
            config=step["config"],
            title=" ".join((title or f"Run {run_dir.resolve().name}").split()),  # one line
            segments=run_segments(run_dir),
        )
    except InputError as error:
        raise type(error)(f"{trace_path}: {error}") from None


def run_segments(run_dir: Path) -> pd.DataFrame:
    """Rewards by segment of every log of the run folder (streamed batch by batch), with the
    context signals' segments when the logs name their context columns."""
    recorded = read_manifest(run_dir)["steps"]["simulate"]["logs"]
    logs = {name: run_dir / path for name, path in recorded.items()}
    names = next((open_log(path).context_names for path in logs.values()), None)
    return segment_table(((name, iter_log_batches(path)) for name, path in logs.items()), names)


def read_estimates(path: Path) -> pd.DataFrame:
    """An estimates file (``bandits evaluate --out`` or a sweep's run), its numeric columns
    checked; warnings and tuning as text."""
    estimates = _read_table(check_regular_file(path, "estimates file"), _read_estimates)
    check_columns(estimates, ESTIMATE_REQUIRED, f"{path} (written by evaluate)")
    numeric = [*ESTIMATE_REQUIRED[2:], *(c for c in ("true_value",) if c in estimates.columns)]
    for column in numeric:
        numbers = pd.to_numeric(estimates[column], errors="coerce")
        bad = numbers.isna() & estimates[column].notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise InputValueError(
                f"{path}: column {column!r} must hold numbers; row {row} is "
                f"{shown(estimates[column].iloc[row])}."
            )
        estimates[column] = numbers
    for column in ("warnings", "tuning"):  # empty text, not NaN
        if column in estimates.columns:
            estimates[column] = estimates[column].fillna("")
    return estimates


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write ``report`` into ``folder``: each figure as PNG, each table as CSV, ``report.md``
    and the self-contained ``report.html`` (each file atomically, replacing an older one);
    returns the files."""
    written = []
    for name, (_, figure) in report.figures.items():
        with atomic_path(folder / name, replace=True) as temporary:
            figure.savefig(temporary, format="png", dpi=120)
        written.append(folder / name)
    for stem, table in report.tables.items():
        with atomic_path(folder / f"{stem}.csv", replace=True) as temporary:
            table.to_csv(temporary, index=False)
        written.append(folder / f"{stem}.csv")
    for name, text in (("report.md", report.markdown()), ("report.html", report.html())):
        with atomic_path(folder / name, replace=True) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def _read_estimates(path: Path) -> pd.DataFrame:
    if path.stat().st_size > MAX_ESTIMATES_BYTES:
        raise InputValueError(
            f"{path} is larger than an estimates file can be ({MAX_ESTIMATES_BYTES:,} bytes)."
        )
    return pd.read_csv(path, dtype={"warnings": "string", "tuning": "string"})


def _read_table(path: Path, reader: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
    """A table file read by ``reader``; a file that is not one gives an input error."""
    try:
        return reader(path)
    except (ValueError, pa.ArrowException) as error:  # pandas' and pyarrow's parse errors
        raise InputValueError(f"{path} cannot be read as a table: {error}") from None
