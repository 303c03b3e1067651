"""The item table of a log, stored once beside it.

Its file is named after the log and the table's content, ``<log name>.items-<fingerprint>.
parquet`` (the log's metadata names it), so replacing a log never replaces the item table the
old log still points at until the new log is in place.

Layout (schema version 2): one row per item, sorted by id; ``id`` (int64), ``features``
(fixed-size list of ``n_item_features`` float64; absent when items have no features),
``valid_from`` and ``valid_until`` (int64: the item may be a candidate at times
``valid_from <= t < valid_until``). The file metadata holds ``bandits.schema_version``,
``bandits.kind = items`` and ``bandits.n_item_features``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from bandits.items import ItemTable
from bandits.logs.arrow import (
    check_schema,
    columns_without_nulls,
    fixed_list,
    fixed_list_type,
    from_fixed,
    open_parquet,
)
from bandits.logs.layout import metadata_int
from bandits.validation import InputValueError

VERSION = 2
FINGERPRINT_LENGTH = 16
MAX_ITEMS = 20_000_000
"""Most items an item table may hold (a read keeps them all in memory)."""
MAX_ITEM_TABLE_BYTES = 4 * 2**30
"""Largest item table a read may unpack (items x (3 + features) x 8 bytes)."""
ITEM_TABLE_PATTERN = re.compile(r"^(?P<stem>.+)\.items-[0-9a-f]{16}\.parquet$")


def item_table_name(log_path: str | os.PathLike[str], fingerprint: str) -> str:
    """The file name of a log's item table: ``x.parquet`` -> ``x.items-<fingerprint>.parquet``."""
    stem = Path(log_path).name.removesuffix(".parquet")
    return f"{stem}.items-{fingerprint[:FINGERPRINT_LENGTH]}.parquet"


def is_item_table_name(name: str, log_path: str | os.PathLike[str] | None = None) -> bool:
    """True if ``name`` is an item table's file name (of the log at ``log_path``, if given)."""
    match = ITEM_TABLE_PATTERN.match(name)
    if match is None:
        return False
    return log_path is None or match.group("stem") == Path(log_path).name.removesuffix(".parquet")


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
    parquet = open_parquet(Path(path), "item table")
    metadata = parquet.metadata.metadata or {}
    rows = parquet.metadata.num_rows
    if rows > MAX_ITEMS:
        raise InputValueError(
            f"{path} holds {rows:,} items, more than an item table may ({MAX_ITEMS:,})."
        )
    if metadata.get(b"bandits.kind") != b"items":
        raise InputValueError(f"{path} is not a bandits item table (no 'bandits.kind = items').")
    try:
        width = metadata_int(metadata, "n_item_features")
        unpacked = rows * (3 + width) * 8
        if unpacked > MAX_ITEM_TABLE_BYTES:
            raise InputValueError(
                f"{rows:,} items of {width:,} features would take {unpacked / 2**30:,.1f} GiB "
                f"in memory, more than an item table may ({MAX_ITEM_TABLE_BYTES / 2**30:g} GiB)"
            )
        expected = {"id": pa.int64(), "valid_from": pa.int64(), "valid_until": pa.int64()}
        if width:
            expected["features"] = fixed_list_type(pa.float64(), width)
        check_schema(parquet.schema_arrow, expected, "the item table")
        table = parquet.read(columns=list(expected))
        n = table.num_rows
        columns = columns_without_nulls(table, expected)
        features = (
            from_fixed(columns["features"], np.float64, (n, width)) if width else np.zeros((n, 0))
        )
        return ItemTable(
            from_fixed(columns["id"], np.int64, (n,)),
            features,
            from_fixed(columns["valid_from"], np.int64, (n,)),
            from_fixed(columns["valid_until"], np.int64, (n,)),
        )
    except InputValueError as error:
        raise InputValueError(f"{path}: {error}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        if isinstance(error, PermissionError):
            raise
        detail = " ".join(str(error).split())
        raise InputValueError(f"{path}: cannot be read: {detail}") from None
