"""Logs on disk, schema version 2: round trips, streaming, item tables, refused files, atomic
writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import assert_logs_equal, random_log
from hypothesis import given, settings
from hypothesis import strategies as st

from bandits.decision import SlateDecision
from bandits.logged import LoggedBandit
from bandits.logs import (
    LogWriter,
    item_table_path,
    iter_log_batches,
    open_log,
    read_item_table,
    read_log,
    rewrite_log,
    write_log,
)
from bandits.logs import parquet as parquet_module
from bandits.logs.atomic import machine_id
from bandits.logs.parquet import log_to_arrow
from bandits.validation import InputValueError


def with_marginals(log: LoggedBandit) -> LoggedBandit:
    """The log with uniform logging marginals (and probabilities that agree with them)."""
    obs = log.observation
    share = obs.candidate_mask / obs.n_candidates[:, None]
    marginals = np.repeat(share[:, :, None], obs.slate_size, axis=2)
    shown = np.repeat(1.0 / obs.n_candidates[:, None], obs.slate_size, axis=1)
    decision = SlateDecision(log.slates, shown.min(axis=1) / 2, shown, marginals)
    return LoggedBandit(obs, decision, log.feedback, log.policy_names)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_requests=st.integers(0, 12),
    slate_size=st.integers(1, 3),
    extra_candidates=st.integers(0, 4),
    n_context=st.integers(0, 4),
    n_item=st.integers(0, 3),
    history_length=st.integers(0, 3),
    signals=st.booleans(),
    marginals=st.booleans(),
)
def test_round_trip_keeps_every_column(
    seed, n_requests, slate_size, extra_candidates, n_context, n_item, history_length, signals,
    marginals,
):  # fmt: skip
    log = random_log(
        np.random.default_rng(seed),
        signals=signals,
        n_requests=n_requests,
        slate_size=slate_size,
        max_candidates=slate_size + extra_candidates,
        n_context=n_context,
        n_item=n_item,
        history_length=history_length,
    )
    if marginals:
        log = with_marginals(log)
    with tempfile.TemporaryDirectory() as folder:
        path = write_log(log, Path(folder) / "log.parquet")
        assert_logs_equal(log, read_log(path))
        streamed = list(iter_log_batches(path, batch_bytes=1))  # one row per batch
        assert [len(part) for part in streamed] == [1] * len(log)
        if streamed:
            assert_logs_equal(log, LoggedBandit.concat(streamed))


def test_items_are_stored_once_beside_the_log(tmp_path):
    log = random_log(np.random.default_rng(0), n_requests=50, max_candidates=6, n_item=3)
    path = write_log(log, tmp_path / "run.parquet")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[1] == "run.parquet" and names[0].startswith("run.items-")
    assert item_table_path(path) == tmp_path / names[0]
    items = read_item_table(tmp_path / names[0])
    shown = np.unique(log.observation.candidate_ids[log.observation.candidate_mask])
    np.testing.assert_array_equal(items.ids, shown)  # only the items the rows name
    assert "candidate_features" not in pq.read_schema(path).names
    metadata = pq.ParquetFile(path).metadata.metadata
    assert metadata[b"bandits.schema_version"] == b"2"
    assert metadata[b"bandits.item_table"] == names[0].encode()
    assert names[0] == f"run.items-{items.fingerprint()[:16]}.parquet"  # named by its content


def _padded_bytes(opened, batch):
    obs = batch.observation
    widest = obs.max_candidates * opened.bytes_per_candidate() + obs.history.shape[1] * 16
    names = batch.policy_names.dtype.itemsize  # a numpy string of the longest name
    return len(batch) * (opened.bytes_per_row() + widest + names)


def test_batches_are_sized_by_their_padded_memory_not_rows(tmp_path):
    log = random_log(np.random.default_rng(1), n_requests=100, max_candidates=5, min_candidates=5)
    opened = open_log(write_log(log, tmp_path / "log.parquet"))
    budget = 30 * _padded_bytes(opened, log.take(np.arange(1)))
    batches = list(opened.iter_batches(batch_bytes=budget))
    sizes = [len(b) for b in batches]
    assert sum(sizes) == 100 and max(sizes) == 30 and sizes[:2] == [30, 30]  # cut when full
    assert all(_padded_bytes(opened, b) <= budget for b in batches)


def test_one_wide_row_gets_a_batch_of_its_own_size(tmp_path):
    narrow = random_log(np.random.default_rng(2), n_requests=60, max_candidates=3, slate_size=1)
    wide = random_log(np.random.default_rng(3), n_requests=1, max_candidates=400,
                      min_candidates=400, slate_size=1)  # fmt: skip
    log = LoggedBandit.concat([narrow.take(np.arange(30)), wide, narrow.take(np.arange(30, 60))])
    opened = open_log(write_log(log, tmp_path / "log.parquet"))
    budget = 12 * _padded_bytes(opened, narrow.take(np.arange(1)))
    batches = list(opened.iter_batches(batch_bytes=budget))
    assert sum(len(b) for b in batches) == 61
    assert max(len(b) for b in batches) == 12  # narrow rows fill the budget
    assert any(b.observation.max_candidates == 400 and len(b) <= 2 for b in batches)
    assert all(_padded_bytes(opened, b) <= budget for b in batches if len(b) > 1)
    assert_logs_equal(log, LoggedBandit.concat(batches))


def test_errors_in_a_later_batch_name_the_files_row(tmp_path):
    log = random_log(np.random.default_rng(4), n_requests=40)
    path = write_log(log, tmp_path / "log.parquet")

    def nan_at_row_33(table, metadata):
        rewards = table.column("rewards").to_pylist()
        rewards[33][1] = float("nan")
        index = table.schema.get_field_index("rewards")
        return table.set_column(
            index, "rewards", pa.array(rewards, table.schema.field(index).type)
        ), metadata

    _rewrite(path, nan_at_row_33)
    with pytest.raises(InputValueError, match=r"rewards.*row 33, position 1 is nan"):
        list(iter_log_batches(path, batch_bytes=5_000))


def test_small_row_groups_are_read_in_joined_batches_within_the_budget(tmp_path):
    # a log written 10 rows at a time (as a simulation writes its steps) has a row group per
    # write; reading joins them into batches of the budget, and errors still name file rows
    log = random_log(np.random.default_rng(5), n_requests=100, max_candidates=5, min_candidates=5)
    path = tmp_path / "log.parquet"
    with LogWriter(path) as writer:
        for start in range(0, 100, 10):
            writer.write(log.take(np.arange(start, start + 10)))
            writer.flush()  # as a writer without buffering (or an older file) would
    opened = open_log(path)
    assert opened.n_row_groups == 10
    assert [len(b) for b in opened.iter_batches()] == [100]
    one = _padded_bytes(opened, log.take(np.arange(1)))
    # Arrow batches of 40 rows: groups of 10 are not small beside them and pass alone
    assert [len(b) for b in opened.iter_batches(batch_bytes=35 * one)] == [10] * 10
    budget = 80 * one  # Arrow batches of 93 rows: the groups are joined
    batches = list(opened.iter_batches(batch_bytes=budget))
    assert len(batches) < 10 and all(_padded_bytes(opened, b) <= budget for b in batches)
    assert_logs_equal(log, LoggedBandit.concat(batches))
    middle = list(opened.iter_batches(row_groups=range(3, 7)))
    assert_logs_equal(log.take(np.arange(30, 70)), LoggedBandit.concat(middle))

    parquet = pq.ParquetFile(path)
    table = parquet.read()  # rewritten in row groups of 10 with a NaN reward at row 57
    rewards = table.column("rewards").to_pylist()
    rewards[57][0] = float("nan")
    index = table.schema.get_field_index("rewards")
    table = table.set_column(index, "rewards", pa.array(rewards, table.schema.field(index).type))
    pq.write_table(table, path, row_group_size=10)
    assert open_log(path).n_row_groups == 10
    with pytest.raises(InputValueError, match=r"rewards.*row 57, position 0 is nan"):
        list(iter_log_batches(path, batch_bytes=budget))


def test_writer_streams_batches_into_one_log(tmp_path):
    rng = np.random.default_rng(2)
    parts = [random_log(rng, n_requests=n, max_candidates=4) for n in (5, 0, 7)]
    with LogWriter(tmp_path / "log.parquet", batch_bytes=64) as writer:
        for part in parts:
            writer.write(part)
    assert writer.n_rows == 12
    assert_logs_equal(LoggedBandit.concat(parts), read_log(tmp_path / "log.parquet"))


def test_writer_holds_small_batches_until_a_row_group_is_full(tmp_path):
    log = random_log(np.random.default_rng(6), n_requests=100, max_candidates=4)
    path = tmp_path / "log.parquet"
    one_row = log_to_arrow(log.take(np.arange(1))).nbytes
    with LogWriter(path, batch_bytes=45 * one_row) as writer:
        for start in range(0, 100, 10):
            writer.write(log.take(np.arange(start, start + 10)))
            assert path.exists() is False
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == 100 and len(sizes) < 10 and max(sizes) > 10, sizes
    assert_logs_equal(log, read_log(path))
    with LogWriter(path, overwrite=True) as writer:  # flush ends a row group
        writer.write(log.take(np.arange(30)))
        writer.flush()
        writer.write(log.take(np.arange(30, 100)))
    assert pq.ParquetFile(path).metadata.row_group(0).num_rows == 30
    assert_logs_equal(log, read_log(path))


def test_writer_keeps_what_it_was_given_when_the_caller_changes_its_arrays(tmp_path):
    # a held batch is a copy: the caller may reuse its arrays as soon as write returns
    log = random_log(np.random.default_rng(7), n_requests=20, max_candidates=4)
    expected = log.take(np.arange(20))  # copies
    path = tmp_path / "log.parquet"
    with LogWriter(path) as writer:
        writer.write(log)
        log.feedback.rewards.base[:] = 123.0  # the caller's array (the log holds a read-only view)
        log.observation.context[:] = -1.0
        log.decision.slates[:] = 0
    assert_logs_equal(expected, read_log(path))


def test_writer_refuses_a_batch_of_another_layout(tmp_path):
    rng = np.random.default_rng(3)
    with pytest.raises(InputValueError, match="layout of the first"):
        with LogWriter(tmp_path / "log.parquet") as writer:
            writer.write(random_log(rng, slate_size=2))
            writer.write(random_log(rng, slate_size=1))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_log_is_not_replaced_unless_asked(tmp_path):
    old = random_log(np.random.default_rng(4), n_requests=3)
    write_log(old, tmp_path / "log.parquet")
    with pytest.raises(FileExistsError, match="already exists"):
        write_log(random_log(np.random.default_rng(5)), tmp_path / "log.parquet")
    assert_logs_equal(old, read_log(tmp_path / "log.parquet"))
    new = random_log(np.random.default_rng(5), n_requests=4)
    write_log(new, tmp_path / "log.parquet", overwrite=True)
    assert_logs_equal(new, read_log(tmp_path / "log.parquet"))
    assert len(list(tmp_path.iterdir())) == 2  # the old item table went with the old rows


def test_a_failure_between_the_two_renames_keeps_the_old_log_whole(tmp_path, monkeypatch):
    old = random_log(np.random.default_rng(4), n_requests=3)
    write_log(old, tmp_path / "log.parquet")
    calls = []

    def publish_then_fail(temporary, target, *, replace):
        calls.append(target.name)
        if len(calls) == 2:  # the item table is in place, the rows are not yet
            raise OSError("killed between the renames")
        original(temporary, target, replace=replace)

    original = parquet_module.publish
    monkeypatch.setattr(parquet_module, "publish", publish_then_fail)
    with pytest.raises(OSError, match="killed"):
        write_log(random_log(np.random.default_rng(5)), tmp_path / "log.parquet", overwrite=True)
    monkeypatch.undo()
    assert_logs_equal(old, read_log(tmp_path / "log.parquet"))
    assert len(list(tmp_path.iterdir())) == 2  # no temporary or new item table left behind


def test_a_missing_or_foreign_item_table_is_refused(tmp_path):
    a = write_log(random_log(np.random.default_rng(6)), tmp_path / "a.parquet")
    b = write_log(random_log(np.random.default_rng(7)), tmp_path / "b.parquet")
    item_table_path(b).replace(item_table_path(a))
    with pytest.raises(
        InputValueError, match=r"is not the item table .*a\.parquet was written with"
    ):
        read_log(a)
    with pytest.raises(FileNotFoundError, match=r"its item table .*b\.items-.* is missing"):
        read_log(b)


def _rewrite(path: Path, change) -> None:
    """Rewrite a log's rows file with ``change(table, metadata)`` applied."""
    parquet = pq.ParquetFile(path)
    metadata = dict(parquet.metadata.metadata)
    metadata.pop(b"ARROW:schema", None)
    table, metadata = change(parquet.read().replace_schema_metadata(None), metadata)
    pq.write_table(table.replace_schema_metadata(metadata), path)


