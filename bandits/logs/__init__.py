"""Logs on disk: the Parquet layout (schema version 2, items stored once), streaming reads and
writes, and conversion of version-1 files. Importers of other formats will live here too."""

from bandits.logs.items import read_item_table
from bandits.logs.parquet import (
    DEFAULT_BATCH_BYTES,
    SCHEMA_VERSION,
    LogFile,
    LogWriter,
    item_table_path,
    iter_log_batches,
    open_log,
    read_log,
    rewrite_log,
    write_log,
)

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "SCHEMA_VERSION",
    "LogFile",
    "LogWriter",
    "item_table_path",
    "iter_log_batches",
    "open_log",
    "read_item_table",
    "read_log",
    "rewrite_log",
    "write_log",
]
