"""Logs as Parquet files (pyarrow), schema version 2: rows name items by id, items stored once.

A log is two files: ``<name>.parquet`` with one row per request, and its item table
``<name>.items-<fingerprint>.parquet`` beside it (see :mod:`bandits.logs.items`). Row columns:

=====================================  =============================================
``request_id``, ``time``, ``user_id``   int64
``policy``                              string (the logging policy's display name)
``context``                             fixed-size list of n_context_features float64
``candidate_ids``                       list of int64 (that request's candidates)
``history``                             list of int64 (most recent first)
``slate``                               fixed-size list of slate_size int64
``slate_probability``                   float64
``position_probability``, ``rewards``   fixed-size lists of slate_size float64
``signal.<name>``                       fixed-size list of slate_size float64, per signal
``candidate_position_probability``      optional: a fixed-size list of slate_size float64
                                        per candidate (the logger's marginals)
=====================================  =============================================

A list column of width 0 (no context features) is left out. The file metadata holds
``bandits.schema_version`` (2), the slate size, feature widths, history length and widest
candidate set (upper bounds the rows are checked against; they never size an allocation on
their own), the item table's file name, item count and fingerprint (so a table that does not
belong to the log is refused). Version-1 files (features repeated per candidate) are read and
converted on the fly (:mod:`bandits.logs.v1`); :func:`rewrite_log` rewrites them as v2.

Writes are atomic and durable: the item table gets its own content-addressed name, then the
rows file is renamed into place (replacing an existing log only when asked), and only then is
the old log's item table removed; every rename is followed by an fsync of the folder. Reads
check the schema's types and every row, and stream in batches of bounded memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import v1
from bandits.logs.arrow import (
    check_schema,
    columns_without_nulls,
    fixed_list,
    fixed_list_type,
    from_fixed,
    from_ragged,
    lengths,
    list_column,
    name_bytes,
    names_column,
    no_nulls,
    open_parquet,
    scatter_rows,
)
from bandits.logs.atomic import (
    StreamedParquetFile,
    fsync_file,
    publish,
    remove_stale_temporaries,
    temporary_name,
    writing,
)
from bandits.logs.items import (
    is_item_table_name,
    item_table_arrow,
    item_table_name,
    read_item_table,
)
from bandits.logs.layout import (
    MARGINALS_COLUMN,
    SIGNAL_PREFIX,
    SIZE_KEYS,
    VERSION_KEY,
    metadata_int,
)
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import (
    InputError,
    InputValueError,
    check_integer,
    renumber_rows,
    shown,
)

SCHEMA_VERSION = 2
DEFAULT_BATCH_BYTES = 64 * 2**20
"""Default memory budget of one batch of rows (reading, writing, evaluating)."""

READ_BUFFER_BYTES = 1 << 20
"""Read buffer of a Parquet column stream (files are read without pre-buffering)."""

ITEM_TABLE_KEY = b"bandits.item_table"
CONTEXT_NAMES_KEY = b"bandits.context_names"
COLUMNS_KEY = b"bandits.columns_digest"


MAX_ROW_BYTES = 2 * 2**30
"""Most memory one row of a log may take once read (a wider row is refused, not read)."""


class LogWriter(StreamedParquetFile):
    """Write a log batch by batch (flat memory), published atomically on :meth:`close`.

    The first batch fixes the layout (slate size, widths, signals, whether logging marginals
    are stored). Rows go to a hidden temporary file as row groups of about ``batch_bytes``
    (small batches are held until that much has come, or :meth:`flush`, so a log written a
    few rows at a time is not a file of tiny row groups); the item table grows with the items
    the rows name (only those are stored). ``close`` writes the item table under its
    content-addressed name, then gives the rows file its name;
    leaving the ``with`` block by an exception removes the temporary files and leaves any
    existing log untouched.

    Parameters
    ----------
    path : path-like
        The log file to create (``.parquet``); the item table goes beside it.
    overwrite : bool, default False
        Replace an existing log at ``path``. Without it an existing file is an error, checked
        when writing starts and again at the final rename.
    batch_bytes : int
        Target size of a row group in memory.
    context_names : sequence of str, optional
        Names of the context columns (e.g. ``device_phone``, ``day_sin``), one per context
        feature, recorded in the metadata (``bandits.context_names``) so that reports can
        segment requests by context signal; logs without it read as before.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        context_names: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.overwrite = bool(overwrite)
        self.batch_bytes = check_integer(batch_bytes, "batch_bytes", "LogWriter", low=1)
        self.context_names = None if context_names is None else list(context_names)
        if self.context_names is not None and not all(
            isinstance(name, str) for name in self.context_names
        ):
            raise InputValueError(
                f"The 'context_names' of LogWriter must be names (str); got "
                f"{shown(self.context_names)}."
            )
        if self.path.is_dir():
            raise InputValueError(f"{self.path} is a folder; give the path of a log file.")
        if not self.overwrite and self.path.exists():
            raise FileExistsError(
                f"{self.path} already exists; it was not replaced (choose another name, or ask "
                f"to overwrite)."
            )
        remove_stale_temporaries(self.path.parent)
        self.n_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []  # batches not yet written, in order
        self._pending_bytes = 0
        self._temporary = temporary_name(self.path)
        self._items: ItemTable | None = None
        self._layout: dict[str, Any] = {}
        self._max_candidates = 0
        self._history_length = 0
        self._closed = False

    def write(self, log: LoggedBandit) -> None:
        """Append the rows of ``log`` (a batch) to the file."""
        if self._closed:
            raise RuntimeError(f"The LogWriter for {self.path} is closed.")
        table = log_to_arrow(log)
        layout = _layout_of(log)
        width = log.observation.n_context_features
        if self.context_names is not None and len(self.context_names) != width:
            raise InputValueError(
                f"LogWriter for {self.path} was given {len(self.context_names)} context names "
                f"for {width} context features."
            )
        with writing(self.path):
            self._write_rows(table, layout)
        self.n_rows += len(log)
        obs = log.observation
        longest_history = int((obs.history != PAD_ID).sum(axis=1).max(initial=0))
        self._max_candidates = max(self._max_candidates, int(obs.n_candidates.max(initial=0)))
        self._history_length = max(self._history_length, longest_history)
        used = log.items.take(np.unique(obs.candidate_rows[obs.candidate_mask]))
        with _naming(self.path):
            self._items = used if self._items is None else self._items.union(used)

    def _write_rows(self, table: pa.Table, layout: dict[str, Any]) -> None:
        """Append ``table`` as row groups of about ``batch_bytes``, opening the file first."""
        if self._writer is None:
            self._layout = layout
            self._writer = pq.ParquetWriter(
                self._temporary,
                table.schema.with_metadata(_metadata(layout, table.schema)),
                compression="zstd",
                write_page_checksum=True,
            )
        elif layout != self._layout:
            raise InputValueError(
                f"Every batch written to {self.path} must have the layout of the first "
                f"({self._layout}); got {layout}."
            )
        table = table.replace_schema_metadata(None)
        if not table.schema.equals(self._writer.schema, check_metadata=False):
            raise InputValueError(
                f"Every batch written to {self.path} must have the columns and types of the "
                f"first; got {table.schema} after {self._writer.schema}."
            )
        if table.get_total_buffer_size() >= self.batch_bytes:  # a row group on its own
            self._write_pending()
            self._pending.append(table)
            self._write_pending()
            return
        # held: a copy, since the batch's columns may view the caller's arrays, which may
        # change once write returns
        held = _owned(table)
        self._pending.append(held)
        self._pending_bytes += held.get_total_buffer_size()
        if self._pending_bytes >= self.batch_bytes:
            self._write_pending()

    def flush(self) -> None:
        """Write the rows held so far, so that the next batch starts a new row group."""
        if self._closed:
            raise RuntimeError(f"The LogWriter for {self.path} is closed.")
        with writing(self.path):
            self._write_pending()

    def _write_pending(self) -> None:
        """The held batches as row groups of about ``batch_bytes``."""
        if self._writer is None or not self._pending:
            return
        table = self._pending[0] if len(self._pending) == 1 else pa.concat_tables(self._pending)
        self._pending, self._pending_bytes = [], 0
        rows = max(1, self.batch_bytes // max(1, table.nbytes // max(1, table.num_rows)))
        self._writer.write_table(table, row_group_size=rows)

    def abort(self) -> None:
        """Drop what was written and what is held; the target is left as it was."""
        self._pending, self._pending_bytes = [], 0
        super().abort()

    def close(self) -> Path:
        """Finish the file, write the item table and publish both; returns the log's path."""
        if self._closed:
            return self.path
        if self._writer is None or self._items is None:
            self.abort()
            raise InputValueError(
                f"Nothing was written to {self.path}: a log needs at least one batch (it may "
                f"have no rows) to fix its layout."
            )
        items, writer = self._items, self._writer
        fingerprint = items.fingerprint()
        items_path = self.path.with_name(item_table_name(self.path, fingerprint))
        old_items = _item_table_of(self.path) if self.overwrite else None
        items_existed = _existing_item_table(items_path, fingerprint)
        items_temporary = temporary_name(items_path)
        published = False
        self._closed = True
        try:
            with writing(self.path):
                self._write_pending()
                writer.add_key_value_metadata(
                    {
                        "bandits.max_candidates": str(self._max_candidates),
                        "bandits.history_length": str(self._history_length),
                        "bandits.n_rows": str(self.n_rows),
                        ITEM_TABLE_KEY.decode(): items_path.name,
                        "bandits.item_count": str(items.n_items),
                        "bandits.item_fingerprint": fingerprint,
                    }
                    | _context_names_metadata(self.context_names)
                )
                writer.close()
                pq.write_table(
                    item_table_arrow(items),
                    items_temporary,
                    compression="zstd",
                    write_page_checksum=True,
                )
                fsync_file(items_temporary)
                fsync_file(self._temporary)
                # an identical table already there is shared, not replaced
                if not items_existed:
                    publish(items_temporary, items_path, replace=False)
                publish(self._temporary, self.path, replace=self.overwrite)
                published = True
        finally:
            self._pending, self._pending_bytes = [], 0
            if not published:  # a step failed: the writer may still hold the file open
                with contextlib.suppress(Exception):
                    writer.close()
            items_temporary.unlink(missing_ok=True)
            self._temporary.unlink(missing_ok=True)
            if not published and not items_existed:
                items_path.unlink(missing_ok=True)
        if old_items is not None and old_items != items_path and not _referenced(old_items):
            old_items.unlink(missing_ok=True)
        return self.path


def _context_names_metadata(names: list[str] | None) -> dict[str, str]:
    return {} if names is None else {CONTEXT_NAMES_KEY.decode(): json.dumps(names)}


def write_log(log: LoggedBandit, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``log`` and its item table atomically; returns the log's path."""
    with LogWriter(path, overwrite=overwrite) as writer:
        writer.write(log)
    return Path(path)


def read_log(path: str | os.PathLike[str]) -> LoggedBandit:
    """Read a whole log (any schema version), checking its types and every row."""
    return open_log(path).read()


def iter_log_batches(
    path: str | os.PathLike[str], *, batch_bytes: int = DEFAULT_BATCH_BYTES
) -> Iterator[LoggedBandit]:
    """Stream a log as tables of about ``batch_bytes`` in memory each (flat memory)."""
    return open_log(path).iter_batches(batch_bytes=batch_bytes)


def item_table_path(path: str | os.PathLike[str]) -> Path | None:
    """The item table file of the version-2 log at ``path`` (from its metadata), or None for
    a version-1 log."""
    log = open_log(path)
    return log.items_path


def rewrite_log(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Path:
    """Rewrite a log (e.g. schema version 1) as a version-2 log, streaming in flat memory."""
    log = open_log(source)
    if Path(target).resolve() in {path.resolve() for path in log.files}:
        raise InputValueError(
            f"Rewriting {source} into {target} would replace the log being read; choose "
            f"another target."
        )
    with LogWriter(target, overwrite=overwrite, batch_bytes=batch_bytes,
                   context_names=log.context_names) as writer:  # fmt: skip
        for batch in log.iter_batches(batch_bytes=batch_bytes):
            writer.write(batch)
        if log.n_rows == 0:  # an empty log keeps its layout
            writer.write(log.read())
    return Path(target)


def _context_names(metadata: dict[bytes, bytes], width: int, path: Path) -> list[str] | None:
    """The context column names a log's metadata records (None if it has none)."""
    raw = metadata.get(CONTEXT_NAMES_KEY)
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        names = None
    if (
        not isinstance(names, list)
        or len(names) != width
        or not all(isinstance(name, str) for name in names)
    ):
        raise InputValueError(
            f"{path}: the metadata key {CONTEXT_NAMES_KEY.decode()!r} must list {width} context "
            f"column names; got {shown(raw[:60].decode(errors='replace'))}."
        )
    return names


def open_log(path: str | os.PathLike[str]) -> LogFile:
    """Open a log for reading (schema checked now, rows when read)."""
    return LogFile(path)


class LogFile:
    """A log on disk, opened for reading: layout from its metadata, rows on demand.

    Attributes
    ----------
    path : Path
    version : int
        The file's schema version (1 or 2).
    n_rows, slate_size, n_context_features, n_item_features, max_candidates,
    history_length : int
    signal_names : list of str
    context_names : list of str or None
        Names of the context columns, when the writer recorded them (see :class:`LogWriter`).
    has_marginals : bool
    items : ItemTable or None
        The item table (version 2); None for version 1, whose items come with each batch.
    items_path : Path or None
        The item table's file (version 2).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._parquet = _open(self.path)
        metadata = self._parquet.metadata.metadata or {}
        if metadata.get(b"bandits.kind") == b"items":
            raise InputValueError(
                f"{self.path} is the item table of a log, not a log; give the log it belongs "
                f"to (the file without '.items-...' in its name)."
            )
        names = self._parquet.schema_arrow.names
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InputValueError(f"{self.path}: the column(s) {repeated} appear more than once.")
        self.version = _version(metadata, self.path)
        self.n_rows = int(self._parquet.metadata.num_rows)
        self.signal_names = [
            name.removeprefix(SIGNAL_PREFIX) for name in names if name.startswith(SIGNAL_PREFIX)
        ]
        with _naming(self.path):
            sizes = {key: metadata_int(metadata, key) for key in SIZE_KEYS}
        self.slate_size = sizes["slate_size"]
        self.n_context_features = sizes["n_context_features"]
        self.n_item_features = sizes["n_item_features"]
        self.max_candidates = sizes["max_candidates"]
        self.history_length = sizes["history_length"]
        self.context_names = _context_names(metadata, self.n_context_features, self.path)
        self.has_marginals = MARGINALS_COLUMN in names
        self.items: ItemTable | None = None
        self.items_path: Path | None = None
        self._decode: Callable[[pa.Table], LoggedBandit]
        if self.version == 1:
            with _naming(self.path):
                self._check_row_sizes()
                v1.check_schema(self._parquet.schema_arrow)
            self._decode = lambda table: v1.arrow_to_log(table, sizes)
            return
        with _naming(self.path):
            self._check_row_sizes()
            check_schema(
                self._parquet.schema_arrow,
                self._expected_schema(),
                "the log",
                extra=[SIGNAL_PREFIX + name for name in self.signal_names],
            )
            if metadata.get(COLUMNS_KEY, b"").decode(errors="replace") != columns_digest(
                self._parquet.schema_arrow
            ):
                raise InputValueError(
                    "its column names are not those it was written with (the footer is "
                    "damaged or was edited)."
                )
            self.items_path = self.path.with_name(_item_table_name(metadata))
        items = self._read_items(self.items_path, metadata)
        self.items = items
        self._decode = lambda table: self._arrow_to_log(table, items)

    @property
    def files(self) -> list[Path]:
        """Every file this log is made of (the rows file, and its item table for version 2)."""
        return [self.path] + ([self.items_path] if self.items_path is not None else [])

    def _read_items(self, items_path: Path, metadata: dict[bytes, bytes]) -> ItemTable:
        if not items_path.exists():
            raise FileNotFoundError(
                f"{self.path}: its item table {items_path} is missing (a log is the .parquet "
                f"file and the item table beside it; copy both)."
            )
        items = read_item_table(items_path)
        if items.n_item_features != self.n_item_features:
            raise InputValueError(
                f"{items_path} has {items.n_item_features} item features; the log {self.path} "
                f"declares {self.n_item_features}."
            )
        fingerprint = metadata.get(b"bandits.item_fingerprint", b"").decode(errors="replace")
        if fingerprint != items.fingerprint():
            raise InputValueError(
                f"{items_path} is not the item table {self.path} was written with (its "
                f"fingerprint differs): it was replaced or edited after the log was written."
            )
        return items

    def _expected_schema(self) -> dict[str, pa.DataType]:
        k = self.slate_size
        expected = {
            "request_id": pa.int64(),
            "time": pa.int64(),
            "user_id": pa.int64(),
            "policy": pa.string(),
            "candidate_ids": pa.list_(pa.int64()),
            "history": pa.list_(pa.int64()),
            "slate": fixed_list_type(pa.int64(), k),
            "slate_probability": pa.float64(),
            "position_probability": fixed_list_type(pa.float64(), k),
            "rewards": fixed_list_type(pa.float64(), k),
        }
        if self.n_context_features:
            expected["context"] = fixed_list_type(pa.float64(), self.n_context_features)
        for name in self.signal_names:
            expected[SIGNAL_PREFIX + name] = fixed_list_type(pa.float64(), k)
        if self.has_marginals:
            expected[MARGINALS_COLUMN] = pa.list_(fixed_list_type(pa.float64(), k))
        return expected

    def bytes_per_candidate(self) -> int:
        """Memory one candidate of a row takes once read: its id, its row in the item table,
        its looked-up features (and, for version 1, its stored ones) and its logging
        marginals, 16 bytes a value (numpy arrays and the copies made on the way)."""
        features = self.n_item_features * (2 if self.version == 1 else 1)
        return 16 * (2 + features + (self.slate_size if self.has_marginals else 0))

    def bytes_per_row(self) -> int:
        """Memory one row takes once read, besides its candidates and history: the context,
        the slate-sized columns and the scalars."""
        k = self.slate_size
        return 16 * (4 + self.n_context_features + (3 + len(self.signal_names)) * k)

    def _check_row_sizes(self) -> None:
        """Refuse a file whose stored rows are larger than any row its declared widths allow
        (a row of millions of candidates would be read whole)."""
        k, c = self.slate_size, self.max_candidates
        largest = 8 * (
            16
            + self.n_context_features
            + self.history_length
            + (4 + len(self.signal_names)) * k
            + c * (2 + self.n_item_features * (2 if self.version == 1 else 0) + k)
        )
        stored = self.stored_bytes_per_row()
        if stored > 4 * largest + 1024:
            raise InputValueError(
                f"its rows take {stored:,} bytes each, more than its declared widths allow "
                f"({largest:,}); the file is damaged or not a bandits log."
            )

    def stored_bytes_per_row(self) -> int:
        """The largest uncompressed size of a row in any row group, from the file's own
        sizes (not from its metadata's declared widths)."""
        metadata = self._parquet.metadata
        sizes = [
            metadata.row_group(i).total_byte_size / max(metadata.row_group(i).num_rows, 1)
            for i in range(metadata.num_row_groups)
        ]
        return max(64, int(max(sizes, default=0)))

    @property
    def n_row_groups(self) -> int:
        """The file's Parquet row groups (the partitions of a distributed evaluation)."""
        return int(self._parquet.metadata.num_row_groups)

    def row_group_starts(self) -> NDArray[np.int64]:
        """The first row of each row group and, last, the number of rows, shape
        (n_row_groups + 1,)."""
        metadata = self._parquet.metadata
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

    def iter_batches(
        self, *, batch_bytes: int = DEFAULT_BATCH_BYTES, row_groups: range | None = None
    ) -> Iterator[LoggedBandit]:
        """The rows in file order, as tables of about ``batch_bytes`` in memory each.

        Batches are sized from the data, not from the metadata's widths: Arrow batches hold
        about ``batch_bytes`` of stored rows, and each is cut where its rows, padded to its
        widest candidate set and history, would exceed ``batch_bytes`` (a row wider than the
        budget comes alone). ``row_groups`` (consecutive, step 1) reads only those row groups.
        Errors name the file's rows (counted from the file's first row either way).
        """
        budget = check_integer(batch_bytes, "batch_bytes", "LogFile", low=1, high=2**40)
        arrow_rows = max(1, budget // (2 * self.stored_bytes_per_row()))
        first, groups = 0, None
        if row_groups is not None:
            if row_groups.step != 1 or not (
                0 <= row_groups.start <= row_groups.stop <= self.n_row_groups
            ):
                raise InputValueError(
                    f"{self.path} has row groups 0 to {self.n_row_groups - 1}; cannot read "
                    f"{row_groups}."
                )
            first, groups = int(self.row_group_starts()[row_groups.start]), list(row_groups)
            if not groups:
                return
        with _naming(self.path):
            for batch in self._joined_batches(arrow_rows, groups):
                try:
                    slices = list(self._slices(batch, budget))
                except InputError as error:
                    raise renumber_rows(error, first + np.arange(batch.num_rows)) from None
                for start, stop in slices:
                    part = pa.Table.from_batches([batch.slice(start, stop - start)])
                    try:
                        yield self._decode(part)
                    except InputError as error:  # name the file's rows, not the batch's
                        rows = np.arange(first + start, first + stop)
                        raise renumber_rows(error, rows) from None
                first += batch.num_rows

    def _joined_batches(
        self, arrow_rows: int, groups: list[int] | None
    ) -> Iterator[pa.RecordBatch]:
        """Arrow batches of at most ``arrow_rows`` rows, consecutive small ones (under a
        quarter of that) joined: Arrow does not read across row groups, and a log written in
        small batches (e.g. a simulation's 32-request steps) would otherwise be decoded, and
        handed to its consumers, a few rows at a time. Larger batches (a large row group's
        pieces) pass alone: joining them would hold two row groups' pages at once."""
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._parquet.iter_batches(batch_size=arrow_rows, row_groups=groups):
            large = 4 * batch.num_rows >= arrow_rows
            if pending and (large or rows + batch.num_rows > arrow_rows):
                yield _joined(pending)
                pending, rows = [], 0
            if large:
                yield batch
                continue
            pending.append(batch)
            rows += batch.num_rows
        if pending:
            yield _joined(pending)

    def _slices(self, batch: pa.RecordBatch, budget: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive rows of ``batch`` whose padded arrays fit ``budget``.

        The memory of rows ``start..stop`` is their number times (the fixed cost of a row plus
        the widest row's candidates and history); windows double, so the cut costs
        O(n log n) whatever the widths.
        """
        n = batch.num_rows
        width = lengths(batch.column("candidate_ids")) * self.bytes_per_candidate()
        width += lengths(batch.column("history")) * 16
        per_row = self.bytes_per_row() + name_bytes(batch.column("policy"))
        if n and int(width.max()) + per_row > MAX_ROW_BYTES:
            row = int(np.argmax(width + per_row > MAX_ROW_BYTES))
            raise InputValueError(
                f"row {row} would take {(int(width[row]) + per_row) / 2**30:,.1f} GiB in memory "
                f"(its candidates and history at the declared widths), more than a row may "
                f"({MAX_ROW_BYTES / 2**30:g} GiB)."
            )
        start, window = 0, 64
        while start < n:
            stop = min(n, start + window)
            cost = np.arange(1, stop - start + 1) * (
                np.maximum.accumulate(width[start:stop]) + per_row
            )
            fits = int(np.searchsorted(cost, budget, side="right"))
            if fits == stop - start and stop < n:
                window *= 2  # everything fitted: look further before cutting
                continue
            size = max(1, fits)
            yield start, start + size
            start += size
            window = max(64, 2 * size)

    def read(self) -> LoggedBandit:
        """Every row as one table."""
        if self.version == 2 or self.n_rows == 0:
            with _naming(self.path):
                return self._decode(self._parquet.read())
        with _naming(self.path):
            return LoggedBandit.concat(list(self.iter_batches()))

    def read_times(self) -> NDArray[np.int64]:
        """The ``time`` column, shape (n_rows,), int64 (to split a log by time)."""
        with _naming(self.path):
            table = self._parquet.read(columns=["time"])
            column = no_nulls(table.column("time").combine_chunks(), "time")
            values = np.asarray(column.to_numpy(zero_copy_only=False))
            if not np.issubdtype(values.dtype, np.signedinteger):
                raise InputValueError(f"column 'time' must hold int64; it holds {column.type}.")
            return values.astype(np.int64, copy=False)

    def _arrow_to_log(self, table: pa.Table, items: ItemTable) -> LoggedBandit:
        """Rebuild and validate a version-2 batch."""
        n, k = table.num_rows, self.slate_size
        column = columns_without_nulls(table)
        counts, candidate_ids = from_ragged(
            column["candidate_ids"], np.int64, PAD_ID, self.max_candidates, "candidate_ids",
            "candidates",
        )  # fmt: skip
        _, history = from_ragged(
            column["history"], np.int64, PAD_ID, self.history_length, "history", "entries"
        )
        context = (
            from_fixed(column["context"], np.float64, (n, self.n_context_features))
            if self.n_context_features
            else np.zeros((n, 0))
        )
        observation = SlateObservation(
            context=context,
            candidate_ids=candidate_ids,
            n_candidates=counts,
            slate_size=k,
            history=history,
            request_ids=from_fixed(column["request_id"], np.int64, (n,)),
            user_ids=from_fixed(column["user_id"], np.int64, (n,)),
            times=from_fixed(column["time"], np.int64, (n,)),
            items=items,
        )
        marginals = None
        if self.has_marginals:
            marginals = _marginals(column[MARGINALS_COLUMN], counts, candidate_ids.shape[1], k)
        decision = SlateDecision(
            from_fixed(column["slate"], np.int64, (n, k)),
            from_fixed(column["slate_probability"], np.float64, (n,)),
            from_fixed(column["position_probability"], np.float64, (n, k)),
            marginals,
        )
        signals = {
            name: from_fixed(column[SIGNAL_PREFIX + name], np.float64, (n, k))
            for name in self.signal_names
        }
        feedback = SlateFeedback(from_fixed(column["rewards"], np.float64, (n, k)), signals)
        return LoggedBandit(
            observation, decision, feedback, names_column(column["policy"], "policy")
        )


def log_to_arrow(log: LoggedBandit) -> pa.Table:
    """One batch as an Arrow table in the version-2 row layout (no metadata)."""
    obs, decision, feedback = log.observation, log.decision, log.feedback
    mask = obs.candidate_mask
    history_mask = obs.history != PAD_ID
    columns: dict[str, pa.Array] = {
        "request_id": pa.array(obs.request_ids),
        "time": pa.array(obs.times),
        "user_id": pa.array(obs.user_ids),
        "policy": pa.array(log.policy_names.astype(object), type=pa.string()),
    }
    if obs.n_context_features:
        columns["context"] = fixed_list(obs.context)
    columns["candidate_ids"] = list_column(
        obs.candidate_ids[mask], obs.n_candidates, "candidate_ids"
    )
    columns["history"] = list_column(obs.history[history_mask], history_mask.sum(axis=1), "history")
    columns["slate"] = fixed_list(decision.slates)
    columns["slate_probability"] = pa.array(decision.slate_probability)
    columns["position_probability"] = fixed_list(decision.position_probability)
    columns["rewards"] = fixed_list(feedback.rewards)
    for name, values in feedback.signals.items():
        columns[SIGNAL_PREFIX + name] = fixed_list(values)
    marginals = decision.candidate_position_probability
    if marginals is not None:
        per_candidate = fixed_list(marginals[mask])
        columns[MARGINALS_COLUMN] = list_column(per_candidate, obs.n_candidates, MARGINALS_COLUMN)
    return pa.table(columns)


def _layout_of(log: LoggedBandit) -> dict[str, Any]:
    return {
        "slate_size": log.slate_size,
        "n_context_features": log.observation.n_context_features,
        "n_item_features": log.observation.n_item_features,
        "signals": list(log.feedback.signals),
        "marginals": log.decision.candidate_position_probability is not None,
    }


def columns_digest(schema: pa.Schema) -> str:
    """A digest of the columns' names, in order (the footer holds them without a checksum, so
    a damaged name, such as a signal's, would otherwise read back as another column; their
    types are checked against the schema)."""
    text = ";".join(schema.names)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _metadata(layout: dict[str, Any], schema: pa.Schema) -> dict[bytes, bytes]:
    return {
        VERSION_KEY: str(SCHEMA_VERSION).encode(),
        COLUMNS_KEY: columns_digest(schema).encode(),
        b"bandits.slate_size": str(layout["slate_size"]).encode(),
        b"bandits.n_context_features": str(layout["n_context_features"]).encode(),
        b"bandits.n_item_features": str(layout["n_item_features"]).encode(),
    }


def _item_table_name(metadata: dict[bytes, bytes]) -> str:
    raw = metadata.get(ITEM_TABLE_KEY, b"")
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        name = ""
    if not name or Path(name).name != name or name in (".", ".."):
        raise InputValueError(
            f"the metadata key {ITEM_TABLE_KEY.decode()!r} must name a file beside the log; "
            f"got {shown(raw)}."
        )
    return name


def _existing_item_table(items_path: Path, fingerprint: str) -> bool:
    """True if ``items_path`` already holds this very item table (a log written before with
    the same items); False if nothing is there. Anything else there is refused: a file of
    the user's with an item table's name is never replaced."""
    if not items_path.exists() and not items_path.is_symlink():
        return False
    try:
        if items_path.is_symlink() or not items_path.is_file():
            raise InputValueError("not a regular file")
        if read_item_table(items_path).fingerprint() == fingerprint:
            return True
    except (InputError, OSError):
        pass
    raise FileExistsError(
        f"{items_path} exists and is not this log's item table; it was not replaced (move it "
        f"away, or write the log under another name)."
    )


def _referenced(items_path: Path) -> bool:
    """True if a log beside ``items_path`` (other than the one being replaced, whose metadata
    already names the new table) still names it as its item table."""
    for log in items_path.parent.glob("*.parquet"):
        if log == items_path or is_item_table_name(log.name) or not log.is_file():
            continue
        try:
            metadata = pq.ParquetFile(log).metadata.metadata or {}
        except (OSError, ValueError, pa.ArrowException):
            continue
        if metadata.get(ITEM_TABLE_KEY) == items_path.name.encode():
            return True
    return False


def _item_table_of(path: Path) -> Path | None:
    """The item table of the existing version-2 log at ``path``, if it is named as this log's
    own (``<stem>.items-<fingerprint>.parquet``); None otherwise (a file that is not a log, or
    that names another file: such a file is never removed with the log)."""
    try:
        metadata = pq.ParquetFile(path).metadata.metadata or {}
        name = _item_table_name(metadata)
    except (OSError, ValueError, pa.ArrowException, InputError):
        return None
    if not is_item_table_name(name, path):
        return None
    return path.with_name(name)


def _marginals(
    column: pa.Array, n_candidates: NDArray[np.int64], width: int, k: int
) -> NDArray[np.float64]:
    per_row = lengths(column)
    wrong = np.flatnonzero(per_row != n_candidates)
    if wrong.size:
        row = int(wrong[0])
        raise InputValueError(
            f"column {MARGINALS_COLUMN!r} must have one entry per candidate; row {row} has "
            f"{per_row[row]} for {n_candidates[row]} candidates."
        )
    flat = from_fixed(column.flatten(), np.float64, (int(per_row.sum()), k))
    return scatter_rows(flat, n_candidates, width, 0.0)


def _open(path: Path) -> pq.ParquetFile:
    # without pre-buffering, batches are read page by page: memory stays flat in the rows
    return open_parquet(
        path,
        "log file",
        text_columns=["policy"],
        pre_buffer=False,
        buffer_size=READ_BUFFER_BYTES,
    )


def _version(metadata: dict[bytes, bytes], path: Path) -> int:
    if VERSION_KEY not in metadata:
        raise InputValueError(
            f"{path} is not a bandits log: its metadata has no {VERSION_KEY.decode()!r} "
            f"(write logs with bandits.logs.write_log)."
        )
    version = metadata[VERSION_KEY].decode(errors="replace")
    if version not in ("1", "2"):
        raise InputValueError(
            f"{path}: schema version {shown(version)} is unknown; this version of "
            f"bandits-recommender reads schema versions 1 and 2."
        )
    return int(version)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Prefix input errors raised inside the block with the file's path (once); Arrow's own
    errors (a corrupt file) become input errors."""
    try:
        yield
    except InputError as error:
        if str(error).startswith(str(path)):
            raise
        raise type(error)(f"{path}: {error}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        if isinstance(error, FileNotFoundError | PermissionError):
            raise
        detail = " ".join(str(error).split())  # Arrow's messages span lines
        raise InputValueError(f"{path}: cannot be read: {detail}") from None


def _owned(table: pa.Table) -> pa.Table:
    """A copy of ``table`` in memory of its own, not viewing any array it was built from:
    its columns as two chunks (itself and none of its rows) combined into new buffers, about
    4x faster than a round trip through Arrow's stream format (tested: a writer's held
    batches do not change with the caller's arrays)."""
    return pa.concat_tables([table, table.slice(0, 0)]).combine_chunks()


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """Consecutive Arrow batches of one schema as one batch (the one itself when alone)."""
    if len(batches) == 1:
        return batches[0]
    joined = pa.Table.from_batches(batches).combine_chunks().to_batches()
    return joined[0] if joined else batches[0]  # rows of none: no batch comes back