def _log_file(tmp_path, n_requests=5, **shape):
    return write_log(
        random_log(np.random.default_rng(2), n_requests=n_requests, **shape),
        tmp_path / "log.parquet",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t, m: (t, m | {b"bandits.schema_version": b"99"}),
         "schema version '99' is unknown"),
        (lambda t, m: (t, {k: v for k, v in m.items() if k != b"bandits.schema_version"}),
         "not a bandits log"),
        (lambda t, m: (t.drop_columns(["rewards"]), m), "lacks the column 'rewards'"),
        (lambda t, m: (t.append_column("extra", pa.array(range(t.num_rows))), m),
         r"column\(s\) \['extra'\] that its schema does not define"),
        (lambda t, m: (t.set_column(t.schema.get_field_index("user_id"), "user_id",
                                    pa.array(range(t.num_rows), pa.uint64())), m),
         "column 'user_id' must be int64; the file has uint64"),
        (lambda t, m: (t.set_column(t.schema.get_field_index("slate"), "slate",
                                    pa.array(t.column("slate").to_pylist())), m),
         r"column 'slate' must be fixed_size_list<.*int64>\[2\]; the file has list"),
        (lambda t, m: (t, m | {b"bandits.max_candidates": b"2"}),
         "has 5 candidates at row .*more than the 2 the file's metadata declares"),
        (lambda t, m: (t, m | {b"bandits.history_length": b"x"}),
         "'bandits.history_length' must be a whole number up to 100,000; got 'x'"),
        (lambda t, m: (t, m | {b"bandits.slate_size": b"99999999999999999999"}),
         "'bandits.slate_size' must be a whole number up to"),
        (lambda t, m: (t, m | {b"bandits.item_table": b"../elsewhere.parquet"}),
         "'bandits.item_table' must name a file beside the log"),
        (lambda t, m: (t, m | {b"bandits.item_table": b"\xff\xfe"}),
         "'bandits.item_table' must name a file beside the log"),
    ],
    ids=["version", "no-version", "missing-column", "extra-column", "uint64", "variable-list",
         "widths-exceed-metadata", "bad-metadata", "huge-width", "item-table-elsewhere",
         "item-table-not-utf8"],
)  # fmt: skip
def test_a_file_that_breaks_the_schema_is_refused_naming_the_problem(tmp_path, change, message):
    """Each case raises the toolkit's own input error (a one-line message on the command
    line), naming the file."""
    path = _log_file(tmp_path, max_candidates=5, min_candidates=5)
    _rewrite(path, change)
    with pytest.raises(InputValueError, match=message) as error:
        read_log(path)
    assert str(path) in str(error.value)


