"""The Open Bandit Dataset (OBD) layout into a bandits log, streaming the CSV in chunks.

A folder of one behaviour policy and campaign (OBD's ``<policy>/<campaign>/``) holds the log,
one CSV (``<campaign>.csv``), and ``item_context.csv``. The log has one row per (impression,
position): an optional unnamed index column, ``timestamp``, ``item_id``, ``position`` (1, 2, 3),
``click``, ``propensity_score``, and user columns (``user_feature_0..3``: hashed strings;
``user-item_affinity_<item>``: numbers). ``item_context.csv`` has ``item_id`` and item features
(``item_feature_0`` a number, the rest hashed strings).

Features: every column other than the five above (and the index) is a context column; in
``item_context.csv`` every column but ``item_id`` is an item feature. Numbers are kept as they
are; strings are one-hot encoded, one column ``<name>=<value>`` per distinct value (sorted; no
level dropped, unlike obp's ``get_dummies(drop_first=True)``, and no integer codes, which
would invent an order), collected in a first pass over the CSV. A header that names a
column twice is refused (pandas would read the second ``click`` as ``click.1``).

Two ways to read it (``as_``):

- ``"slates"`` (default): one request per impression, a slate of the ``K`` positions (``K`` the
  largest position in the file). Rows of an impression must be consecutive, share
  ``timestamp`` and the user columns, and list positions in increasing order; a new impression
  starts where one of these changes or the position does not increase, and must hold each
  position ``1..K`` once (else an error names the CSV line). ``position_probability`` is
  OBD's ``propensity_score`` (the probability of the item at its position); OBD does not give
  the probability of the whole slate, so ``slate_probability`` is their product (exact only
  for a logger that fills positions independently; the uniform ``random`` logger, which draws
  without replacement, differs by a few percent): prefer position-wise estimators.
- ``"positions"``: one request per CSV row with a slate of one, as obp does (each row a round);
  the position becomes ``K`` one-hot context columns ``position=<p>``. ``propensity_score`` is
  then the exact probability of that row's item.

Every item of ``item_context.csv`` is a candidate of every request (OBD shows them all to the
logger). Rewards are clicks; ``time`` is the timestamp in microseconds since the epoch (UTC);
``request_id`` counts impressions (or rows) from 0; ``user_id`` is -1 (OBD has none).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bandits.logs.importers.rows import ImportSummary, RowBuffer, batch_rows_for, natural_key
from bandits.logs.parquet import DEFAULT_BATCH_BYTES, LogWriter
from bandits.validation import InputValueError, check_regular_file, shown

REQUIRED = ("timestamp", "item_id", "position", "click", "propensity_score")
ITEM_FILE = "item_context.csv"
CHUNK_ROWS = 100_000
"""CSV rows read at a time."""


class _Encoder:
    """Columns of a CSV as numbers: numeric columns as they are, strings one-hot."""

    def __init__(self, numeric: list[str], levels: dict[str, list[str]]) -> None:
        self.numeric = numeric
        self.levels = {name: sorted(values) for name, values in levels.items()}
        self.names = list(numeric) + [
            f"{name}={value}" for name, values in self.levels.items() for value in values
        ]

    def encode(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_rows, len(names))."""
        parts = [frame[self.numeric].to_numpy(dtype=np.float64)]
        for name, values in self.levels.items():
            codes = pd.Categorical(frame[name].astype(str), categories=values).codes
            parts.append(np.eye(len(values))[codes] if len(values) else np.zeros((len(frame), 0)))
        return np.concatenate(parts, axis=1)


def _split_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[str]]:
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    return sorted(numeric, key=natural_key), [c for c in columns if c not in numeric]


