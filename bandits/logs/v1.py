"""Schema version 1: every row repeats the features of all its candidates.

Version 1 was the first layout: one row per request with ``candidate_features`` (a list of
n_item_features values per candidate) beside ``candidate_ids``, and plain (variable) lists
whose widths come from the metadata. Reading converts each batch on the fly: the candidates'
features become the batch's item table (an item must have the same features wherever it
appears). :func:`write_log_v1` writes this layout, for compatibility tests and for measuring
the difference (``benchmarks/bench_log_versions.py``); new logs are version 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs.arrow import (
    columns_without_nulls,
    from_ragged,
    lengths,
    list_column,
    names_column,
    scatter_rows,
)
from bandits.logs.atomic import atomic_path
from bandits.logs.layout import SIGNAL_PREFIX
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputValueError, integral_mask

_INTEGER_COLUMNS = ("request_id", "time", "user_id", "candidate_ids", "history", "slate")
_NESTING = {
    "request_id": 0,
    "time": 0,
    "user_id": 0,
    "slate_probability": 0,
    "context": 1,
    "candidate_ids": 1,
    "history": 1,
    "slate": 1,
    "position_probability": 1,
    "rewards": 1,
    "candidate_features": 2,
}
"""List levels of each version-1 column."""
_REQUIRED = (
    "request_id",
    "time",
    "user_id",
    "policy",
    "context",
    "candidate_ids",
    "candidate_features",
    "history",
    "slate",
    "slate_probability",
    "position_probability",
    "rewards",
)


def write_log_v1(
    batches: Iterable[LoggedBandit], path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write tables in the version-1 layout, batch by batch, atomically."""
    writer: pq.ParquetWriter | None = None
    with atomic_path(path, replace=overwrite) as temporary:
        try:
            metadata: dict[bytes, bytes] = {}
            for batch in batches:
                table = log_to_arrow_v1(batch)
                if writer is None:
                    metadata = table.schema.metadata
                    writer = pq.ParquetWriter(temporary, table.schema)
                writer.write_table(table)
                for key in (b"bandits.max_candidates", b"bandits.history_length"):
                    widest = max(int(metadata[key]), int(table.schema.metadata[key]))
                    metadata[key] = str(widest).encode()
            if writer is None:
                raise InputValueError(f"Nothing to write to {path}: no batches.")
            writer.add_key_value_metadata(metadata)
        finally:
            if writer is not None:
                writer.close()
    return Path(path)


def log_to_arrow_v1(log: LoggedBandit) -> pa.Table:
    """The table as an Arrow table with the version-1 schema and metadata."""
    obs, decision, feedback = log.observation, log.decision, log.feedback
    mask = obs.candidate_mask
    history_mask = obs.history != PAD_ID
    n_item = obs.n_item_features
    flat_features = obs.candidate_features[mask].reshape(-1)
    per_candidate = _list(flat_features, np.full(int(mask.sum()), n_item))
    columns = {
        "request_id": pa.array(obs.request_ids),
        "time": pa.array(obs.times),
        "user_id": pa.array(obs.user_ids),
        "policy": pa.array(log.policy_names.astype(object), type=pa.string()),
        "context": _rows(obs.context),
        "candidate_ids": _list(obs.candidate_ids[mask], obs.n_candidates),
        "candidate_features": list_column(per_candidate, obs.n_candidates, "candidate_features"),
        "history": _list(obs.history[history_mask], history_mask.sum(axis=1)),
        "slate": _rows(decision.slates),
        "slate_probability": pa.array(decision.slate_probability),
        "position_probability": _rows(decision.position_probability),
        "rewards": _rows(feedback.rewards),
    }
    for name, values in feedback.signals.items():
        columns[SIGNAL_PREFIX + name] = _rows(values)
    metadata = {
        b"bandits.schema_version": b"1",
        b"bandits.slate_size": str(obs.slate_size).encode(),
        b"bandits.n_context_features": str(obs.n_context_features).encode(),
        b"bandits.n_item_features": str(n_item).encode(),
        b"bandits.history_length": str(obs.history.shape[1]).encode(),
        b"bandits.max_candidates": str(obs.max_candidates).encode(),
    }
    return pa.table(columns).replace_schema_metadata(metadata)


def check_schema(schema: pa.Schema) -> None:
    """Raise unless every version-1 column is there with its nesting (scalars, lists of
    numbers, lists of lists for ``candidate_features``) and the policy is text; numbers may be
    of any integer or float type (version 1 did not fix them), checked again per batch."""
    missing = [name for name in _REQUIRED if name not in schema.names]
    if missing:
        raise InputValueError(f"the log lacks the column(s) {missing}.")
    for field in schema:
        if field.name == "policy":
            kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                raise InputValueError(f"column 'policy' must hold text; it holds {field.type}.")
            continue
        depth = _NESTING.get(field.name, 1 if field.name.startswith(SIGNAL_PREFIX) else None)
        if depth is None:
            continue  # a column version 1 did not define: ignored
        found, value = 0, field.type
        while pa.types.is_list(value) or pa.types.is_large_list(value):
            found, value = found + 1, value.value_type
        if found != depth or not (pa.types.is_integer(value) or pa.types.is_floating(value)):
            shape = ["a number", "a list of numbers", "a list of lists of numbers"][depth]
            raise InputValueError(
                f"column {field.name!r} must hold {shape} per row; it holds {field.type}."
            )