def test_invalid_rows_in_a_file_are_rejected_on_read(tmp_path):
    path = _log_file(tmp_path)

    def bad_probability(table, metadata):
        probabilities = table.column("slate_probability").to_numpy().copy()
        probabilities[3] = 2.0
        index = table.schema.get_field_index("slate_probability")
        return table.set_column(index, "slate_probability", pa.array(probabilities)), metadata

    _rewrite(path, bad_probability)
    with pytest.raises(InputValueError, match=r"'slate_probability'.*row 3 is 2.0"):
        read_log(path)


def test_nulls_are_refused_naming_the_row(tmp_path):
    path = _log_file(tmp_path)

    def null_time(table, metadata):
        times = table.column("time").to_pylist()
        times[2] = None
        index = table.schema.get_field_index("time")
        return table.set_column(index, "time", pa.array(times, pa.int64())), metadata

    _rewrite(path, null_time)
    with pytest.raises(InputValueError, match=r"column 'time' must not hold nulls; row 2 is null"):
        read_log(path)


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.parquet"):
        read_log(tmp_path / "nothing.parquet")
    with pytest.raises(InputValueError, match="is a folder"):
        read_log(tmp_path)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputValueError, match=r"junk\.parquet is not a readable Parquet file"):
        read_log(tmp_path / "junk.parquet")


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "log.parquet"
    old = random_log(np.random.default_rng(4), n_requests=3)
    write_log(old, target)

    def fail(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 truncated")
        raise OSError("disk full")

    before = sorted(tmp_path.iterdir())
    monkeypatch.setattr(parquet_module.pq, "write_table", fail)  # the item table's write
    with pytest.raises(OSError, match="disk full"):
        write_log(random_log(np.random.default_rng(5), n_requests=8), target, overwrite=True)
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == before
    assert_logs_equal(old, read_log(target))


def test_interrupted_first_write_leaves_nothing(tmp_path):
    rng = np.random.default_rng(5)
    with pytest.raises(KeyboardInterrupt):
        with LogWriter(tmp_path / "fresh.parquet") as writer:
            writer.write(random_log(rng))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_finishing_the_file_leaves_nothing_behind(tmp_path, monkeypatch):
    writer = LogWriter(tmp_path / "log.parquet")
    writer.write(random_log(np.random.default_rng(8)))

    def no_space(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(writer._writer, "close", no_space)
    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    here = machine_id()
    dead = tmp_path / f".bandits-tmp.log.parquet.4194000-{'0' * 32}"  # no machine: this one
    dead_here = tmp_path / f".bandits-tmp.log.parquet.@{here}.4194000-{'4' * 32}"
    live = tmp_path / f".bandits-tmp.log.parquet.{os.getpid()}-{'1' * 32}"
    stranger = tmp_path / f".log.parquet.4194000-{'2' * 32}.tmp"  # someone else's naming
    impossible = tmp_path / f".bandits-tmp.x.99999999999999999999-{'3' * 32}"
    elsewhere = tmp_path / f".bandits-tmp.log.parquet.@node-7-0badcafe.4194000-{'5' * 32}"
    for path in (dead, dead_here, live, stranger, impossible, elsewhere):
        path.write_bytes(b"partial")
    write_log(random_log(np.random.default_rng(9)), tmp_path / "log.parquet")
    assert not dead.exists() and not dead_here.exists()
    assert live.exists() and stranger.exists() and impossible.exists()
    assert elsewhere.exists()  # another machine's process: this one cannot tell if it lives


def test_damaged_data_pages_are_refused_not_read_as_numbers(tmp_path):
    log = random_log(np.random.default_rng(10), n_requests=400, n_context=6)
    path = write_log(log, tmp_path / "log.parquet")
    blob = bytearray(path.read_bytes())
    middle = len(blob) // 3
    blob[middle : middle + 512] = bytes(range(256)) * 2
    path.write_bytes(bytes(blob))
    with pytest.raises(InputValueError, match=r"log\.parquet"):
        read_log(path)


def test_lying_widths_in_the_metadata_do_not_shrink_batches(tmp_path):
    log = random_log(np.random.default_rng(11), n_requests=200, max_candidates=4)
    path = write_log(log, tmp_path / "log.parquet")
    _rewrite(path, lambda t, m: (t, m | {b"bandits.max_candidates": b"100000"}))
    batches = list(iter_log_batches(path, batch_bytes=1 << 20))
    assert len(batches) == 1 and len(batches[0]) == 200


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({b"bandits.slate_size": b"9" * 5000}, "'bandits.slate_size' must be a whole number"),
        ({b"junk": b"x" * (2 << 20)}, "metadata takes"),
    ],
)
def test_oversized_metadata_is_refused(tmp_path, metadata, words):
    path = write_log(random_log(np.random.default_rng(12)), tmp_path / "log.parquet")
    _rewrite(path, lambda t, m: (t, m | metadata))
    with pytest.raises(InputValueError, match=words):
        read_log(path)


