"""The item table of a log, stored once beside it as ``<log name>.items.parquet``.

Layout (schema version 2): one row per item, sorted by id; ``id`` (int64), ``features``
(fixed-size list of ``n_item_features`` float64; absent when items have no features),
``valid_from`` and ``valid_until`` (int64: the item may be a candidate at times
``valid_from <= t < valid_until``). The file metadata holds ``bandits.schema_version``,
``bandits.kind = items`` and ``bandits.n_item_features``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bandits.items import ItemTable
from bandits.logs.arrow import fixed_list, fixed_list_type, from_fixed, no_nulls
from bandits.validation import InputValueError

ITEMS_SUFFIX = ".items.parquet"
VERSION = 2


def item_table_path(log_path: str | os.PathLike[str]) -> Path:
    """Where the item table of the log at ``log_path`` lives: ``x.parquet`` ->
    ``x.items.parquet``."""
    path = Path(log_path)
    stem = path.name.removesuffix(".parquet")
    return path.with_name(stem + ITEMS_SUFFIX)


def item_table_arrow(items: ItemTable) -> pa.Table:
    """The item table as an Arrow table in the layout above."""
    columns = {"id": pa.array(items.ids)}
    if items.n_item_features:
        columns["features"] = fixed_list(items.features)
    columns["valid_from"] = pa.array(items.valid_from)
    columns["valid_until"] = pa.array(items.valid_until)
    metadata = {
        "bandits.schema_version": str(VERSION),
        "bandits.kind": "items",
        "bandits.n_item_features": str(items.n_item_features),
    }
    return pa.table(columns).replace_schema_metadata(metadata)


def read_item_table(path: str | os.PathLike[str]) -> ItemTable:
    """Read and check an item table written beside a log."""
    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"The item table {path} is missing.") from None
    except (pa.ArrowException, OSError) as error:
        raise InputValueError(f"{path} is not a readable Parquet file: {error}") from None
    metadata = parquet.metadata.metadata or {}
    if metadata.get(b"bandits.kind") != b"items":
        raise InputValueError(f"{path} is not a bandits item table (no 'bandits.kind = items').")
    raw = metadata.get(b"bandits.n_item_features", b"")
    if not raw.isdigit():
        raise InputValueError(
            f"{path}: the metadata key 'bandits.n_item_features' must be a whole number; "
            f"got {raw!r}."
        )
    width = int(raw)
    expected = {"id": pa.int64(), "valid_from": pa.int64(), "valid_until": pa.int64()}
    if width:
        expected["features"] = fixed_list_type(pa.float64(), width)
    schema = parquet.schema_arrow
    for name, kind in expected.items():
        index = schema.get_field_index(name)
        if index < 0:
            raise InputValueError(f"{path}: the item table lacks the column {name!r}.")
        if schema.field(index).type != kind:
            raise InputValueError(
                f"{path}: column {name!r} of the item table must be {kind}; the file has "
                f"{schema.field(index).type}."
            )
    table = parquet.read(columns=list(expected))
    n = table.num_rows
    columns = {name: no_nulls(table.column(name).combine_chunks(), name) for name in expected}
    features = (
        from_fixed(columns["features"], np.float64, (n, width)) if width else np.zeros((n, 0))
    )
    try:
        return ItemTable(
            from_fixed(columns["id"], np.int64, (n,)),
            features,
            from_fixed(columns["valid_from"], np.int64, (n,)),
            from_fixed(columns["valid_until"], np.int64, (n,)),
        )
    except InputValueError as error:
        raise InputValueError(f"{path}: {error}") from None
