"""Whatever a user feeds the command line, it ends in one line naming the file or option, the
problem and what to do; never a traceback, never text changed by markup."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_results import one_line_error
from factories import random_log
from typer.testing import CliRunner

from bandits.cli import app, main
from bandits.logs import write_log
from bandits.logs.v1 import write_log_v1
from bandits.reports import check_trace, read_trace
from bandits.run.rollout import TRACE_COLUMNS
from bandits.validation import InputError

runner = CliRunner()
SMALL = ["--env-param", "n_requests=20", "--requests", "40", "--policy", "uniform", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / "run"
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def copy_run(run, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(run, target)
    return target


def test_paths_and_specs_with_brackets_are_printed_literally(tmp_path):
    folder = tmp_path / "data[v2]" / "run[1]"
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Run folder: {folder}" in " ".join(result.output.split())
    missing = runner.invoke(
        app, ["evaluate", str(folder / "logs" / "[x].parquet"), "-t", "uniform"]
    )
    one_line_error(missing, f"No log file at {folder / 'logs' / '[x].parquet'}")
    spec = runner.invoke(
        app, ["simulate", "--policy", "uniform:x=[1]", "--out", str(tmp_path / "r")]
    )
    one_line_error(spec, "uniform", "'x'")


def test_a_long_error_stays_on_one_line(tmp_path):
    deep = tmp_path / ("a-very-long-folder-name-" * 6) / "missing.parquet"
    result = runner.invoke(app, ["evaluate", str(deep), "-t", "uniform"])
    one_line_error(result, str(deep))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda run: pd.read_parquet(run / "trace.parquet").iloc[:0].to_parquet(
            run / "trace.parquet", index=False), ["the trace has no rows"]),
        (lambda run: (run / "trace.parquet").write_bytes(b"garbage"),
         ["trace.parquet is not a readable Parquet file"]),
        (lambda run: (run / "trace.parquet").unlink(), ["has no trace.parquet"]),
        (lambda run: (run / "manifest.json").write_text("[1, 2]"), ["is not a run manifest"]),
        (lambda run: (run / "manifest.json").write_text('{"steps": 3}'), ["is not a run manifest"]),
        (lambda run: (run / "manifest.json").write_text("{not json"), ["is not valid JSON"]),
        (lambda run: (run / "estimates.csv").write_text("target,value\nx,1\n"),
         ["estimates.csv", "lacks the column(s)"]),
        (lambda run: (run / "estimates.csv").write_bytes(b"\x00\xff\xfe"), ["estimates.csv"]),
    ],
    ids=["empty-trace", "corrupt-trace", "no-trace", "manifest-list", "manifest-steps",
         "manifest-json", "estimates-columns", "estimates-binary"],
)  # fmt: skip
def test_report_on_a_damaged_run_folder(run, tmp_path, damage, words):
    folder = copy_run(run, tmp_path)
    damage(folder)
    one_line_error(runner.invoke(app, ["report", str(folder)]), *words)


def _rewrite(path, change):
    parquet = pq.ParquetFile(path)
    metadata = dict(parquet.metadata.metadata)
    metadata.pop(b"ARROW:schema", None)
    table = change(parquet.read().replace_schema_metadata(None))
    pq.write_table(table.replace_schema_metadata(metadata), path)


@pytest.mark.parametrize("version", [1, 2])
def test_evaluate_on_logs_with_duplicate_or_mistyped_columns(tmp_path, version):
    log = random_log(np.random.default_rng(0), n_requests=6)
    path = tmp_path / "log.parquet"
    write_log(log, path) if version == 2 else write_log_v1([log], path)
    good = pq.read_table(path)
    duplicated = pa.Table.from_arrays([*good.columns, good.column("rewards")],
                                      names=[*good.column_names, "rewards"])  # fmt: skip
    _rewrite(path, lambda table: duplicated)
    one_line_error(runner.invoke(app, ["evaluate", str(path), "-t", "uniform"]),
                   "['rewards'] appear more than once")  # fmt: skip
    index = good.schema.get_field_index("slate_probability")
    strings = good.set_column(index, "slate_probability", pa.array(["x"] * good.num_rows))
    _rewrite(path, lambda table: strings)
    one_line_error(runner.invoke(app, ["evaluate", str(path), "-t", "uniform"]),
                   "'slate_probability' must")  # fmt: skip


def test_environment_sizes_beyond_memory_are_refused(tmp_path):
    result = runner.invoke(app, ["simulate", "--env-param", "n_users=1000000000000",
                                 "--requests", "10", "--out", str(tmp_path / "r")])  # fmt: skip
    one_line_error(result, "n_users", "GiB")
    assert not (tmp_path / "r").exists()


def test_a_spec_value_with_a_hash_is_refused_not_cut_short(tmp_path):
    result = runner.invoke(app, ["simulate", "--policy", "linucb:alpha=1 #2",
                                 "--out", str(tmp_path / "r")])  # fmt: skip
    one_line_error(result, "has a '#'")


def test_the_default_run_ids_of_two_runs_in_one_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert runner.invoke(app, ["simulate", *SMALL]).exit_code == 0
    runs = sorted((tmp_path / "reports").iterdir())
    assert len(runs) == 2
    for folder in runs:
        assert json.loads((folder / "manifest.json").read_text())["steps"]["simulate"]


def test_specs_that_differ_only_in_spacing_get_their_own_logs(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", "--env-param", "n_requests=20", "--requests", "40",
                                 "--policy", "linucb:alpha=1.0", "--policy", "linucb: alpha=1.0",
                                 "--policy", "uniform", "--policy", "uniform ", "--quiet",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    logs = json.loads((out / "manifest.json").read_text())["steps"]["simulate"]["logs"]
    assert list(logs) == ["linucb:alpha=1.0", "linucb:alpha=1.0#2", "uniform", "uniform#2"]
    assert len(set(logs.values())) == 4
    assert all((out / path).exists() for path in logs.values())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "--reqests", "5"], "No such option: --reqests"),
        (["simulate", "--requests", "nan"], "Invalid value for '--requests'"),
        (["simulat"], "No such command 'simulat'. Did you mean 'simulate'?"),
        (["list", "extra"], "unexpected extra argument"),
        (["evaluate", "x.parquet"], "needs a target: --target SPEC or --target-file FILE"),
        (["evaluate", "x.parquet", "-t", "u", "--train-fraction", "2"], "'--train-fraction'"),
    ],
)
def test_the_parsers_own_errors_are_one_line_too(capsys, args, words):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], lines


def test_report_writes_only_into_run_folders(tmp_path, run):
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(run / "trace.parquet", mine / "trace.parquet")
    for name, text in (("report.md", "my notes"), ("summary.csv", "a,b\n"),
                       ("manifest.json", '{"name": "my app"}')):  # fmt: skip
        (mine / name).write_text(text)
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    one_line_error(runner.invoke(app, ["report", str(mine)]), "is not a run folder")
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before


def test_evaluate_leaves_a_foreign_manifest_alone(tmp_path, run):
    app_folder = tmp_path / "webapp"
    app_folder.mkdir()
    (app_folder / "manifest.json").write_text('{"name": "my app"}')
    log = run / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform",
                                 "--out", str(app_folder / "estimates.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (app_folder / "manifest.json").read_text() == '{"name": "my app"}'


def test_a_symlink_into_a_run_folder_is_followed(tmp_path, run):
    folder = copy_run(run, tmp_path)
    (tmp_path / "link").symlink_to(folder / "logs")
    log = folder / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform",
                                 "--out", str(tmp_path / "link" / "estimates.csv")])  # fmt: skip
    one_line_error(result, "is in a run folder")
    assert not (folder / "logs" / "estimates.csv").exists()


@pytest.mark.parametrize("out", [".", "", "/"])
def test_the_current_or_root_folder_as_out_is_handled(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["simulate", *SMALL, "--out", out])
    if out == "/":
        one_line_error(result, "root folder")
    else:  # an empty folder: the run goes there
        assert result.exit_code == 0, result.output
        assert (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[simulation]\npolicies = 3\n", "must be a list of policy specs"),
        ("[simulation]\npolicies = {uniform = 1}\n", "must be a list of policy specs"),
        ("simulation = 3\n", "[simulation] must be a table"),
        ("[simulation]\npolicies = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ],
)
def test_configs_of_the_wrong_shape_are_refused(tmp_path, text, words):
    config = tmp_path / "run.toml"
    config.write_text(text)
    result = runner.invoke(app, ["simulate", "--config", str(config), "--out", str(tmp_path / "r")])
    one_line_error(result, words)


def test_a_config_that_is_not_text_is_refused(tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(b"\xff\xfe[simulation]")
    result = runner.invoke(app, ["simulate", "--config", str(config), "--out", str(tmp_path / "r")])
    one_line_error(result, "is not valid TOML")


def test_a_spec_nested_too_deeply_is_refused(tmp_path):
    spec = "uniform:x=" + "[" * 3000 + "]" * 3000
    result = runner.invoke(app, ["simulate", "--policy", spec, "--out", str(tmp_path / "r")])
    one_line_error(result, "nested too deeply")


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"steps": {"simulate": "x"}}', "no manifest.json of a simulation"),
        ('{"steps": {"simulate": {"config": [1, 2], "logs": {}}}}', "of a simulation"),
    ],
)
def test_manifests_of_the_wrong_shape_are_refused(run, tmp_path, manifest, words):
    folder = copy_run(run, tmp_path)
    (folder / "manifest.json").write_text(manifest)
    one_line_error(runner.invoke(app, ["report", str(folder)]), words)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.assign(requests=t["requests"].astype(str)), "'requests' of the trace must"),
        (lambda t: t.assign(regret="x"), "'regret' of the trace must hold numbers"),
        (lambda t: t.assign(policy=None), "'policy' of the trace must hold names"),
        (lambda t: t.assign(requests=0), "'requests' of the trace must count requests"),
    ],
)
def test_traces_of_the_wrong_types_are_refused_naming_the_file(run, tmp_path, change, words):
    folder = copy_run(run, tmp_path)
    trace = pd.read_parquet(folder / "trace.parquet")
    change(trace).to_parquet(folder / "trace.parquet", index=False)
    one_line_error(runner.invoke(app, ["report", str(folder)]), "trace.parquet:", words)


def test_out_in_a_folder_that_cannot_be_written_is_refused_before_the_work(run):
    log = run / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out", "/proc/x.csv"])
    one_line_error(result, "--out /proc/x.csv: the folder /proc cannot be written")


def test_a_pipe_is_refused_instead_of_read_forever(tmp_path):
    fifo = tmp_path / "log.parquet"
    os.mkfifo(fifo)
    one_line_error(runner.invoke(app, ["evaluate", str(fifo), "-t", "uniform"]),
                   "is not a regular file")  # fmt: skip


def test_extreme_world_scales_are_refused(tmp_path):
    result = runner.invoke(app, ["simulate", "--env-param", "feature_noise=1e200",
                                 "--policy", "linucb", "--out", str(tmp_path / "r")])  # fmt: skip
    one_line_error(result, "'feature_noise'", "<= 1e+06")


def test_an_estimator_named_twice_is_estimated_once(run):
    log = run / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "-e", "ips", "-e", "ips",
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0 and result.output.count(" ips ") == 1, result.output


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_an_output_that_is_not_a_regular_file_is_never_replaced(tmp_path, run, make):
    if make == "fifo":
        target = tmp_path / "out.csv"
        os.mkfifo(target)
    else:
        target = Path("/dev/null")
    log = run / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out", str(target),
                                 "--overwrite"])  # fmt: skip
    one_line_error(result, "is not a regular file")
    assert not target.is_file()


def test_paths_that_are_not_utf8_or_loop_are_refused(tmp_path, run):
    loop_a, loop_b = tmp_path / "a", tmp_path / "b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(loop_a / "run")])
    one_line_error(result, "--out")
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff\xfe")
    result = runner.invoke(app, ["simulate", *SMALL, "--out", bad])
    one_line_error(result, "is not valid UTF-8")
    result = runner.invoke(app, ["evaluate", bad + ".parquet", "-t", "uniform"])
    one_line_error(result, "is not valid UTF-8")


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--policy", "linucb:alpha=" + "9" * 5001],
        ["simulate", "--env-param", "n_requests=" + "9" * 5001],
    ],
)
def test_numbers_of_thousands_of_digits_are_refused(tmp_path, args):
    one_line_error(runner.invoke(app, [*args, "--out", str(tmp_path / "r")]), "cannot be read")


def test_a_manifest_with_a_huge_number_is_refused_before_writing(run, tmp_path):
    folder = copy_run(run, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest)[:-1] + ', "x": ' + "9" * 5001 + "}")
    log = folder / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out",
                                 str(folder / "estimates.csv")])  # fmt: skip
    assert result.exit_code == 0  # not a run folder any more: estimates written, manifest kept
    assert "9" * 5001 in (folder / "manifest.json").read_text()


def test_damaged_bytes_in_a_trace_are_refused_or_change_nothing(run, tmp_path):
    """Page checksums: a flipped bit either makes the trace unreadable (one line naming it) or
    lands where it changes no number (a header, padding); never a silently different trace."""
    original = read_trace(run / "trace.parquet")
    blob = (run / "trace.parquet").read_bytes()
    damaged = tmp_path / "trace.parquet"
    refused = 0
    for at in range(0, len(blob), max(1, len(blob) // 60)):
        changed = bytearray(blob)
        changed[at] ^= 0x20
        damaged.write_bytes(bytes(changed))
        try:
            back = read_trace(damaged)
            check_trace(back, TRACE_COLUMNS[1:])  # a damaged footer can rename a column
        except InputError as error:
            assert "\n" not in str(error)  # (the command adds the file's name)
            refused += 1
        else:
            pd.testing.assert_frame_equal(back, original)
    assert refused > 0


def test_a_listed_log_that_is_not_a_log_makes_a_folder_no_run_folder(run, tmp_path):
    folder = copy_run(run, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["steps"]["simulate"]["logs"]["thesis"] = "logs/thesis.parquet"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "logs" / "thesis.parquet").write_text("my thesis")
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(folder), "--overwrite"])
    one_line_error(result, "which is not a bandits log")
    assert (folder / "logs" / "thesis.parquet").read_text() == "my thesis"


def test_very_long_policy_names_get_short_file_names(tmp_path):
    spec = "linucb:alpha=0.1" + "0" * 240
    args = ["--env-param", "n_requests=20", "--requests", "20", "--policy", spec, "--quiet"]
    result = runner.invoke(app, ["simulate", *args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    (log,) = json.loads((tmp_path / "r" / "manifest.json").read_text())["steps"]["simulate"][
        "logs"
    ].values()
    assert len(Path(log).name) <= 110


@pytest.mark.parametrize(
    ("out", "words"),
    [
        (lambda tmp: tmp / "file.txt" / "run", "is a file, not a folder"),
        (lambda tmp: Path("/proc/run"), "--out /proc/run: cannot create the run folder"),
    ],
)
def test_run_folders_that_cannot_be_made_are_named(tmp_path, out, words):
    (tmp_path / "file.txt").write_text("x")
    one_line_error(runner.invoke(app, ["simulate", *SMALL, "--out", str(out(tmp_path))]), words)


def test_control_characters_in_paths_are_shown_escaped(tmp_path):
    missing = tmp_path / "nope\nError: fake.parquet"
    result = runner.invoke(app, ["evaluate", str(missing), "-t", "uniform"])
    one_line_error(result, "nope\\nError: fake.parquet")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["simulate", "--policy", "", "--requests", "5"], "--policy"),
        (["simulate", "--policy", "uniform", "--policy", " "], "--policy"),
        (["learn", "x.parquet", "--policy", "", "--out", "m.policy"], "--policy"),
        (["evaluate", "x.parquet", "--target", ""], "--target"),
        (["evaluate", "x.parquet", "-t", "uniform", "--estimator", ""], "--estimator"),
        (["evaluate", "x.parquet", "-t", "uniform", "--logging-policy", ""], "--logging-policy"),
        (
            ["export", "probabilities", "x.parquet", "--target", "", "--out", "p.parquet"],
            "--target",
        ),
    ],
)
def test_an_empty_spec_is_refused_naming_its_option(tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    value = next(arg for arg in args if not arg.strip())
    one_line_error(result, f"{option} {value!r} is empty")
    assert list(tmp_path.iterdir()) == []


def test_an_output_file_must_end_as_the_format_written(tmp_path, run):
    """Each command that writes a file refuses an --out ending otherwise, naming the
    option, the value and the endings it takes; nothing is written."""
    log = str(run / "logs" / "uniform.parquet")
    (tmp_path / "events.json").write_text("")
    cases = [
        (["evaluate", log, "-t", "uniform", "--out"], "x.txt", ".csv"),
        (["learn", log, "--policy", "linucb", "--out"], "model.txt", ".policy or .pkl"),
        (["upgrade", log, "--out"], "new.csv", ".parquet"),
        (["import", "dsjson", str(tmp_path / "events.json"), "--out"], "log.txt", ".parquet"),
        (["import", "obd", str(tmp_path / "obd"), "--out"], "log.csv", ".parquet"),
        (["export", "dsjson", log, "--out"], "again.parquet", ".json or .dsjson"),
        (["export", "obp", log, "--out"], "feedback.npy", ".npz"),
        (["export", "probabilities", log, "-t", "uniform", "--out"], "p.npz", ".parquet"),
    ]
    for args, name, endings in cases:
        out = tmp_path / name
        result = runner.invoke(app, [*args, str(out)])
        one_line_error(result, f"--out {out} must end in {endings}", repr(out.suffix))
        assert not out.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["events.json"]


def test_an_output_link_to_a_file_of_another_ending_is_refused(tmp_path, run):
    """--out link.csv leading to a log (.parquet) would replace the log with a CSV table, even
    with --overwrite: the file the link leads to must end as the format written too."""
    log = run / "logs" / "uniform.parquet"
    elsewhere = tmp_path / "kept.parquet"
    shutil.copyfile(log, elsewhere)
    before = elsewhere.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(elsewhere)
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--quiet", "--overwrite",
                                 "--out", str(link)])  # fmt: skip
    one_line_error(
        result, f"--out {link} leads to {elsewhere.resolve()}, which must end in .csv", "'.parquet'"
    )
    assert elsewhere.read_bytes() == before and link.is_symlink()


def test_an_output_folder_must_not_end_like_a_file(tmp_path):
    out = tmp_path / "x.txt"
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(out)])
    one_line_error(result, f"--out {out} ends in .txt", "bandits simulate writes the run")
    config = tmp_path / "sweep.toml"
    config.write_text('[sweep]\nout = "sweep.csv"\n')
    for args, words in [(["--out", str(tmp_path / "s.parquet")], "--out"),
                        ([], f"The 'out' of [sweep] in {config}, sweep.csv")]:  # fmt: skip
        one_line_error(runner.invoke(app, ["sweep", str(config), *args]), words, "like a file")
    assert [path.name for path in tmp_path.iterdir()] == ["sweep.toml"]


def test_the_documented_output_endings_are_taken_in_any_case(tmp_path, run):
    log = str(run / "logs" / "uniform.parquet")
    for name in ["model.policy", "model.PKL"]:
        result = runner.invoke(app, ["learn", log, "--policy", "linucb", "--quiet", "--out",
                                     str(tmp_path / name)])  # fmt: skip
        assert result.exit_code == 0, result.output
    for name in ["again.json", "again.dsjson"]:
        result = runner.invoke(app, ["export", "dsjson", log, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", log, "-t", "uniform", "--quiet", "--out",
                                 str(tmp_path / "estimates.CSV")])  # fmt: skip
    assert result.exit_code == 0, result.output
