"""Schema version 1 (features repeated per candidate): still read, converted, and rewritten."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import assert_logs_equal, random_log
from typer.testing import CliRunner

from bandits.cli import app
from bandits.logged import LoggedBandit
from bandits.logs import iter_log_batches, open_log, read_log, rewrite_log
from bandits.logs.v1 import write_log_v1
from bandits.validation import InputValueError


def _v1_file(tmp_path, seed=0, parts=(7, 5), **shape):
    rng = np.random.default_rng(seed)
    logs = [random_log(rng, **shape, n_requests=n) for n in parts]
    path = write_log_v1(logs, tmp_path / "old.parquet")
    return path, LoggedBandit.concat(logs)


def test_a_v1_log_reads_back_as_the_same_table(tmp_path):
    path, log = _v1_file(tmp_path)
    assert open_log(path).version == 1 and open_log(path).items is None
    assert_logs_equal(log, read_log(path))
    assert_logs_equal(log, LoggedBandit.concat(list(iter_log_batches(path, batch_bytes=1))))


def test_a_v1_log_of_items_without_features_reads_back(tmp_path):
    path, log = _v1_file(tmp_path, n_item=0)
    back = read_log(path)
    assert back.observation.n_item_features == 0
    assert_logs_equal(log, back)


def test_rewriting_v1_as_v2_keeps_every_row(tmp_path):
    path, log = _v1_file(tmp_path, parts=(9, 4, 6))
    rewrite_log(path, tmp_path / "new.parquet", batch_bytes=1)
    assert open_log(tmp_path / "new.parquet").version == 2
    assert_logs_equal(log, read_log(tmp_path / "new.parquet"))
    with pytest.raises(InputValueError, match="would replace the log being read"):
        rewrite_log(path, path, overwrite=True)


def test_bandits_upgrade_rewrites_from_the_command_line(tmp_path):
    path, log = _v1_file(tmp_path)
    result = CliRunner().invoke(app, ["upgrade", str(path), "--out", str(tmp_path / "v2.parquet")])
    assert result.exit_code == 0, result.output
    assert "schema version 2" in result.output
    assert_logs_equal(log, read_log(tmp_path / "v2.parquet"))


def _edit(path: Path, name: str, change) -> None:
    """Replace column ``name`` by ``change(its rows as lists)`` (a list or an Arrow array)."""
    table = pq.read_table(path)
    new = change(table.column(name).to_pylist())
    new = new if isinstance(new, pa.Array) else pa.array(new)
    pq.write_table(table.set_column(table.schema.get_field_index(name), name, new), path)


def test_short_candidate_feature_vector_names_row_and_candidate(tmp_path):
    path, _ = _v1_file(tmp_path, parts=(4,), n_item=2)

    def cut(features):
        features[2][1] = features[2][1][:1]
        return features

    _edit(path, "candidate_features", cut)
    with pytest.raises(InputValueError, match=r"2 values per candidate.*row 2, candidate 1 has 1"):
        read_log(path)


def test_short_slate_row_is_named(tmp_path):
    path, _ = _v1_file(tmp_path, parts=(4,))

    def cut(slates):
        slates[2] = slates[2][:1]
        return slates

    _edit(path, "slate", cut)
    with pytest.raises(
        InputValueError, match=r"column 'slate' must have 2 values on every row.*row 2"
    ):
        read_log(path)


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("slate", lambda rows: [[3.7, 1.0] if i == 2 else r for i, r in enumerate(rows)],
         r"column 'slate' must hold integers within int64; row 2 has 3.7"),
        ("request_id", lambda rows: [0.5 if i == 1 else float(r) for i, r in enumerate(rows)],
         r"column 'request_id' must hold integers within int64; row 1 has 0.5"),
        ("user_id", lambda rows: ["u"] * len(rows),
         r"column 'user_id' must hold a number per row; it holds string"),
        ("time", lambda rows: pa.array([2**64 - 1] * len(rows), pa.uint64()),
         r"column 'time' must hold integers within int64"),
        ("time", lambda rows: pa.array([True] * len(rows)),
         r"column 'time' must hold a number per row; it holds bool"),
        ("slate_probability", lambda rows: pa.array([True] * len(rows)),
         r"column 'slate_probability' must hold a number per row; it holds bool"),
        ("rewards", lambda rows: [["a", "b"]] * len(rows),
         r"column 'rewards' must hold a list of numbers per row; it holds list<element: string>"),
    ],
)  # fmt: skip
def test_fractional_or_huge_ids_are_rejected_not_truncated(tmp_path, name, values, message):
    path, _ = _v1_file(tmp_path, parts=(4,))
    _edit(path, name, values)
    with pytest.raises(InputValueError, match=message):
        read_log(path)


def test_batches_with_different_history_widths_read_back(tmp_path):
    rng = np.random.default_rng(3)
    parts = [random_log(rng, n_requests=4, history_length=1),
             random_log(rng, n_requests=5, history_length=4)]  # fmt: skip
    path = write_log_v1(parts, tmp_path / "old.parquet")
    assert_logs_equal(LoggedBandit.concat(parts), read_log(path))


def test_upgrade_refuses_outputs_it_must_not_write(tmp_path):
    path, _ = _v1_file(tmp_path)
    runner = CliRunner()
    (tmp_path / "run" / "logs").mkdir(parents=True)
    (tmp_path / "run" / "manifest.json").write_text('{"steps": {"simulate": {}}}')
    cases = [
        (tmp_path / "missing" / "new.parquet", "does not exist"),
        (tmp_path / "run" / "logs" / "new.parquet", "is in a run folder"),
        (tmp_path, "is a folder"),
        (path, "own input"),
    ]
    for out, words in cases:
        result = runner.invoke(app, ["upgrade", str(path), "--out", str(out), "--overwrite"])
        assert result.exit_code == 2 and words in " ".join(result.output.split()), result.output
    assert not (tmp_path / "missing").exists()
    assert list((tmp_path / "run" / "logs").iterdir()) == []
