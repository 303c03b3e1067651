"""The tidy trace every report reads: one row per run x step x policy, checked once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bandits.logged import MAX_NAME_CHARACTERS
from bandits.logs.arrow import open_parquet
from bandits.run.rollout import TRACE_COLUMNS
from bandits.validation import InputValueError, check_columns, shown

NUMERIC_COLUMNS = (*(name for name in TRACE_COLUMNS if name != "policy"), "run")
"""The trace's numeric columns (``run`` when it holds several runs)."""


MAX_TRACE_ROWS = 10_000_000
"""Most rows a trace file may hold (a report reads it whole)."""


def read_trace(path: Path) -> pd.DataFrame:
    """A trace file (Parquet, as ``bandits simulate`` writes it, page checksums verified);
    damaged, oversized or foreign files give an input error naming the file."""
    parquet = open_parquet(path, "trace", text_columns=["policy"])
    rows = parquet.metadata.num_rows
    if rows > MAX_TRACE_ROWS:
        raise InputValueError(
            f"{path} holds {rows:,} rows, more than a trace may ({MAX_TRACE_ROWS:,})."
        )
    declared = (parquet.metadata.metadata or {}).get(b"bandits.n_rows")
    if declared is not None and declared != str(rows).encode():
        raise InputValueError(
            f"{path} holds {rows:,} rows but was written with {declared[:20]!r}; it is not a "
            f"whole trace."
        )
    known = {*TRACE_COLUMNS, "run"}
    unknown = sorted(set(parquet.schema_arrow.names) - known)
    if unknown:
        raise InputValueError(
            f"{path} has column(s) {unknown} that a trace does not have; it is not a trace "
            f"written by bandits simulate."
        )
    try:  # the columns as stored; pandas' own metadata (dtypes, index) is not trusted
        frame = parquet.read().to_pandas(ignore_metadata=True)
    except (pa.ArrowException, OSError, ValueError, TypeError) as error:
        detail = " ".join(str(error).split())
        raise InputValueError(f"{path} cannot be read as a trace: {detail}") from None
    names = frame.get("policy")
    if names is not None and isinstance(names.dtype, pd.CategoricalDtype):
        # read dictionary-encoded: each distinct name is checked (and stored) once
        long = np.asarray(names.cat.categories.str.len() > MAX_NAME_CHARACTERS)
        codes = names.cat.codes.to_numpy()
        bad = (codes >= 0) & long[np.maximum(codes, 0)] if long.size else codes < -1
        if bad.any():
            raise InputValueError(
                f"{path}: column 'policy' holds names of at most {MAX_NAME_CHARACTERS:,} "
                f"characters; row {int(np.argmax(bad))} has a longer one."
            )
        frame["policy"] = names.astype(object)
    return frame


def check_trace(trace: pd.DataFrame, required: Sequence[str]) -> None:
    """Raise, naming the column and row, unless ``trace`` has the ``required`` columns, at
    least one row, text policy names, numbers in its numeric columns and a positive, growing
    count of requests served within each policy's run."""
    check_columns(trace, ("policy", *required), "the trace")
    if trace.empty:
        raise InputValueError("the trace has no rows: no policy served a request.")
    names = trace["policy"]
    bad = names.isna() | ~names.map(lambda value: isinstance(value, str))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputValueError(
            f"column 'policy' of the trace must hold names; row {row} is {shown(names.iloc[row])}."
        )
    for column in (name for name in NUMERIC_COLUMNS if name in trace.columns):
        if trace[column].dtype.kind not in "iuf":
            raise InputValueError(
                f"column {column!r} of the trace must hold numbers; it holds {trace[column].dtype}."
            )
    if "requests" in trace.columns:
        keys = ["policy", "run"] if "run" in trace.columns else ["policy"]
        order = [*keys, "step"] if "step" in trace.columns else keys
        ordered = trace.sort_values(order, kind="stable")
        before = ordered.groupby(keys, sort=False)["requests"].shift(fill_value=0)
        steps = ordered["requests"] - before
        bad = ~(steps > 0) | ~np.isfinite(ordered["requests"])
        if bad.any():
            row = bad.index[int(np.argmax(bad.to_numpy()))]
            raise InputValueError(
                f"column 'requests' of the trace must count requests served, growing within "
                f"each policy's run; row {row} is {trace['requests'].loc[row]}."
            )
