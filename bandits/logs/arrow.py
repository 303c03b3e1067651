"""Numpy arrays to Arrow list columns and back, with errors that name the column and row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bandits.logged import MAX_NAME_CHARACTERS
from bandits.validation import InputValueError, check_regular_file, shown

LIST_LIMIT = 2**31 - 1
"""Most entries a list column of one batch may hold (int32 offsets)."""


MAX_METADATA_BYTES = 1 << 20
"""Largest key-value metadata a log or item table may carry (its Arrow schema included)."""


def open_parquet(
    path: Path, what: str, *, text_columns: Sequence[str] = (), **options: Any
) -> pq.ParquetFile:
    """Open a Parquet file written by this toolkit for reading, with its pages' checksums
    verified; a missing file, a folder, a pipe, a file that is not Parquet or one with
    oversized metadata gives an error naming it (``what``: "log file", "item table").

    The ``text_columns`` the file has as strings are read dictionary-encoded, so a name
    repeated on every row is decoded once (see :func:`names_column`).
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputValueError(
            f"{shown(path)} is not valid UTF-8; name the {what} in UTF-8."
        ) from None
    if not path.exists():
        raise FileNotFoundError(f"No {what} at {path}.")
    check_regular_file(path, what)
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True, **options)
    except FileNotFoundError:
        raise FileNotFoundError(f"No {what} at {path}.") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        if isinstance(error, PermissionError):
            raise
        detail = " ".join(str(error).split())
        raise InputValueError(f"{path} is not a readable Parquet file: {detail}") from None
    footer = parquet.metadata
    rows = sum(footer.row_group(i).num_rows for i in range(footer.num_row_groups))
    if rows != footer.num_rows:
        raise InputValueError(
            f"{path}: its footer is inconsistent (the file says {footer.num_rows} rows, its "
            f"row groups {rows}); the file is damaged."
        )
    metadata = footer.metadata or {}
    size = sum(len(key) + len(value) for key, value in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise InputValueError(
            f"{path}: its metadata takes {size:,} bytes, more than a {what}'s "
            f"{MAX_METADATA_BYTES:,}; it was not written by bandits-recommender."
        )
    schema = parquet.schema_arrow
    text = [
        name
        for name in text_columns
        if schema.names.count(name) == 1 and pa.types.is_string(schema.field(name).type)
    ]
    if text:  # the footer is parsed once: the second reader shares it
        parquet = pq.ParquetFile(
            path,
            metadata=footer,
            read_dictionary=text,
            page_checksum_verification=True,
            **options,
        )
    return parquet


def names_column(column: pa.Array | pa.ChunkedArray, name: str) -> NDArray[np.str_]:
    """A text column (plain or dictionary-encoded) as a numpy string array, shape (n,); a
    missing name or one longer than ``MAX_NAME_CHARACTERS`` is an error naming the row."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts: list[NDArray[np.str_]] = []
    first = 0
    for chunk in chunks:
        chunk = no_nulls(chunk, name)
        if pa.types.is_dictionary(chunk.type):  # keep the names used, each once
            codes = np.asarray(chunk.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
            used, rows = np.unique(codes, return_inverse=True)
            values = chunk.dictionary.take(pa.array(used, type=pa.int64()))
            missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False))[rows]
            if missing.any():
                row = first + int(np.argmax(missing))
                raise InputValueError(f"column {name!r} must not hold nulls; row {row} is null.")
        else:
            values, rows = chunk, np.arange(len(chunk))
        long = np.asarray(pc.greater(pc.utf8_length(values), MAX_NAME_CHARACTERS))
        if long.size and long[rows].any():
            row = first + int(np.argmax(long[rows]))
            raise InputValueError(
                f"column {name!r} holds names of at most {MAX_NAME_CHARACTERS:,} characters; "
                f"row {row} has a longer one."
            )
        parts.append(np.asarray(values.to_pylist(), dtype=np.str_)[rows])
        first += len(chunk)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.str_)


def name_bytes(column: pa.Array) -> int:
    """Bytes a row of ``column`` (text, maybe dictionary-encoded) takes as a numpy string:
    4 per character of its longest name."""
    values = column.dictionary if pa.types.is_dictionary(column.type) else column
    longest = pc.max(pc.utf8_length(values)).as_py() if len(values) else 0
    return 4 * min(int(longest or 0), MAX_NAME_CHARACTERS + 1)


def list_column(values: NDArray[Any], lengths: NDArray[np.int64], name: str) -> pa.Array:
    """A list column: row ``i`` holds the next ``lengths[i]`` entries of ``values`` (an Arrow
    array, or a numpy array converted here)."""
    ends = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ends[1:])
    if ends[-1] > LIST_LIMIT:
        raise InputValueError(
            f"A batch holds {ends[-1]} entries of column {name!r}, more than a list column's "
            f"{LIST_LIMIT}; write it in smaller batches."
        )
    child = values if isinstance(values, pa.Array) else pa.array(np.ascontiguousarray(values))
    return pa.ListArray.from_arrays(pa.array(ends.astype(np.int32)), child)


def fixed_list(array: NDArray[Any]) -> pa.Array:
    """A (n, width, ...) array as a fixed-size list column (nested for more axes)."""
    if array.ndim == 1:
        return pa.array(np.ascontiguousarray(array))
    inner = fixed_list(array.reshape(-1, *array.shape[2:]))
    return pa.FixedSizeListArray.from_arrays(inner, array.shape[1])


def fixed_list_type(value_type: pa.DataType, *widths: int) -> pa.DataType:
    """``fixed_size_list<...>[w]`` nested once per width, outermost first."""
    for width in reversed(widths):
        value_type = pa.list_(value_type, width)
    return value_type


def check_schema(
    schema: pa.Schema,
    expected: Mapping[str, pa.DataType],
    what: str,
    *,
    extra: Iterable[str] = (),
) -> None:
    """Raise unless ``schema`` has each expected column with exactly its type, no column twice
    and no other column than those and ``extra``."""
    names = list(schema.names)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputValueError(f"{what} has the column(s) {repeated} more than once.")
    for name, kind in expected.items():
        index = schema.get_field_index(name)
        if index < 0:
            raise InputValueError(f"{what} lacks the column {name!r}.")
        found = schema.field(index).type
        if pa.types.is_dictionary(found) and pa.types.is_string(found.value_type):
            found = found.value_type  # text read dictionary-encoded (open_parquet)
        if found != kind:
            raise InputValueError(f"column {name!r} must be {kind}; the file has {found}.")
    unknown = sorted(set(names) - set(expected) - set(extra))
    if unknown:
        raise InputValueError(f"{what} has column(s) {unknown} that its schema does not define.")


def no_nulls(array: pa.Array, name: str) -> pa.Array:
    """``array`` if it and its nested values hold no null; else raise naming the row."""
    level: pa.Array = array
    while True:
        if level.null_count:
            row = int(np.flatnonzero(level.is_null().to_numpy(zero_copy_only=False))[0])
            where = f"row {row}" if level is array else "a nested value"
            raise InputValueError(f"column {name!r} must not hold nulls; {where} is null.")
        if not _is_list(level.type):
            return array
        level = level.flatten()


def columns_without_nulls(table: pa.Table, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The columns ``names`` (default all) of ``table``, each as one array, after
    :func:`no_nulls`."""
    chosen = table.column_names if names is None else list(names)
    return {name: no_nulls(table.column(name).combine_chunks(), name) for name in chosen}


def from_fixed(array: pa.Array, dtype: type, shape: tuple[int, ...]) -> NDArray[Any]:
    """A fixed-size list column (possibly nested) as an array of ``shape`` (rows first)."""
    values = array
    while pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype).reshape(shape)