def test_replacing_a_copy_never_removes_another_logs_item_table(tmp_path):
    original = write_log(random_log(np.random.default_rng(13)), tmp_path / "uniform.parquet")
    shutil.copy(original, tmp_path / "copy.parquet")  # points at uniform's item table
    write_log(random_log(np.random.default_rng(14)), tmp_path / "copy.parquet", overwrite=True)
    read_log(original)  # its item table is still there
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}).replace_schema_metadata(
        {b"bandits.item_table": b"precious.txt"}), plain)  # fmt: skip
    write_log(random_log(np.random.default_rng(15)), plain, overwrite=True)
    assert precious.read_text() == "keep me"


def test_every_flipped_bit_is_refused_or_changes_nothing(tmp_path):
    """A sweep over a small log and its item table: with page checksums, the columns' digest
    and the footer's row counts checked, no single damaged bit reads back as other data."""
    log = random_log(np.random.default_rng(16), n_requests=6, max_candidates=3, n_item=1)
    path = write_log(log, tmp_path / "log.parquet")
    for target in open_log(path).files:
        blob = target.read_bytes()
        for at in range(0, len(blob), 3):
            damaged = bytearray(blob)
            damaged[at] ^= 0x20
            target.write_bytes(bytes(damaged))
            try:
                back = read_log(path)
            except (InputValueError, OSError):
                continue
            assert_logs_equal(log, back)
        target.write_bytes(blob)


