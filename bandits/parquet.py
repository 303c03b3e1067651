"""Read and write :class:`LoggedBandit` tables as Parquet files (pyarrow), schema version 1.

Layout: one row per request. Scalars are ``request_id``, ``time``, ``user_id`` (int64),
``policy`` (string) and ``slate_probability`` (float64). Per-row vectors are Arrow lists:
``context`` (n_context_features), ``candidate_ids`` (that row's candidates),
``candidate_features`` (a list per candidate of n_item_features values), ``history``,
``slate``, ``position_probability`` and ``rewards`` (slate_size each), and one
``signal.<name>`` column per named feedback signal. The file metadata holds
``bandits.schema_version`` plus the slate size and feature widths, so an empty table reads back
with its shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bandits._checks import integral_mask
from bandits.atomic import atomic_path
from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation

SCHEMA_VERSION = 1
VERSION_KEY = b"bandits.schema_version"
SIGNAL_PREFIX = "signal."


def write_log(log: LoggedBandit, path: str | os.PathLike[str]) -> Path:
    """Write ``log`` to ``path`` atomically (temporary file, then rename)."""
    table = log_to_arrow(log)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return Path(path)


def read_log(path: str | os.PathLike[str]) -> LoggedBandit:
    """Read a whole Parquet log, checking its schema version and every row."""
    parquet = _open(path)
    return _with_path(path, lambda: arrow_to_log(parquet.read(), parquet.schema_arrow.metadata))


def iter_log_batches(
    path: str | os.PathLike[str], batch_size: int = 65_536
) -> Iterator[LoggedBandit]:
    """Stream a Parquet log as tables of at most ``batch_size`` rows (for logs beyond memory)."""
    parquet = _open(path)
    metadata = parquet.schema_arrow.metadata
    for batch in parquet.iter_batches(batch_size=batch_size):
        yield _with_path(
            path, lambda batch=batch: arrow_to_log(pa.Table.from_batches([batch]), metadata)
        )


def log_to_arrow(log: LoggedBandit) -> pa.Table:
    """The table as an Arrow table with the version-1 schema and metadata."""
    obs, decision, feedback = log.observation, log.decision, log.feedback
    mask = obs.candidate_mask
    history_mask = obs.history != PAD_ID
    n_item = obs.n_item_features
    flat_features = obs.candidate_features[mask].reshape(-1)
    per_candidate = _list_array(flat_features, np.full(int(mask.sum()), n_item))
    columns = {
        "request_id": pa.array(obs.request_ids),
        "time": pa.array(obs.times),
        "user_id": pa.array(obs.user_ids),
        "policy": pa.array(log.policy_names.astype(object), type=pa.string()),
        "context": _fixed_list(obs.context),
        "candidate_ids": _list_array(obs.candidate_ids[mask], obs.n_candidates),
        "candidate_features": pa.ListArray.from_arrays(_offsets(obs.n_candidates), per_candidate),
        "history": _list_array(obs.history[history_mask], history_mask.sum(axis=1)),
        "slate": _fixed_list(decision.slates),
        "slate_probability": pa.array(decision.slate_probability),
        "position_probability": _fixed_list(decision.position_probability),
        "rewards": _fixed_list(feedback.rewards),
    }
    for name, values in feedback.signals.items():
        columns[SIGNAL_PREFIX + name] = _fixed_list(values)
    metadata = {
        VERSION_KEY: str(SCHEMA_VERSION).encode(),
        b"bandits.slate_size": str(obs.slate_size).encode(),
        b"bandits.n_context_features": str(obs.n_context_features).encode(),
        b"bandits.n_item_features": str(n_item).encode(),
        b"bandits.history_length": str(obs.history.shape[1]).encode(),
        b"bandits.max_candidates": str(obs.max_candidates).encode(),
    }
    return pa.table(columns).replace_schema_metadata(metadata)


def arrow_to_log(table: pa.Table, metadata: dict[bytes, bytes] | None) -> LoggedBandit:
    """Rebuild and validate a :class:`LoggedBandit` from an Arrow table in the version-1 layout."""
    metadata = metadata or {}
    _check_version(metadata)
    sizes = {key: _metadata_int(metadata, key) for key in _SIZE_KEYS}
    missing = [name for name in _REQUIRED if name not in table.column_names]
    if missing:
        raise ValueError(f"the log lacks the column(s) {missing}.")
    n = table.num_rows
    column = {name: _no_nulls(table, name) for name in table.column_names}
    for name in _INTEGER_COLUMNS:
        _require_integers(column[name], name)
    n_candidates, candidate_ids = _ragged(
        column["candidate_ids"], "candidate_ids", np.int64, PAD_ID, sizes["max_candidates"]
    )
    _, history = _ragged(column["history"], "history", np.int64, PAD_ID, sizes["history_length"])
    features = _candidate_features(
        column["candidate_features"], n_candidates, sizes["n_item_features"], candidate_ids.shape[1]
    )
    k = sizes["slate_size"]
    observation = SlateObservation(
        context=_fixed(column["context"], "context", sizes["n_context_features"], np.float64),
        candidate_ids=candidate_ids,
        candidate_features=features,
        n_candidates=n_candidates,
        slate_size=k,
        history=history,
        request_ids=_scalar(column["request_id"], np.int64),
        user_ids=_scalar(column["user_id"], np.int64),
        times=_scalar(column["time"], np.int64),
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
    names = np.asarray(column["policy"].to_pylist() if n else [], dtype=np.str_)
    return LoggedBandit(observation, decision, feedback, names)


_SIZE_KEYS = (
    "slate_size",
    "n_context_features",
    "n_item_features",
    "history_length",
    "max_candidates",
)
_INTEGER_COLUMNS = ("request_id", "time", "user_id", "candidate_ids", "history", "slate")
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


def _open(path: str | os.PathLike[str]) -> pq.ParquetFile:
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder; give the path of a Parquet log file.")
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"No log file at {path}.") from None
    except pa.ArrowInvalid as error:
        raise ValueError(f"{path} is not a readable Parquet file: {error}") from None


def _with_path(path, build):
    try:
        return build()
    except (ValueError, TypeError) as error:
        raise type(error)(f"{path}: {error}") from None


def _check_version(metadata: dict[bytes, bytes]) -> None:
    if VERSION_KEY not in metadata:
        raise ValueError(
            f"not a bandits log: its metadata has no {VERSION_KEY.decode()!r} "
            f"(write logs with bandits.parquet.write_log)."
        )
    version = metadata[VERSION_KEY].decode()
    if version != str(SCHEMA_VERSION):
        raise ValueError(
            f"schema version {version!r} is unknown; this version of bandits-recommender "
            f"reads schema version {SCHEMA_VERSION}."
        )


def _metadata_int(metadata: dict[bytes, bytes], key: str) -> int:
    raw = metadata.get(f"bandits.{key}".encode())
    if raw is None or not raw.decode().isdigit():
        raise ValueError(f"the metadata key 'bandits.{key}' must be a whole number; got {raw!r}.")
    return int(raw.decode())


def _offsets(lengths: NDArray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.array(offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets)


def _list_array(values: NDArray, lengths: NDArray) -> pa.Array:
    offsets = _offsets(lengths)
    values = pa.array(np.ascontiguousarray(values))
    if offsets.type == pa.int64():
        return pa.LargeListArray.from_arrays(offsets, values)
    return pa.ListArray.from_arrays(offsets, values)


def _fixed_list(array: NDArray) -> pa.Array:
    """A (n, width) array as a list column of ``width`` values per row."""
    return _list_array(array.reshape(-1), np.full(array.shape[0], array.shape[1]))


def _no_nulls(table: pa.Table, name: str) -> pa.Array:
    array = table.column(name).combine_chunks()
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"column {name!r} must not be null; row {row} is null.")
    return array


def _require_integers(array: pa.Array, name: str) -> None:
    """Raise unless the column (or its list values) holds whole numbers, naming the row."""
    nested = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    values = pc.list_flatten(array) if nested else array
    if pa.types.is_integer(values.type):
        return
    try:
        numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (TypeError, ValueError, pa.ArrowException):
        raise ValueError(f"column {name!r} must hold integers; it holds {values.type}.") from None
    bad = np.flatnonzero(~integral_mask(numbers))
    if bad.size:
        row = _row_of(bad[0], _lengths(array))[0] if nested else int(bad[0])
        raise ValueError(
            f"column {name!r} must hold integers; row {row} has {numbers[bad[0]].item()!r}."
        )


def _row_of(flat_index: int, lengths: NDArray[np.int64]) -> tuple[int, int]:
    """(row, entry within the row) of entry ``flat_index`` of a flattened list column."""
    ends = np.cumsum(lengths)
    row = int(np.searchsorted(ends, flat_index, side="right"))
    return row, int(flat_index - (ends[row] - lengths[row]))


def _scalar(array: pa.Array, dtype: type) -> NDArray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def _lengths(array: pa.Array) -> NDArray[np.int64]:
    return np.asarray(pc.list_value_length(array).to_numpy(zero_copy_only=False), dtype=np.int64)


def _flat(array: pa.Array, name: str) -> pa.Array:
    values = pc.list_flatten(array)
    if values.null_count:
        raise ValueError(f"column {name!r} must not hold null values.")
    return values


def _fixed(array: pa.Array, name: str, width: int, dtype: type) -> NDArray:
    """A list column with ``width`` values on every row, as an (n, width) array."""
    lengths = _lengths(array)
    _check_lengths(
        lengths,
        width,
        f"column {name!r} must have {width} values on every row (from the file's metadata)",
        "values",
    )
    flat = _flat(array, name).to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=dtype).reshape(len(lengths), width)


def _check_lengths(lengths: NDArray, expected: NDArray | int, rule: str, unit: str) -> None:
    """Raise ``rule`` naming the first row whose list length differs from ``expected``."""
    wrong = lengths != expected
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        want = np.broadcast_to(expected, lengths.shape)[row]
        raise ValueError(f"{rule}; row {row} has {lengths[row]} {unit}, not {want}.")


def _ragged(
    array: pa.Array, name: str, dtype: type, fill: float, min_width: int = 0
) -> tuple[NDArray[np.int64], NDArray]:
    """A list column of varying lengths, padded with ``fill`` to (n, max length)."""
    lengths = _lengths(array)
    flat = np.asarray(_flat(array, name).to_numpy(zero_copy_only=False), dtype=dtype)
    width = max(int(lengths.max(initial=0)), min_width)
    padded = np.full((len(lengths), width), fill, dtype=dtype)
    padded[np.arange(width) < lengths[:, None]] = flat
    return lengths, padded


def _candidate_features(array: pa.Array, n_candidates: NDArray, n_item: int, width: int) -> NDArray:
    lengths = _lengths(array)
    _check_lengths(
        lengths,
        n_candidates,
        "column 'candidate_features' must have one entry per candidate (n_candidates)",
        "entries",
    )
    per_candidate = _flat(array, "candidate_features")
    inner = _lengths(per_candidate)
    wrong = np.flatnonzero(inner != n_item)
    if wrong.size:
        row, candidate = _row_of(wrong[0], lengths)
        raise ValueError(
            f"column 'candidate_features' must have {n_item} values per candidate (from the "
            f"file's metadata); row {row}, candidate {candidate} has {inner[wrong[0]]}."
        )
    values = _flat(per_candidate, "candidate_features").to_numpy(zero_copy_only=False)
    flat = np.asarray(values, dtype=np.float64).reshape(-1, n_item)
    padded = np.zeros((len(lengths), width, n_item))
    padded[np.arange(width) < n_candidates[:, None]] = flat
    return padded