def lengths(array: pa.Array) -> NDArray[np.int64]:
    """Entries per row of a list column (0 for a null row, which the readers refuse later)."""
    counts = pc.fill_null(pc.list_value_length(array), 0)
    return np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)


def scatter_rows(
    flat: NDArray[Any], counts: NDArray[np.int64], width: int, fill: float
) -> NDArray[Any]:
    """Rows of ``counts[i]`` consecutive entries of ``flat`` (n_entries, *inner), padded with
    ``fill`` to shape (n_rows, width, *inner)."""
    padded = np.full((len(counts), width, *flat.shape[1:]), fill, dtype=flat.dtype)
    padded[np.arange(width) < counts[:, None]] = flat
    return padded


def from_ragged(
    array: pa.Array, dtype: type, fill: float, max_width: int, name: str, unit: str
) -> tuple[NDArray[np.int64], NDArray[Any]]:
    """A list column of varying lengths as (lengths, values padded with ``fill``).

    The padded width is the longest row's, which must not exceed ``max_width`` (from the
    file's metadata): metadata never sets an allocation on its own.
    """
    counts = lengths(array)
    longest = int(counts.max(initial=0))
    if longest > max_width:
        row = int(np.argmax(counts))
        raise InputValueError(
            f"column {name!r} has {longest} {unit} at row {row}, more than the {max_width} the "
            f"file's metadata declares."
        )
    flat: NDArray[Any] = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=dtype)
    return counts, scatter_rows(flat, counts, longest, fill)


def _is_list(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
    )
