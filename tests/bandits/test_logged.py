"""The logged-data table: construction checks, Parquet round trips, atomic writes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import assert_logs_equal, random_log
from hypothesis import given, settings
from hypothesis import strategies as st

from bandits import parquet
from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_requests=st.integers(0, 12),
    slate_size=st.integers(1, 3),
    extra_candidates=st.integers(0, 4),
    n_context=st.integers(0, 4),
    n_item=st.integers(1, 3),
    history_length=st.integers(0, 3),
    signals=st.booleans(),
)
def test_parquet_round_trip_keeps_every_column(
    seed, n_requests, slate_size, extra_candidates, n_context, n_item, history_length, signals
):
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
    with tempfile.TemporaryDirectory() as folder:
        path = log.to_parquet(Path(folder) / "log.parquet")
        assert_logs_equal(log, LoggedBandit.from_parquet(path))
        streamed = list(parquet.iter_log_batches(path, batch_size=5))
        assert sum(len(part) for part in streamed) == len(log)
        if streamed:
            assert_logs_equal(log, LoggedBandit.concat(streamed))


def test_schema_version_is_in_file_metadata(tmp_path):
    path = random_log(np.random.default_rng(0)).to_parquet(tmp_path / "log.parquet")
    metadata = pq.read_schema(path).metadata
    assert metadata[b"bandits.schema_version"] == b"1"


def _parts(seed=0, **shape):
    log = random_log(np.random.default_rng(seed), **shape)
    return log.observation, log.decision, log.feedback, log.policy_names


def _with(array, index, value):
    copy = np.array(array, dtype=float if isinstance(value, float) else array.dtype)
    copy[index] = value
    return copy


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda o, d, f: (o, d, SlateFeedback(_with(f.rewards, (3, 1), np.nan))),
            r"'rewards'.*finite; row 3, position 1 is nan",
        ),
        (
            lambda o, d, f: (o, d, SlateFeedback(_with(f.rewards, (2, 0), np.inf))),
            r"'rewards'.*finite; row 2, position 0 is inf",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(d.slates, _with(d.slate_probability, 4, 0.0), d.position_probability),
                f,
            ),
            r"'slate_probability'.*\(0, 1\]; row 4 is 0.0",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    d.slates, d.slate_probability, _with(d.position_probability, (1, 1), 1.5)
                ),
                f,
            ),
            r"'position_probability'.*\(0, 1\]; row 1, position 1 is 1.5",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    _with(d.slates, (5, 1), d.slates[5, 0]),
                    d.slate_probability,
                    d.position_probability,
                ),
                f,
            ),
            r"must not repeat an item within a slate; row 5",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    _with(d.slates, (2, 0), o.n_candidates[2]),
                    d.slate_probability,
                    d.position_probability,
                ),
                f,
            ),
            r"must index the row's candidates.*row 2, position 0 is",
        ),
        (
            lambda o, d, f: (o, d, SlateFeedback(f.rewards[:, :1])),
            r"column 'rewards' must have shape \(6, 2\); got \(6, 1\)",
        ),
    ],
    ids=[
        "nan-reward",
        "inf-reward",
        "zero-probability",
        "probability-above-one",
        "duplicate",
        "outside-candidates",
        "reward-shape",
    ],
)
def test_bad_tables_are_rejected_naming_column_row_and_value(make, message):
    obs, decision, feedback, names = _parts(n_requests=6, max_candidates=4, slate_size=2)
    with pytest.raises(ValueError, match=message):
        LoggedBandit(*make(obs, decision, feedback), names)


def test_observation_rejects_too_few_candidates_naming_the_row():
    obs, *_ = _parts(n_requests=4, slate_size=2)
    counts = obs.n_candidates.copy()
    counts[3] = 1
    values = obs.to_mapping() | {"n_candidates": counts}
    with pytest.raises(ValueError, match=r"'n_candidates'.*row 3 is 1"):
        SlateObservation.from_mapping(values)


def _rewrite_metadata(path: Path, key: bytes, value: bytes | None) -> None:
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    if value is None:
        metadata.pop(key)
    else:
        metadata[key] = value
    pq.write_table(table.replace_schema_metadata(metadata), path)


def test_unknown_schema_version_is_rejected(tmp_path):
    path = random_log(np.random.default_rng(1)).to_parquet(tmp_path / "log.parquet")
    _rewrite_metadata(path, b"bandits.schema_version", b"99")
    with pytest.raises(ValueError, match=r"log.parquet: schema version '99' is unknown"):
        LoggedBandit.from_parquet(path)


def test_file_without_bandits_metadata_is_rejected(tmp_path):
    path = random_log(np.random.default_rng(1)).to_parquet(tmp_path / "log.parquet")
    _rewrite_metadata(path, b"bandits.schema_version", None)
    with pytest.raises(ValueError, match="not a bandits log"):
        LoggedBandit.from_parquet(path)


def test_invalid_rows_in_a_file_are_rejected_on_read(tmp_path):
    path = random_log(np.random.default_rng(2), n_requests=5).to_parquet(tmp_path / "log.parquet")
    table = pq.read_table(path)
    probabilities = table.column("slate_probability").to_numpy().copy()
    probabilities[3] = 2.0
    table = table.set_column(
        table.schema.get_field_index("slate_probability"),
        "slate_probability",
        pa.array(probabilities),
    )
    pq.write_table(table, path)
    with pytest.raises(ValueError, match=r"'slate_probability'.*row 3 is 2.0"):
        LoggedBandit.from_parquet(path)


def test_short_slate_row_in_a_file_is_rejected_on_read(tmp_path):
    path = random_log(np.random.default_rng(3), n_requests=4).to_parquet(tmp_path / "log.parquet")
    table = pq.read_table(path)
    slates = table.column("slate").to_pylist()
    slates[2] = slates[2][:1]
    table = table.set_column(table.schema.get_field_index("slate"), "slate", pa.array(slates))
    pq.write_table(table, path)
    with pytest.raises(
        ValueError, match=r"column 'slate' must have 2 values on every row.*row 2 has 1"
    ):
        LoggedBandit.from_parquet(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.parquet"):
        LoggedBandit.from_parquet(tmp_path / "nothing.parquet")


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "log.parquet"
    old = random_log(np.random.default_rng(4), n_requests=3)
    old.to_parquet(target)

    def write_half_then_fail(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 truncated")
        raise OSError("disk full")

    monkeypatch.setattr(parquet.pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        random_log(np.random.default_rng(5), n_requests=8).to_parquet(target)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet"]
    assert_logs_equal(old, LoggedBandit.from_parquet(target))


def test_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1")
        raise KeyboardInterrupt

    monkeypatch.setattr(parquet.pq, "write_table", fail)
    with pytest.raises(KeyboardInterrupt):
        random_log(np.random.default_rng(5)).to_parquet(tmp_path / "fresh.parquet")
    assert list(tmp_path.iterdir()) == []


def test_concat_pads_candidates_and_history():
    rng = np.random.default_rng(6)
    narrow = random_log(rng, n_requests=3, max_candidates=3, history_length=1)
    wide = random_log(rng, n_requests=2, max_candidates=6, history_length=4)
    both = LoggedBandit.concat([narrow, wide])
    assert both.observation.candidate_ids.shape == (5, 6)
    assert both.observation.history.shape == (5, 4)
    np.testing.assert_array_equal(both.observation.candidate_ids[:3, 3:], -1)
    assert_logs_equal(both.take([3, 4]), LoggedBandit.concat([wide]))


def test_concat_refuses_tables_of_different_slate_size():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match="one slate_size; table 0 has 2, table 1 has 1"):
        LoggedBandit.concat([random_log(rng, slate_size=2), random_log(rng, slate_size=1)])


def test_split_is_by_time():
    log = random_log(np.random.default_rng(8), n_requests=10)
    early, late = log.split(0.3)
    assert len(early) == 3 and len(late) == 7
    assert early.observation.times.max() <= late.observation.times.min()


def test_short_candidate_feature_vector_in_a_file_names_row_and_candidate(tmp_path):
    log = random_log(np.random.default_rng(0), n_requests=4, n_item=2)
    path = log.to_parquet(tmp_path / "log.parquet")
    table = pq.read_table(path)
    features = table.column("candidate_features").to_pylist()
    features[2][1] = features[2][1][:1]
    index = table.schema.get_field_index("candidate_features")
    pq.write_table(table.set_column(index, "candidate_features", pa.array(features)), path)
    with pytest.raises(ValueError, match=r"2 values per candidate.*row 2, candidate 1 has 1"):
        LoggedBandit.from_parquet(path)


def _observation_values():
    obs, *_ = _parts(n_requests=4, max_candidates=4, slate_size=2, history_length=3)
    return obs.to_mapping()


def test_repeated_candidate_ids_are_rejected_naming_row_and_item():
    values = _observation_values()
    ids = values["candidate_ids"].copy()
    ids[1, 1] = ids[1, 0]
    with pytest.raises(ValueError, match=rf"row 1 has item {ids[1, 0]} as candidates \[0, 1\]"):
        SlateObservation.from_mapping(values | {"candidate_ids": ids})


def test_nonzero_feature_padding_is_rejected():
    values = _observation_values()
    features = values["candidate_features"].copy()
    row = int(np.flatnonzero(values["n_candidates"] < 4)[0])
    features[row, 3, 0] = np.nan
    with pytest.raises(ValueError, match=rf"must be 0 after.*row {row}, candidate 3 \(padding\)"):
        SlateObservation.from_mapping(values | {"candidate_features": features})


def test_history_error_names_the_entry_after_the_gap():
    values = _observation_values()
    history = np.array([[5, -1, 7]] * 4)
    with pytest.raises(ValueError, match=r"'history'.*row 0, entry 2 is 7"):
        SlateObservation.from_mapping(values | {"history": history})


def test_fractional_slate_size_is_not_truncated():
    values = _observation_values()
    with pytest.raises(TypeError, match=r"'slate_size' parameter of SlateObservation.*2.7"):
        SlateObservation.from_mapping(values | {"slate_size": np.asarray(2.7)})


def test_slate_probability_cannot_exceed_a_position_probability():
    with pytest.raises(ValueError, match=r"row 1 has 0.9 > min\(position_probability\) = 0.1"):
        SlateDecision([[0, 1], [1, 0]], [0.5, 0.9], [[0.5, 0.6], [0.1, 0.95]])


@pytest.mark.parametrize("fraction", [-0.3, 1.5, float("nan")])
def test_split_rejects_fractions_outside_zero_one(fraction):
    log = random_log(np.random.default_rng(9), n_requests=5)
    with pytest.raises(ValueError, match=r"'fraction' parameter of LoggedBandit\.split"):
        log.split(fraction)


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("slate", lambda rows: [[3.7, 1.0] if i == 2 else r for i, r in enumerate(rows)],
         r"column 'slate' must hold integers; row 2 has 3.7"),
        ("request_id", lambda rows: [0.5 if i == 1 else float(r) for i, r in enumerate(rows)],
         r"column 'request_id' must hold integers; row 1 has 0.5"),
        ("user_id", lambda rows: ["u"] * len(rows), r"column 'user_id' must hold integers"),
    ],
)  # fmt: skip
def test_fractional_ids_in_a_file_are_rejected_not_truncated(tmp_path, name, values, message):
    path = random_log(np.random.default_rng(10), n_requests=4).to_parquet(tmp_path / "l.parquet")
    table = pq.read_table(path)
    index = table.schema.get_field_index(name)
    new = pa.array(values(table.column(name).to_pylist()))
    pq.write_table(table.set_column(index, name, new), path)
    with pytest.raises(ValueError, match=message):
        LoggedBandit.from_parquet(path)