def arrow_to_log(table: pa.Table, sizes: dict[str, int]) -> LoggedBandit:
    """Rebuild and validate a version-1 batch (its schema checked by :func:`check_schema`);
    its candidates' features become its items."""
    column = columns_without_nulls(table)
    for name in _INTEGER_COLUMNS:
        _require_integers(column[name], name)
    n_candidates, candidate_ids = from_ragged(
        column["candidate_ids"],
        np.int64,
        PAD_ID,
        sizes["max_candidates"],
        "candidate_ids",
        "candidates",
    )
    _, history = from_ragged(
        column["history"], np.int64, PAD_ID, sizes["history_length"], "history", "entries"
    )
    features = _candidate_features(
        column["candidate_features"], n_candidates, sizes["n_item_features"], candidate_ids.shape[1]
    )
    k = sizes["slate_size"]
    mask = np.arange(candidate_ids.shape[1]) < n_candidates[:, None]
    valid = mask & (candidate_ids >= 0)
    items = ItemTable.from_candidates(candidate_ids, features, valid, "column 'candidate_features'")
    observation = SlateObservation(
        context=_fixed(column["context"], "context", sizes["n_context_features"], np.float64),
        candidate_ids=candidate_ids,
        n_candidates=n_candidates,
        slate_size=k,
        history=history,
        request_ids=_scalar(column["request_id"], np.int64),
        user_ids=_scalar(column["user_id"], np.int64),
        times=_scalar(column["time"], np.int64),
        items=items,
    )
    decision = SlateDecision(
        _fixed(column["slate"], "slate", k, np.int64),
        _scalar(column["slate_probability"], np.float64),
        _fixed(column["position_probability"], "position_probability", k, np.float64),
    )
    signals = {
        name.removeprefix(SIGNAL_PREFIX): _fixed(column[name], name, k, np.float64)
        for name in table.column_names
        if name.startswith(SIGNAL_PREFIX)
    }
    feedback = SlateFeedback(_fixed(column["rewards"], "rewards", k, np.float64), signals)
    return LoggedBandit(observation, decision, feedback, names_column(column["policy"], "policy"))


def _list(values: NDArray[Any], lengths_: NDArray[np.int64]) -> pa.Array:
    return list_column(values, lengths_, "v1 column")


def _rows(array: NDArray[Any]) -> pa.Array:
    """A (n, width) array as a list column of ``width`` values per row."""
    return _list(array.reshape(-1), np.full(array.shape[0], array.shape[1]))


def _require_integers(array: pa.Array, name: str) -> None:
    """Raise unless the column (or its list values) holds whole numbers in int64's range."""
    nested = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    values = pc.list_flatten(array) if nested else array
    if pa.types.is_signed_integer(values.type):
        return
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise InputValueError(f"column {name!r} must hold integers; it holds {values.type}.")
    try:
        numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (TypeError, ValueError, pa.ArrowException):
        raise InputValueError(
            f"column {name!r} must hold integers; it holds {values.type}."
        ) from None
    bad = np.flatnonzero(~integral_mask(numbers) | (np.abs(numbers) >= 2.0**63))
    if bad.size:
        row = _row_of(int(bad[0]), lengths(array))[0] if nested else int(bad[0])
        raise InputValueError(
            f"column {name!r} must hold integers within int64; row {row} has "
            f"{numbers[bad[0]].item()!r}."
        )


def _row_of(flat_index: int, lengths_: NDArray[np.int64]) -> tuple[int, int]:
    """(row, entry within the row) of entry ``flat_index`` of a flattened list column."""
    ends = np.cumsum(lengths_)
    row = int(np.searchsorted(ends, flat_index, side="right"))
    return row, int(flat_index - (ends[row] - lengths_[row]))


def _scalar(array: pa.Array, dtype: type) -> NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def _fixed(array: pa.Array, name: str, width: int, dtype: type) -> NDArray[Any]:
    """A list column with ``width`` values on every row, as an (n, width) array."""
    counts = lengths(array)
    _check_lengths(
        counts,
        width,
        f"column {name!r} must have {width} values on every row (from the file's metadata)",
        "values",
    )
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=dtype).reshape(len(counts), width)


def _check_lengths(
    counts: NDArray[np.int64], expected: NDArray[np.int64] | int, rule: str, unit: str
) -> None:
    """Raise ``rule`` naming the first row whose list length differs from ``expected``."""
    wrong = counts != expected
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        want = np.broadcast_to(expected, counts.shape)[row]
        raise InputValueError(f"{rule}; row {row} has {counts[row]} {unit}, not {want}.")


def _candidate_features(
    array: pa.Array, n_candidates: NDArray[np.int64], n_item: int, width: int
) -> NDArray[np.float64]:
    counts = lengths(array)
    _check_lengths(
        counts,
        n_candidates,
        "column 'candidate_features' must have one entry per candidate (n_candidates)",
        "entries",
    )
    per_candidate = array.flatten()
    inner = lengths(per_candidate)
    wrong = np.flatnonzero(inner != n_item)
    if wrong.size:
        row, candidate = _row_of(int(wrong[0]), counts)
        raise InputValueError(
            f"column 'candidate_features' must have {n_item} values per candidate (from the "
            f"file's metadata); row {row}, candidate {candidate} has {inner[wrong[0]]}."
        )
    values = per_candidate.flatten().to_numpy(zero_copy_only=False)
    flat = np.asarray(values, dtype=np.float64).reshape(len(inner), n_item)
    return scatter_rows(flat, n_candidates, width, 0.0)