def _check_header(path: Path) -> None:
    """Refuse a CSV whose header names a column twice (pandas would rename the second
    ``click`` to ``click.1`` without a word). Empty names (index columns) are not compared."""
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise InputValueError(f"{path} cannot be read as CSV: {error}") from None
    seen: dict[str, int] = {}
    for column, name in enumerate(header.iloc[0].tolist() if len(header) else [], start=1):
        if name == "":
            continue
        if name in seen:
            raise InputValueError(
                f"{path}: the header names the column {shown(name)} twice (columns "
                f"{seen[name]} and {column}); rename or drop one."
            )
        seen[name] = column


def _read_items(path: Path) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    check_regular_file(path, "OBD item file")
    _check_header(path)
    try:
        frame = _drop_index(pd.read_csv(path))
    except (ValueError, pd.errors.ParserError) as error:
        raise InputValueError(f"{path} cannot be read as CSV: {error}") from None
    if "item_id" not in frame.columns:
        raise InputValueError(f"{path} lacks the column 'item_id'; it has {list(frame.columns)}.")
    if frame.empty:
        raise InputValueError(f"{path} lists no items; every request needs its candidates.")
    columns = [c for c in frame.columns if c != "item_id"]
    numeric, text = _split_columns(frame, columns)
    encoder = _Encoder(numeric, {c: frame[c].astype(str).unique().tolist() for c in text})
    ids = pd.to_numeric(frame["item_id"], errors="coerce")
    if ids.isna().any() or (ids < 0).any() or (ids % 1 != 0).any():
        row = int(np.flatnonzero((ids.isna() | (ids < 0) | (ids % 1 != 0)).to_numpy())[0])
        raise InputValueError(
            f"{path}, line {row + 2}: field 'item_id' must be an integer >= 0; got "
            f"{shown(frame['item_id'].iloc[row])}."
        )
    return ids.to_numpy(dtype=np.int64), encoder.encode(frame)


def _drop_index(frame: pd.DataFrame) -> pd.DataFrame:
    index = [c for c in frame.columns if c == "" or str(c).startswith("Unnamed:")]
    return frame.drop(columns=index)


def _log_file(folder: Path) -> Path:
    if not folder.is_dir():
        raise InputValueError(f"{folder} is not a folder; give an OBD policy/campaign folder.")
    logs = sorted(p for p in folder.glob("*.csv") if p.name != ITEM_FILE)
    if len(logs) != 1 or not (folder / ITEM_FILE).exists():
        raise InputValueError(
            f"{folder} must hold {ITEM_FILE} and one log CSV (OBD's <campaign>.csv); it holds "
            f"{[p.name for p in sorted(folder.glob('*.csv'))]}."
        )
    return logs[0]


def _chunks(path: Path) -> Iterator[tuple[int, pd.DataFrame]]:
    """(CSV line of the chunk's first row, chunk) with the required columns checked."""
    line = 2
    _check_header(path)
    try:
        reader = pd.read_csv(path, chunksize=CHUNK_ROWS)
        for chunk in reader:
            frame = _drop_index(chunk)
            missing = [c for c in REQUIRED if c not in frame.columns]
            if missing:
                raise InputValueError(
                    f"{path} lacks the column(s) {missing}; it has {list(frame.columns)}."
                )
            yield line, frame
            line += len(frame)
    except (ValueError, pd.errors.ParserError) as error:
        if isinstance(error, InputValueError):
            raise
        raise InputValueError(f"{path} cannot be read as CSV: {error}") from None


def _numbers(frame: pd.DataFrame, name: str, path: Path, line: int) -> NDArray[np.float64]:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputValueError(
            f"{path}, line {line + row}: field {name!r} must be a number; got "
            f"{shown(frame[name].iloc[row])}."
        )
    return values


