"""Write a rollout trace to Parquet as the run proceeds: rows are buffered up to a bounded
count, flushed as row groups to a hidden temporary file, and the file takes its name only when
it is complete (:meth:`TraceWriter.close`). A run that crashes or is killed leaves no
``trace.parquet``, only a temporary that the next write into the folder removes; a reader
never sees a trace that looks complete but is not."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bandits.logs.atomic import (
    StreamedParquetFile,
    fsync_file,
    publish,
    remove_stale_temporaries,
    temporary_name,
    writing,
)
from bandits.run.rollout import TRACE_COLUMNS
from bandits.validation import InputValueError, check_integer

TRACE_TYPES = {"policy": pa.string(), "step": pa.int64(), "requests": pa.int64(), "run": pa.int64()}
"""Arrow types of the trace's columns (the others are float64)."""

DEFAULT_BUFFER_ROWS = 16_384
"""Rows a :class:`TraceWriter` holds before it writes them out as a row group (about 1 MiB)."""

KIND_KEY = "bandits.kind"
ROWS_KEY = "bandits.n_rows"


def trace_schema(columns: tuple[str, ...]) -> pa.Schema:
    """The Arrow schema of a trace with ``columns`` (``TRACE_COLUMNS``, maybe ``run``)."""
    return pa.schema([(name, TRACE_TYPES.get(name, pa.float64())) for name in columns])


class TraceWriter(StreamedParquetFile):
    """Stream trace rows (one dict of ``TRACE_COLUMNS`` per step and policy) to a Parquet file.

    Memory: at most ``buffer_rows`` rows are held; each full buffer becomes one row group.
    ``close`` writes the rest, fsyncs and gives the file its name (never replacing a file,
    unless ``overwrite``); leaving the ``with`` block by an exception drops the temporary file
    and leaves ``path`` as it was.

    Parameters
    ----------
    path : path-like
        The trace file to create (``trace.parquet``).
    run : int, optional
        Written in a ``run`` column of every row (the run's seed), as the last column.
    buffer_rows : int
        Rows buffered before a row group is written.
    overwrite : bool, default False
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        run: int | None = None,
        buffer_rows: int = DEFAULT_BUFFER_ROWS,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.run = None if run is None else check_integer(run, "run", "TraceWriter")
        self.buffer_rows = check_integer(buffer_rows, "buffer_rows", "TraceWriter", low=1)
        self.overwrite = bool(overwrite)
        if not self.overwrite and self.path.exists():
            raise FileExistsError(
                f"{self.path} already exists; it was not replaced (choose another name, or ask "
                f"to overwrite)."
            )
        columns = (*TRACE_COLUMNS, "run") if self.run is not None else TRACE_COLUMNS
        self.schema = trace_schema(columns)
        self.n_rows = 0
        self.row_groups = 0
        self._buffer: dict[str, list[Any]] = {name: [] for name in TRACE_COLUMNS}
        remove_stale_temporaries(self.path.parent)
        self._temporary = temporary_name(self.path)
        self._writer: pq.ParquetWriter | None = None
        self._closed = False

    @property
    def buffered(self) -> int:
        """Rows held in memory, not yet written (at most ``buffer_rows``)."""
        return len(self._buffer["policy"])

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one trace row (a mapping with every name of ``TRACE_COLUMNS``)."""
        if self._closed:
            raise RuntimeError(f"The TraceWriter for {self.path} is closed.")
        missing = [name for name in TRACE_COLUMNS if name not in row]
        if missing:
            raise InputValueError(f"A trace row lacks the column(s) {missing}; got {sorted(row)}.")
        for name, values in self._buffer.items():
            values.append(row[name])
        self.n_rows += 1
        if self.buffered >= self.buffer_rows:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered rows as one row group and empty the buffer."""
        if not self.buffered and self._writer is not None:
            return
        columns = dict(self._buffer)
        if self.run is not None:
            columns["run"] = [self.run] * self.buffered
        table = pa.Table.from_pydict(columns, schema=self.schema)
        with writing(self.path):
            if self._writer is None:
                self._writer = pq.ParquetWriter(
                    self._temporary, self.schema, compression="zstd", write_page_checksum=True
                )
            if table.num_rows:
                self._writer.write_table(table, row_group_size=table.num_rows)
                self.row_groups += 1
        self._buffer = {name: [] for name in TRACE_COLUMNS}

    def close(self) -> Path:
        """Write the last rows, then publish the file under its name; returns the path."""
        if self._closed:
            return self.path
        self._flush()  # opens the file, even for a trace without rows
        writer = self._writer
        if writer is None:
            raise RuntimeError(f"The TraceWriter for {self.path} has no file open.")
        self._closed = True
        try:
            with writing(self.path):
                writer.add_key_value_metadata({KIND_KEY: "trace", ROWS_KEY: str(self.n_rows)})
                writer.close()
                fsync_file(self._temporary)
                publish(self._temporary, self.path, replace=self.overwrite)
        finally:
            self._temporary.unlink(missing_ok=True)
        return self.path
