"""Fuzzing the log reader with corrupted files: every crafted file either reads back as a valid
table (the same one, when the damage was only to its form) or is refused with a one-line input
error that names the file; never another exception, never unbounded memory.

CI runs ``BANDITS_FUZZ_EXAMPLES`` cases (default 60); ``BANDITS_FUZZ_EXAMPLES=3000 scripts/test
-k fuzz`` runs more.
"""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from factories import assert_logs_equal, random_log
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bandits.logs import open_log, read_log, write_log
from bandits.logs.v1 import write_log_v1
from bandits.validation import InputError

EXAMPLES = int(os.environ.get("BANDITS_FUZZ_EXAMPLES", "60"))
MEMORY_BOUND = 256 * 2**20
"""Most memory (numpy, tracked by tracemalloc) reading one crafted 8-row log may take."""

ODD_VALUES = [float("nan"), float("inf"), -float("inf"), -1, 0, 2**62, -(2**63), 1e308, 0.5]
TYPES = ["string", "bool", "float32", "int32", "uint64", "double", "list", "large_list"]


def _convert(column: pa.ChunkedArray, target: str) -> pa.Array:
    values = column.to_pylist()
    if target == "string":
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if target == "list":
        return pa.array([v if isinstance(v, list) else [v] for v in values])
    if target == "large_list":
        rows = [v if isinstance(v, list) else [v] for v in values]
        return pa.array(rows, pa.large_list(pa.array([x for r in rows for x in r]).type))
    if target == "bool":
        return pa.array([bool(v) if not isinstance(v, list) else [bool(x) for x in v]
                         for v in values])  # fmt: skip
    kind = {"float32": pa.float32(), "int32": pa.int32(), "uint64": pa.uint64(),
            "double": pa.float64()}[target]  # fmt: skip
    inner = column.type
    while pa.types.is_list(inner) or pa.types.is_fixed_size_list(inner):
        inner = inner.value_type
        kind = pa.list_(kind)
    return pa.array(values, kind)


@st.composite
def damage(draw, table: pa.Table, metadata: dict[bytes, bytes]):
    """A damaged (table, metadata) pair and whether the damage touches only the form."""
    kind = draw(st.sampled_from(["metadata", "type", "columns", "value", "length", "null"]))
    names = table.column_names
    if kind == "metadata":
        keys = sorted(k for k in metadata if k.startswith(b"bandits."))
        key = draw(st.sampled_from(keys))
        value = draw(st.one_of(
            st.none(), st.binary(max_size=12),
            st.sampled_from([b"-1", b"0", b"3", b"99999999999999999999", b"2147483648"]),
            st.integers(0, 10**7).map(lambda i: str(i).encode()),
        ))  # fmt: skip
        changed = dict(metadata)
        if value is None:
            changed.pop(key)
        else:
            changed[key] = value
        return table, changed, "metadata"
    name = draw(st.sampled_from(names))
    index = names.index(name)
    if kind == "type":
        target = draw(st.sampled_from(TYPES))
        try:
            column = _convert(table.column(name), target)
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            assume(False)
        # a cast that rounds the values (to float32, floats to int32) changes the data itself
        lossless = column.to_pylist() == table.column(name).to_pylist()
        return table.set_column(index, name, column), metadata, "type" if lossless else "value"
    if kind == "columns":
        action = draw(st.sampled_from(["drop", "duplicate", "extra"]))
        if action == "drop":
            return table.drop_columns([name]), metadata, "columns"
        if action == "duplicate":
            return table.append_column(name, table.column(name)), metadata, "columns"
        return table.append_column("extra", pa.array(range(table.num_rows))), metadata, "columns"
    values = table.column(name).to_pylist()
    assume(values)
    row = draw(st.integers(0, len(values) - 1))
    if kind == "null":
        values[row] = None
        column = pa.array(values, table.column(name).type)
        return table.set_column(index, name, column), metadata, "null"
    if kind == "length":
        assume(isinstance(values[row], list))
        if values[row] and draw(st.booleans()):
            values[row] = values[row][:-1]
        else:
            values[row] = [*values[row], values[row][0] if values[row] else 0]
        return table.set_column(index, name, pa.array(values)), metadata, "length"
    odd = draw(st.sampled_from(ODD_VALUES))
    if isinstance(values[row], list):
        assume(values[row] and not isinstance(values[row][0], list))
        values[row] = [odd, *values[row][1:]]
    elif isinstance(values[row], str):
        values[row] = str(odd)
    else:
        values[row] = odd
    try:
        column = pa.array(values)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        assume(False)
    return table.set_column(index, name, column), metadata, "value"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(seed=st.integers(0, 2**32 - 1), version=st.sampled_from([1, 2]), data=st.data())
def test_a_corrupted_log_reads_back_or_is_refused_in_one_line(seed, version, data):
    log = random_log(np.random.default_rng(seed), n_requests=8, max_candidates=5, n_item=2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        write_log(log, path) if version == 2 else write_log_v1([log], path)
        parquet = pq.ParquetFile(path)
        metadata = dict(parquet.metadata.metadata)
        metadata.pop(b"ARROW:schema", None)
        table = parquet.read().replace_schema_metadata(None)
        table, metadata, kind = data.draw(damage(table, metadata))
        pq.write_table(table.replace_schema_metadata(metadata), path)
        tracemalloc.start()
        try:
            back = read_log(path)
        except (InputError, OSError) as error:
            message = str(error)
            assert "\n" not in message and str(path) in message, message
        else:
            if kind in ("type", "metadata"):
                assert_logs_equal(log, back)  # damage to the form must not change the data
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peak < MEMORY_BOUND, peak


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), version=st.sampled_from([1, 2]), data=st.data())
def test_a_log_with_damaged_bytes_reads_back_or_is_refused_in_one_line(seed, version, data):
    log = random_log(np.random.default_rng(seed), n_requests=8, max_candidates=5, n_item=2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        write_log(log, path) if version == 2 else write_log_v1([log], path)
        target = data.draw(st.sampled_from(open_log(path).files))  # the rows or the items
        blob = bytearray(target.read_bytes())
        if data.draw(st.booleans()):
            blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        else:
            for at in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=8)):
                blob[at] ^= data.draw(st.integers(1, 255))
        target.write_bytes(bytes(blob))
        try:
            read_log(path)
        except (InputError, OSError) as error:
            message = str(error)  # names the damaged file (the rows or the item table)
            assert "\n" not in message and str(target) in message, message