def import_obd(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    as_: Literal["slates", "positions"] = "slates",
    overwrite: bool = False,
    policy: str | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> ImportSummary:
    """Import the OBD folder ``folder`` into the log ``out`` (see the module docstring);
    ``policy`` defaults to ``obd:<policy folder>/<campaign folder>``."""
    if as_ not in ("slates", "positions"):
        raise InputValueError(f"as_ must be 'slates' or 'positions'; got {shown(as_)}.")
    root = Path(folder)
    path = _log_file(root)
    item_ids, item_features = _read_items(root / ITEM_FILE)
    context_columns: list[str] = []
    text_columns: list[str] = []
    levels: dict[str, set[str]] = {}
    top = 0
    for line, frame in _chunks(path):  # first pass: columns, string levels, positions
        if not context_columns and not text_columns:
            others = [c for c in frame.columns if c not in REQUIRED]
            context_columns, text_columns = _split_columns(frame, others)
            levels = {c: set() for c in text_columns}
        for name in text_columns:
            levels[name].update(frame[name].astype(str).unique().tolist())
        positions = _numbers(frame, "position", path, line)
        bad = (positions < 1) | (positions % 1 != 0) | (positions > len(item_ids))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputValueError(
                f"{path}, line {line + row}: field 'position' must be an integer from 1 to "
                f"{len(item_ids)} (an impression shows distinct items of the {len(item_ids)} in "
                f"{ITEM_FILE}); got {shown(frame['position'].iloc[row])}."
            )
        top = max(top, int(positions.max(initial=0)))
    encoder = _Encoder(context_columns, {name: list(values) for name, values in levels.items()})
    slates = as_ == "slates"
    k = top if slates else 1
    width = len(encoder.names) + (0 if slates else top)
    summary = ImportSummary()
    with LogWriter(out, overwrite=overwrite, batch_bytes=batch_bytes) as writer:
        buffer = RowBuffer(
            writer,
            slate_size=max(k, 1),
            n_context_features=width,
            n_item_features=item_features.shape[1],
            signals=[],
            policy=policy or f"obd:{root.resolve().parent.name}/{root.resolve().name}",
            batch_rows=batch_rows_for(
                batch_bytes,
                n_context=width,
                max_candidates=len(item_ids),
                n_item=item_features.shape[1],
                slate_size=max(k, 1),
            ),
            summary=summary,
        )
        for item, features in zip(item_ids.tolist(), item_features, strict=True):
            buffer.items.add(item, features, str(root / ITEM_FILE))
        rows = _Rows(path, encoder, item_ids, top)
        add = rows.add_impressions if slates else rows.add_positions
        for line, frame in _chunks(path):
            add(buffer, frame, line)
        rows.finish(buffer)
        buffer.flush(force=True)
    return summary


class _Rows:
    """Turns CSV chunks into requests (impressions or single positions)."""

    def __init__(
        self, path: Path, encoder: _Encoder, item_ids: NDArray[np.int64], top: int
    ) -> None:
        self.path, self.encoder, self.top = path, encoder, top
        self.sorted_ids = np.sort(item_ids)
        self.candidates = self.sorted_ids.copy()
        self.requests = 0
        self.tail: tuple[int, pd.DataFrame] | None = None  # an impression cut by the chunk

    def _columns(self, frame: pd.DataFrame, line: int) -> dict[str, Any]:
        numbers = _numbers(frame, "item_id", self.path, line)
        bad = (numbers % 1 != 0) | (numbers < 0) | (numbers >= 2.0**63)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputValueError(
                f"{self.path}, line {line + row}: field 'item_id' must be an integer >= 0; got "
                f"{float(numbers[row])!r}."
            )
        items = numbers.astype(np.int64)
        found = np.minimum(np.searchsorted(self.sorted_ids, items), len(self.sorted_ids) - 1)
        unknown = self.sorted_ids[found] != items
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise InputValueError(
                f"{self.path}, line {line + row}: field 'item_id' is {items[row]}, which "
                f"{ITEM_FILE} does not list."
            )
        propensity = _numbers(frame, "propensity_score", self.path, line)
        bad = (propensity <= 0) | (propensity > 1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputValueError(
                f"{self.path}, line {line + row}: field 'propensity_score' must be in (0, 1]; "
                f"got {shown(propensity[row])}."
            )
        stamps = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="mixed")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise InputValueError(
                f"{self.path}, line {line + row}: field 'timestamp' must be a time; got "
                f"{shown(frame['timestamp'].iloc[row])}."
            )
        return {
            "slate": found,
            "position": _numbers(frame, "position", self.path, line).astype(np.int64),
            "click": _numbers(frame, "click", self.path, line),
            "propensity": propensity,
            "time": stamps.dt.tz_localize(None)
            .to_numpy()
            .astype("datetime64[us]")
            .astype(np.int64),
            "context": self._context(frame, line),
        }

    def _context(self, frame: pd.DataFrame, line: int) -> NDArray[np.float64]:
        """The encoded context columns; a numeric column (numeric in the first chunk) must
        hold finite numbers on every line."""
        for name in self.encoder.numeric:
            _numbers(frame, name, self.path, line)
        return self.encoder.encode(frame)

    def add_positions(self, buffer: RowBuffer, frame: pd.DataFrame, line: int) -> None:
        """One request per row; the position as one-hot context columns."""
        c = self._columns(frame, line)
        one_hot = np.eye(self.top)[c["position"] - 1]
        context = np.concatenate([c["context"], one_hot], axis=1)
        for row in range(len(frame)):
            self._add(buffer, line + row, c["time"][row], context[row], c["slate"][row : row + 1],
                      c["propensity"][row : row + 1], c["click"][row : row + 1])  # fmt: skip

    def add_impressions(self, buffer: RowBuffer, frame: pd.DataFrame, line: int) -> None:
        """One request per impression; an impression cut by the chunk waits for the next."""
        if self.tail is not None:
            line, frame = self.tail[0], pd.concat([self.tail[1], frame], ignore_index=True)
            self.tail = None
        c = self._columns(frame, line)
        keys = np.concatenate([c["time"][:, None].astype(np.float64), c["context"]], axis=1)
        start = np.ones(len(frame), dtype=bool)
        start[1:] = (keys[1:] != keys[:-1]).any(axis=1) | (c["position"][1:] <= c["position"][:-1])
        starts = np.flatnonzero(start)
        if starts.size:
            self.tail = (line + int(starts[-1]), frame.iloc[starts[-1] :].reset_index(drop=True))
        for begin, end in itertools.pairwise(starts.tolist()):
            self._impression(buffer, c, begin, end, line)

    def finish(self, buffer: RowBuffer) -> None:
        """Write the last impression."""
        if self.tail is not None:
            line, frame = self.tail
            self.tail = None
            self._impression(buffer, self._columns(frame, line), 0, len(frame), line)

    def _impression(
        self, buffer: RowBuffer, c: dict[str, Any], begin: int, end: int, line: int
    ) -> None:
        positions = c["position"][begin:end]
        if not np.array_equal(positions, np.arange(1, self.top + 1)):
            raise InputValueError(
                f"{self.path}, line {line + begin}: the impression on lines {line + begin} to "
                f"{line + end - 1} shows positions {positions.tolist()}; every impression must "
                f"show positions 1 to {self.top} once, on consecutive lines in order."
            )
        slate = c["slate"][begin:end]
        if len(set(slate.tolist())) < len(slate):
            raise InputValueError(
                f"{self.path}, line {line + begin}: the impression on lines {line + begin} to "
                f"{line + end - 1} shows an item twice."
            )
        self._add(buffer, line + begin, c["time"][begin], c["context"][begin], slate,
                  c["propensity"][begin:end], c["click"][begin:end])  # fmt: skip

    def _add(self, buffer: RowBuffer, line: int, time: int, context: NDArray[np.float64],
             slate: NDArray[np.int64], propensity: NDArray[np.float64],
             click: NDArray[np.float64]) -> None:  # fmt: skip
        buffer.add(
            where=f"{self.path}, line {line}",
            request_id=self.requests,
            time=int(time),
            context=context,
            candidate_ids=self.candidates,
            candidate_features=None,
            slate=slate,
            slate_probability=float(np.prod(propensity)),
            position_probability=propensity,
            rewards=click,
            signals={},
        )
        self.requests += 1
