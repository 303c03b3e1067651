"""OBD import on a hand-written fixture in the OBD layout (tests/bandits/logs/data/obd)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bandits.logs import read_log
from bandits.logs.importers import import_obd, obd, to_obp
from bandits.validation import InputValueError

FOLDER = Path(__file__).parent / "data" / "obd" / "random" / "all"
CONTEXT = [  # affinity 0..3, then one-hot user_feature_0 (2 levels), _1 (1), _2 (2), _3 (1)
    [0, 1, 0, 0, 1, 0, 1, 1, 0, 1],
    [2, 0, 0, 1, 0, 1, 1, 0, 1, 1],
]
ITEMS = [  # item_feature_0, then one-hot item_feature_1, _2, _3 (2 levels each)
    [-0.5, 1, 0, 0, 1, 1, 0],
    [0.25, 1, 0, 1, 0, 1, 0],
    [1.0, 0, 1, 0, 1, 1, 0],
    [-1.5, 0, 1, 1, 0, 0, 1],
]


def micros(text):
    return (datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)) // np.timedelta64(
        1, "us"
    ).item()


def test_impressions_become_slates(tmp_path):
    summary = import_obd(FOLDER, tmp_path / "log.parquet")
    assert (summary.rows, summary.skipped) == (2, {})
    log = read_log(tmp_path / "log.parquet")
    np.testing.assert_array_equal(log.observation.context, CONTEXT)
    np.testing.assert_array_equal(log.observation.candidate_ids, [[0, 1, 2, 3]] * 2)
    np.testing.assert_array_equal(log.items.features, ITEMS)
    np.testing.assert_array_equal(log.slates, [[2, 0, 3], [1, 2, 0]])
    np.testing.assert_array_equal(log.rewards, [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(log.decision.position_probability, np.full((2, 3), 0.25))
    np.testing.assert_array_equal(log.decision.slate_probability, [0.25**3] * 2)
    assert log.observation.request_ids.tolist() == [0, 1]
    assert log.observation.times.tolist() == [
        micros("2019-11-24 00:00:17.318468+00:00"),
        micros("2019-11-24 00:00:19.000001+00:00"),
    ]
    assert set(log.policy_names) == {"obd:random/all"}


def test_positions_become_rounds_with_the_position_as_context(tmp_path):
    import_obd(FOLDER, tmp_path / "log.parquet", as_="positions")
    log = read_log(tmp_path / "log.parquet")
    assert log.slate_size == 1 and len(log) == 6
    one_hot = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    expected = np.concatenate([np.repeat(CONTEXT, 3, axis=0), one_hot], axis=1)
    np.testing.assert_array_equal(log.observation.context, expected)
    np.testing.assert_array_equal(log.slates[:, 0], [2, 0, 3, 1, 2, 0])
    np.testing.assert_array_equal(log.rewards[:, 0], [0, 1, 0, 1, 0, 0])
    feedback = to_obp(log)  # obp's own layout of OBD: one round per row, items by index
    np.testing.assert_array_equal(feedback["action"], [2, 0, 3, 1, 2, 0])
    np.testing.assert_array_equal(feedback["pscore"], np.full(6, 0.25))
    assert feedback["n_actions"] == 4


def test_an_incomplete_impression_names_its_lines(tmp_path):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    lines = (folder / "all.csv").read_text().splitlines()
    (folder / "all.csv").write_text("\n".join(lines[:2] + lines[3:]) + "\n")  # drop position 2
    with pytest.raises(InputValueError, match=r"all.csv, line 2: the impression on lines 2 to 3 "
                       r"shows positions \[1, 3\]"):  # fmt: skip
        import_obd(folder, tmp_path / "log.parquet")
    assert not list(tmp_path.glob("log*"))


def test_an_unknown_item_is_refused(tmp_path):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    text = (folder / "all.csv").read_text().replace(",3,3,0,", ",7,3,0,")
    (folder / "all.csv").write_text(text)
    with pytest.raises(InputValueError, match="line 4: field 'item_id' is 7"):
        import_obd(folder, tmp_path / "log.parquet")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (",3,3,0,", ",2.5,3,0,", "line 4: field 'item_id' must be an integer >= 0; got 2.5\\."),
        (
            ",3,3,0,",
            ",1e30,3,0,",
            "line 4: field 'item_id' must be an integer >= 0; got 1e\\+30\\.",
        ),
    ],
)
def test_an_item_id_that_is_not_an_integer_is_refused_not_truncated(tmp_path, old, new, message):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    (folder / "all.csv").write_text((folder / "all.csv").read_text().replace(old, new, 1))
    with pytest.raises(InputValueError, match=message):
        import_obd(folder, tmp_path / "log.parquet")
    assert not list(tmp_path.glob("log*"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "item_context.csv cannot be read as CSV: No columns to parse"),
        ("item_id,item_feature_0\n", "item_context.csv lists no items"),
    ],
)
def test_an_empty_item_file_is_refused(tmp_path, text, message):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    (folder / "item_context.csv").write_text(text)
    with pytest.raises(InputValueError, match=message):
        import_obd(folder, tmp_path / "log.parquet")
    assert not list(tmp_path.glob("log*"))


def test_a_context_value_that_is_not_a_number_names_its_line_in_any_chunk(tmp_path, monkeypatch):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    lines = (folder / "all.csv").read_text().splitlines()
    fields = lines[5].split(",")  # CSV line 6
    fields[12] = "high"  # user-item_affinity_2
    lines[5] = ",".join(fields)
    (folder / "all.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(obd, "CHUNK_ROWS", 3)  # numeric in the first chunk, text in the second
    with pytest.raises(InputValueError, match=r"all.csv, line 6: field 'user-item_affinity_2' "
                       r"must be a number; got 'high'\."):  # fmt: skip
        import_obd(folder, tmp_path / "log.parquet")
    lines[5] = lines[5].replace(",high,", ",,")  # empty: NaN, in one chunk
    (folder / "all.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(obd, "CHUNK_ROWS", 100)
    with pytest.raises(InputValueError, match=r"line 6: field 'user-item_affinity_2' must be a "):
        import_obd(folder, tmp_path / "log.parquet")
    assert not list(tmp_path.glob("log*"))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            3,
            "0",
            "field 'position' must be an integer from 1 to 4 (an impression shows "
            "distinct items of the 4 in item_context.csv); got 0.",
        ),
        (
            3,
            "100000000",
            "field 'position' must be an integer from 1 to 4 (an impression shows "
            "distinct items of the 4 in item_context.csv); got 100000000.",
        ),
        (4, "", "field 'click' must be a number; got nan."),
        (5, "0", "field 'propensity_score' must be in (0, 1]; got 0.0."),
    ],
)
@pytest.mark.parametrize("as_", ["slates", "positions"])
def test_bad_values_are_shown_as_written_numbers(tmp_path, column, value, message, as_):
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    lines = (folder / "all.csv").read_text().splitlines()
    fields = lines[2].split(",")  # CSV line 3
    fields[column] = value
    lines[2] = ",".join(fields)
    (folder / "all.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputValueError) as caught:
        import_obd(folder, tmp_path / "log.parquet", as_=as_)
    assert str(caught.value).endswith(f"all.csv, line 3: {message}")


@pytest.mark.parametrize(
    ("file", "old", "new", "columns"),
    [
        ("all.csv", ",user_feature_3,", ",click,", "columns 5 and 10"),
        ("item_context.csv", ",item_feature_2,", ",item_feature_0,", "columns 3 and 5"),
    ],
)
def test_a_column_named_twice_is_refused_not_renamed(tmp_path, file, old, new, columns):
    """pandas reads a second 'click' as 'click.1'; the import refuses the file instead."""
    folder = tmp_path / "random" / "all"
    shutil.copytree(FOLDER, folder)
    text = (folder / file).read_text()
    (folder / file).write_text(text.replace(old, new, 1))
    name = new.strip(",")
    with pytest.raises(InputValueError) as caught:
        import_obd(folder, tmp_path / "log.parquet")
    assert str(caught.value) == (
        f"{folder / file}: the header names the column '{name}' twice ({columns}); rename or "
        f"drop one."
    )
    assert not list(tmp_path.glob("log*"))