def test_context_names_are_recorded_read_back_and_kept_by_a_rewrite(tmp_path):
    log = random_log(np.random.default_rng(0), n_requests=8, n_context=3)
    names = ["taste_0", "device_phone", "day_sin"]
    with LogWriter(tmp_path / "named.parquet", context_names=names) as writer:
        writer.write(log)
    assert open_log(tmp_path / "named.parquet").context_names == names
    assert_logs_equal(read_log(tmp_path / "named.parquet"), log)
    rewrite_log(tmp_path / "named.parquet", tmp_path / "copy.parquet")
    assert open_log(tmp_path / "copy.parquet").context_names == names
    write_log(log, tmp_path / "plain.parquet")  # older writers: no names, read as before
    assert open_log(tmp_path / "plain.parquet").context_names is None


def test_context_names_must_match_the_context_width(tmp_path):
    log = random_log(np.random.default_rng(0), n_requests=8, n_context=3)
    writer = LogWriter(tmp_path / "log.parquet", context_names=["a", "b"])
    with pytest.raises(InputValueError, match="2 context names for 3 context features"):
        writer.write(log)
    writer.abort()
    with pytest.raises(InputValueError, match="must be names"):
        LogWriter(tmp_path / "log.parquet", context_names=["a", 1, "c"])


def test_damaged_context_names_are_refused_naming_the_key(tmp_path):
    log = random_log(np.random.default_rng(0), n_requests=8, n_context=3)
    path = tmp_path / "log.parquet"
    with LogWriter(path, context_names=["a", "b", "c"]) as writer:
        writer.write(log)
    table = pq.read_table(path)
    metadata = dict(pq.ParquetFile(path).metadata.metadata)
    metadata[b"bandits.context_names"] = b'["a", "b"]'
    pq.write_table(table.replace_schema_metadata(metadata), path)
    with pytest.raises(InputValueError, match=r"'bandits\.context_names' must list 3"):
        open_log(path)
