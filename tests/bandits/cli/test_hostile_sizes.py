"""Inputs sized to exhaust memory or to forge output: each is refused before the work, in one
line naming the file, the row or the option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_results import one_line_error
from factories import random_log
from typer.testing import CliRunner

from bandits.cli import app
from bandits.cli import commands as commands_module
from bandits.cli import reporting as reporting_module
from bandits.logs import item_table_path, open_log, write_log
from bandits.logs import items as items_module
from bandits.logs import parquet as parquet_module
from bandits.reports.render import render_markdown
from bandits.validation import InputValueError

runner = CliRunner()
SMALL = ["--env-param", "n_requests=20", "--requests", "40", "--policy", "uniform", "--quiet"]
BANDITS = str(Path(sys.executable).with_name("bandits"))


@pytest.fixture
def log_file(tmp_path):
    return write_log(random_log(np.random.default_rng(0), n_requests=30), tmp_path / "log.parquet")


def _replace_policy(path: Path, names: list[str], dictionary: bool) -> None:
    """Rewrite the log's policy column as ``names`` (its metadata kept)."""
    parquet = pq.ParquetFile(path)
    metadata = dict(parquet.metadata.metadata)
    metadata.pop(b"ARROW:schema", None)
    table = parquet.read().replace_schema_metadata(None)
    column = pa.array(names, type=pa.string())
    if dictionary:
        column = column.dictionary_encode()
    table = table.set_column(table.schema.get_field_index("policy"), "policy", column)
    pq.write_table(table.replace_schema_metadata(metadata), path)


@pytest.mark.parametrize("dictionary", [False, True])
def test_a_policy_name_longer_than_names_may_be_is_refused_naming_the_row(log_file, dictionary):
    names = ["uniform"] * 30
    names[17] = "u" * 5000
    _replace_policy(log_file, names, dictionary)
    result = runner.invoke(app, ["evaluate", str(log_file), "-t", "uniform"])
    one_line_error(result, "'policy'", "row 17", "1,000 characters")


def test_a_short_dictionary_encoded_policy_column_reads_back(log_file):
    before = open_log(log_file).read().policy_names
    _replace_policy(log_file, list(before), dictionary=True)
    assert list(open_log(log_file).read().policy_names) == list(before)


def test_a_row_larger_than_a_row_may_be_is_refused_before_it_is_read(log_file, monkeypatch):
    monkeypatch.setattr(parquet_module, "MAX_ROW_BYTES", 64)
    with pytest.raises(InputValueError, match=r"row 0 .*GiB") as caught:
        list(open_log(log_file).iter_batches())
    assert "\n" not in str(caught.value)


def test_an_item_table_too_large_to_unpack_is_refused(log_file, monkeypatch):
    table = item_table_path(log_file)
    rows = pq.ParquetFile(table).metadata.num_rows
    monkeypatch.setattr(items_module, "MAX_ITEM_TABLE_BYTES", rows * 5 * 8 - 1)  # 2 features
    result = runner.invoke(app, ["evaluate", str(log_file), "-t", "uniform"])
    one_line_error(result, table.name, f"{rows:,} items of 2 features", "more than an item table")


def test_an_item_table_given_as_a_log_is_named_as_such(log_file):
    table = item_table_path(log_file)
    result = runner.invoke(app, ["evaluate", str(table), "-t", "uniform"])
    one_line_error(result, "is the item table of a log, not a log")


def test_a_world_that_is_not_ours_is_refused_by_name(tmp_path):
    result = runner.invoke(app, ["simulate", "--env", "CartPole-v1", *SMALL,
                                 "--out", str(tmp_path / "r")])  # fmt: skip
    one_line_error(result, "Unknown environment 'CartPole-v1'", "bandits/LatentFactor-v0")
    assert not (tmp_path / "r").exists()


def test_evaluate_writes_nothing_into_a_folder_replaced_while_it_read(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert runner.invoke(app, ["simulate", *SMALL, "--out", str(run)]).exit_code == 0
    log = run / "logs" / "uniform.parquet"
    real = commands_module.evaluate_log

    def replacing(*args, **kwargs):
        frame = real(*args, **kwargs)
        os.rename(run, tmp_path / "old")
        run.mkdir()
        (run / "mine.txt").write_text("keep")
        return frame

    monkeypatch.setattr(commands_module, "evaluate_log", replacing)
    out = run / "estimates.csv"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out", str(out)])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]  # after the table of estimates
    assert last.startswith("Error: ") and "was replaced by another run" in last
    assert sorted(p.name for p in run.iterdir()) == ["mine.txt"]


def test_estimates_that_are_not_numbers_are_refused_naming_the_row(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["simulate", *SMALL, "--out", str(run)]).exit_code == 0
    log = run / "logs" / "uniform.parquet"
    out = run / "estimates.csv"
    args = ["evaluate", str(log), "-t", "uniform", "--out", str(out), "--quiet"]
    assert runner.invoke(app, args).exit_code == 0
    frame = pd.read_csv(out)
    frame["stderr"] = frame["stderr"].astype(object)
    frame.loc[1, "stderr"] = "<script>"
    frame.to_csv(out, index=False)
    one_line_error(runner.invoke(app, ["report", str(run)]), "'stderr'", "row 1", "'<script>'")


def test_an_estimates_file_too_large_is_refused_before_it_is_read(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert runner.invoke(app, ["simulate", *SMALL, "--out", str(run)]).exit_code == 0
    (run / "estimates.csv").write_text("target,estimator\n" + "a,b\n" * 100)
    monkeypatch.setattr(reporting_module, "MAX_ESTIMATES_BYTES", 100)
    one_line_error(runner.invoke(app, ["report", str(run)]), "larger than an estimates file")


def test_report_text_is_literal_markdown():
    table = pd.DataFrame({"policy": ["a|b <img src=x onerror=alert(1)>\n# forged"]})
    text = render_markdown("Run <b>1</b>\n## forged", [("Policies | all", table)], [], ["x\ry"])
    assert "<img" not in text and "<b>" not in text
    assert "\n## forged" not in text and "\n# forged" not in text
    assert "a\\|b &lt;img" in text and "Policies \\| all" in text and "x\\ry" in text
    assert all(line.count("|") - line.count("\\|") in (0, 2) for line in text.splitlines()
               if line.startswith("| "))  # fmt: skip


@pytest.mark.skipif(sys.platform != "linux", reason="uses the shell's ulimit")
def test_a_file_size_limit_ends_in_one_line_naming_the_file(tmp_path):
    out = tmp_path / "run"
    command = [BANDITS, "simulate", "--env-param", "n_requests=200", "--requests", "3000",
               "--policy", "uniform", "--quiet", "--out", str(out)]  # fmt: skip
    shell = "ulimit -f 40; exec " + " ".join(f"'{part}'" for part in command)
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "File too large" in lines[0] and str(tmp_path) in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []  # nothing half-written
    assert json.dumps(lines)  # printable
