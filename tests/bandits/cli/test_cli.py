"""The `bandits` command end to end on a small run: simulate, evaluate, report, errors."""

from __future__ import annotations

import base64
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from cli_results import invoke
from factories import assert_logs_equal, random_log
from typer.testing import CliRunner

from bandits.cli import app
from bandits.logs import item_table_path, open_log, read_log, write_log

runner = CliRunner()
SMALL = [
    "--env-param", "n_requests=40",
    "--env-param", "slate_size=2",
    "--env-param", "min_candidates=5",
    "--env-param", "max_candidates=5",
    "--policy", "uniform",
    "--policy", "linucb:alpha=0.5",
    "--requests", "400",
    "--seed", "5",
    "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    result = invoke("simulate", *SMALL, "--out", folder, "--overwrite")
    assert result.exit_code == 0, result.output
    return folder


def test_simulate_writes_logs_trace_and_manifest(run_dir):
    names = sorted(p.name for p in (run_dir / "logs").iterdir())
    assert [name.split(".items-")[0] for name in names] == [
        "linucb_alpha=0.5",
        "linucb_alpha=0.5.parquet",
        "uniform",
        "uniform.parquet",
    ]
    log = read_log(run_dir / "logs" / "uniform.parquet")
    assert len(log) == 400 and log.slate_size == 2
    trace = pd.read_parquet(run_dir / "trace.parquet")
    assert set(trace["policy"]) == {"uniform", "linucb:alpha=0.5"}
    assert trace.groupby("policy")["requests"].max().tolist() == [400, 400]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    step = manifest["steps"]["simulate"]
    assert step["config"]["seed"] == 5 and step["config"]["total_requests"] == 400
    assert step["config"]["env_params"]["slate_size"] == 2
    assert isinstance(step["seeds"]["env"], int)
    assert step["versions"]["numpy"] and step["versions"]["pyarrow"]
    assert manifest["run_id"] == run_dir.name
    assert step["logs"]["uniform"] == "logs/uniform.parquet"


def test_simulate_is_reproducible(run_dir, tmp_path):
    assert invoke("simulate", *SMALL, "--out", tmp_path / "again").exit_code == 0
    for name in ("uniform.parquet", "linucb_alpha=0.5.parquet"):
        assert_logs_equal(
            read_log(run_dir / "logs" / name),
            read_log(tmp_path / "again" / "logs" / name),
        )


def test_simulate_reads_a_toml_config_and_options_override_it(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        '[simulation]\npolicies = ["uniform"]\ntotal_requests = 1000\nseed = 1\n'
        "[simulation.env_params]\nn_requests = 10\nslate_size = 1\n"
    )
    result = invoke("simulate", "--config", config, "--requests", 30, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    log = read_log(tmp_path / "r" / "logs" / "uniform.parquet")
    assert len(log) == 30 and log.slate_size == 1


def test_evaluate_prints_and_writes_estimates(run_dir):
    out = run_dir / "estimates.csv"
    result = invoke(
        "evaluate", run_dir / "logs" / "uniform.parquet",
        "--target", "uniform", "--target", "linucb:alpha=0.5",
        "--estimator", "ips", "--estimator", "snips", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame[["target", "estimator"]].values.tolist() == [
        ["uniform", "ips"], ["uniform", "snips"],
        ["linucb:alpha=0.5", "ips"], ["linucb:alpha=0.5", "snips"],
    ]  # fmt: skip
    assert (frame["n"] == 400).all() and (frame["n_train"] == 0).all()  # whole log by default
    assert (frame["ci_low"] <= frame["value"]).all() and (frame["value"] <= frame["ci_high"]).all()
    assert "ips" in result.output and "snips" in result.output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["steps"]["evaluate"]["targets"] == ["uniform", "linucb:alpha=0.5"]


def test_report_writes_plot_tables_and_pages(run_dir):
    invoke("evaluate", run_dir / "logs" / "uniform.parquet", "-t", "uniform", "--out",
           run_dir / "estimates.csv")  # fmt: skip
    result = invoke("report", run_dir)
    assert result.exit_code == 0, result.output
    for name in ("regret.png", "reward.png", "summary.csv", "segments.csv", "report.md",
                 "report.html"):  # fmt: skip
        assert (run_dir / name).stat().st_size > 0
    segments = pd.read_csv(run_dir / "segments.csv")
    assert set(segments["segment"]) == {"new user", "returning user", "new item", "older item"}
    assert "Reward by segment" in (run_dir / "report.md").read_text()
    assert (run_dir / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (run_dir / "report.md").read_text()
    assert "linucb:alpha=0.5" in markdown and "Off-policy estimates" in markdown
    assert "![Cumulative expected regret per policy](regret.png)" in markdown
    page = (run_dir / "report.html").read_text()
    embedded = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert embedded and base64.b64decode(embedded.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="regret.png"' not in page  # self-contained: opens from disk alone
    summary = pd.read_csv(run_dir / "summary.csv")
    assert set(summary["policy"]) == {"uniform", "linucb:alpha=0.5"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {"simulate", "report"} <= set(manifest["steps"])


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ([], ["simulate", "evaluate", "report", "list"]),
        (["simulate"], ["--config", "--env-param", "--policy", "--requests", "--seed", "--out"]),
        (["evaluate"], ["--target", "--estimator", "--train-fraction", "--confidence", "--out"]),
        (["report"], ["run_dir", "--title"]),
    ],
)
def test_help_describes_every_option(command, words):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    for word in words:
        assert word in result.output


def test_list_names_the_components():
    result = invoke("list")
    for word in ("bandits/LatentFactor-v0", "linucb", "epsilon-greedy", "uniform", "snips"):
        assert word in result.output
    assert "per-position-epsilon-greedy " in result.output  # names are never folded
    words = result.output.split()
    for word in ("model:", "joint", "disjoint", "hybrid", "explore:", "squarecb;", "cb_type:"):
        assert word in words  # the choices of named parameters
    assert "uniform" in words and "popularity:prior_strength=1.0" in "".join(words)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--policy", "thompson", "--requests", "10"], "Unknown policy 'thompson'"),
        (["simulate", "--env", "bandits/Nope-v0", "--requests", "10"], "Unknown environment"),
        (["simulate", "--env-param", "slate_size=0", "--requests", "10"], "'slate_size'"),
        (["simulate", "--policy", "linucb:alpah=1", "--requests", "10"], "'alpah'"),
        (["simulate", "--requests", "0"], "'total_requests'"),
        (["simulate", "--env-param", "slate_sise=2", "--requests", "10"],
         "has no parameter 'slate_sise'. Did you mean 'slate_size'? It takes ['n_users'"),
        (["simulate", "--env-param", "slate_size", "--requests", "10"],
         "--env-param takes KEY=VALUE; got 'slate_size'"),
        (["simulate", "--seed", str(2**64), "--requests", "10"], "'seed' parameter"),
        (["simulate", "--config", ".", "--requests", "10"], "Cannot read the config ."),
        (["evaluate", "missing.parquet", "-t", "uniform"], "No log file at missing.parquet"),
        (["evaluate", ".", "-t", "uniform"], ". is a folder"),
        (["evaluate", "x.parquet", "-t", "uniform", "--out", "."], "--out . is a folder"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_clear_error(args, message, tmp_path):
    out = tmp_path / "x"
    result = runner.invoke(app, [*args, "--out", str(out)] if args[0] == "simulate" else args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert message in " ".join(result.output.split())
    assert not out.exists()  # nothing half-written


def test_simulate_refuses_a_non_empty_folder(run_dir):
    result = runner.invoke(app, ["simulate", "--requests", "10", "--out", str(run_dir)])
    assert result.exit_code == 2 and "--overwrite" in result.output


def test_evaluate_rejects_an_unknown_estimator(run_dir):
    result = runner.invoke(
        app, ["evaluate", str(run_dir / "logs" / "uniform.parquet"), "-t", "uniform", "-e", "magic"]
    )
    known = (
        "Known: ips, snips, dm, dr, sndr, switch-dr, dros, iips, sniips, rips, snrips, pi, snpi, "
        "cascade-dr, sncascade-dr, adaptive-ips, snadaptive-ips."
    )
    message = f"Unknown estimator 'magic'. {known}"
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_overwrite_replaces_the_whole_run_folder(tmp_path):
    folder = tmp_path / "run"
    assert invoke("simulate", *SMALL, "--out", folder).exit_code == 0
    invoke("evaluate", folder / "logs" / "uniform.parquet", "-t", "uniform", "--out",
           folder / "estimates.csv")  # fmt: skip
    result = invoke("simulate", "--policy", "uniform", "--requests", 50, "--quiet", "--out",
                    folder, "--overwrite")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["logs", "manifest.json", "trace.parquet"]
    logs = sorted(p.name for p in (folder / "logs").iterdir())
    assert len(logs) == 2 and logs[0].startswith("uniform.items-") and logs[1] == "uniform.parquet"
    assert list(json.loads((folder / "manifest.json").read_text())["steps"]) == ["simulate"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folders left


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["simulate", "--requests", "10", "--out", str(tmp_path),
                                 "--overwrite"])  # fmt: skip
    assert result.exit_code == 2 and "not a run folder" in " ".join(result.output.split())
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_report_shows_no_nan_for_empty_warnings(run_dir):
    invoke("evaluate", run_dir / "logs" / "uniform.parquet", "-t", "uniform", "--out",
           run_dir / "estimates.csv")  # fmt: skip
    invoke("report", run_dir)
    estimates = (run_dir / "report.md").read_text().split("## Off-policy estimates")[1]
    assert "nan" not in estimates


def test_tables_in_80_columns_never_cut_a_policy_spec(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    spec = 'epsilon-greedy:epsilon=0.25,base="linucb:alpha=0.75,ridge=2.5"'
    result = invoke("simulate", "--policy", spec, "--policy", "uniform", "--requests", 60,
                    "--env-param", "n_requests=30", "--quiet", "--out", tmp_path / "r")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    lines = result.output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip().startswith("───"))
    end = next(i for i in range(rule + 1, len(lines)) if not lines[i].strip())
    first_column = "".join(line.split()[0] for line in lines[rule + 1 : end])
    assert first_column == spec + "uniform"


def test_an_internal_error_keeps_its_traceback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's mistake")

    monkeypatch.setattr("bandits.cli.simulation.run_simulation", broken)
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    assert not (tmp_path / "r").exists()


def test_running_out_of_memory_says_what_to_make_smaller(tmp_path, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 13.0 GiB for an array with shape (5000, 80, 4000)")

    monkeypatch.setattr("bandits.cli.commands.evaluate_log", too_big)
    path = tmp_path / "log.parquet"
    write_log(random_log(np.random.default_rng(0)), path)
    result = runner.invoke(app, ["evaluate", str(path), "-t", "uniform"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "Out of memory (Unable to allocate 13.0 GiB" in message
    assert "--batch-bytes" in message and "Traceback" not in result.output


def test_unknown_names_get_a_suggestion(tmp_path):
    cases = [
        (["simulate", "--policy", "linucbb", "--requests", "10"], "Did you mean 'linucb'?"),
        (["simulate", "--env", "bandits/LatentFactor-v1", "--requests", "10"],
         "Did you mean 'bandits/LatentFactor-v0'?"),
        (["evaluate", "x.parquet", "-t", "uniform", "-e", "snip"], "Did you mean 'snips'?"),
    ]  # fmt: skip
    for args, hint in cases:
        extra = ["--out", str(tmp_path / "r")] if args[0] == "simulate" else []
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 2 and hint in " ".join(result.output.split()), result.output


def test_evaluate_never_writes_over_its_own_input(run_dir, tmp_path):
    source = run_dir / "logs" / "uniform.parquet"
    for file in (source, item_table_path(source)):
        shutil.copy(file, tmp_path / file.name)  # a log outside any run folder
    log = tmp_path / "uniform.parquet"
    items = item_table_path(log)
    before = items.read_bytes()
    for out in (log, items):
        result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out", str(out),
                                     "--overwrite"])  # fmt: skip
        words = " ".join(result.output.split())
        assert result.exit_code == 2 and ("own input" in words or "item table" in words), words
    assert items.read_bytes() == before
    assert len(read_log(log)) == 400


@pytest.mark.parametrize(
    "name", ["manifest.json", "trace.parquet", "report.html", "summary.csv", "logs/x.csv", "x.csv"]
)
def test_evaluate_never_writes_a_run_folders_files_of_other_commands(run_dir, name):
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    log = run_dir / "logs" / "uniform.parquet"
    result = runner.invoke(app, ["evaluate", str(log), "-t", "uniform", "--out",
                                 str(run_dir / name), "--overwrite"])  # fmt: skip
    assert result.exit_code == 2 and "is in a run folder" in " ".join(result.output.split())
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_report_segments_requests_by_the_context_signals_the_logs_record(tmp_path):
    """The streaming world's logs name their context columns; the report splits requests by
    device, time of day, weekday and season, and the counts add up to the requests served."""
    run = tmp_path / "run"
    result = invoke("simulate", "--env", "bandits/StreamingService-v0", "--env-param",
                    "n_requests=20", "--requests", 200, "--policy", "uniform", "--quiet",
                    "--out", run)  # fmt: skip
    assert result.exit_code == 0, result.output
    log = open_log(run / "logs" / "uniform.parquet")
    assert log.context_names is not None and len(log.context_names) == log.n_context_features
    assert {"device_phone", "device_tv", "device_desktop", "day_sin", "day_cos",
            "year_sin", "weekday_6"} <= set(log.context_names)  # fmt: skip
    assert invoke("report", run).exit_code == 0
    segments = pd.read_csv(run / "segments.csv")
    assert list(segments["dimension"].unique()) == ["user", "item", "device", "weekday",
                                                    "time of day", "season"]  # fmt: skip
    device = segments[segments["dimension"] == "device"]
    assert device["segment"].tolist() == ["phone", "tv", "desktop"]
    for dimension in ("user", "device", "weekday", "time of day", "season"):
        assert segments.loc[segments["dimension"] == dimension, "count"].sum() == 200
    # the device's requests, counted from the logged context one-hot
    context = read_log(run / "logs" / "uniform.parquet").observation.context
    phone = context[:, log.context_names.index("device_phone")] == 1
    assert device["count"].iloc[0] == phone.sum()
    assert (run / "segments.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (run / "report.md").read_text()
    assert "(segments.png)" in markdown and "Reward by segment" in markdown


def test_report_draws_the_estimates_with_their_intervals(run_dir):
    invoke("evaluate", run_dir / "logs" / "uniform.parquet", "-t", "uniform", "-t",
           "linucb:alpha=0.5", "--out", run_dir / "estimates.csv", "--overwrite")  # fmt: skip
    reported = invoke("report", run_dir)
    assert reported.exit_code == 0, reported.output
    assert (run_dir / "estimates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (run_dir / "report.md").read_text()
    assert (
        "![Off-policy estimates with their intervals (true values where known)]"
        "(estimates.png)" in markdown
    )
    page = (run_dir / "report.html").read_text()
    # regret, reward, click-through rate, segments, OPE
    assert page.count('<img src="data:image/png;base64,') == 5
    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = {name.rsplit("/", 1)[-1] for name in manifest["steps"]["report"]["files"]}
    assert {"estimates.png", "segments.png", "segments.csv", "report.html"} <= files
