"""Sweeps: configs checked by name, the same tables on any executor, resumable after a kill."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_results import one_line_error
from typer.testing import CliRunner

from bandits.cli import app
from bandits.cli.manifest import read_manifest
from bandits.cli.sweep import run_sweep, write_sweep_report
from bandits.cli.sweep_config import SweepConfig
from bandits.cli.sweep_evaluation import estimator_errors, evaluation_streams, mean_of_estimates
from bandits.cli.wiring import build_policies, make_env_factory
from bandits.run import spawn_generators
from bandits.validation import InputValueError

runner = CliRunner()
BANDITS = str(Path(sys.executable).with_name("bandits"))
CONFIG = """
[sweep]
requests = 120
seeds = {seeds}
policies = ["uniform", "linucb"]
grid.linucb = {{ alpha = [0.5, 1.0] }}

[[sweep.worlds]]
name = "tiny"
params = {{ n_requests = 20, n_items = 50, min_candidates = 4, max_candidates = 8 }}

[[sweep.worlds]]
name = "slates"
params = {{ n_requests = 20, n_items = 50, slate_size = 2, min_candidates = 6, max_candidates = 6 }}
"""


def config_file(tmp_path: Path, seeds: int = 2, text: str = CONFIG) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text.format(seeds=seeds))
    return path


def test_a_sweep_writes_runs_tables_and_a_report(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path)), "--out", str(out),
                                 "--workers", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["slates-seed0", "slates-seed1", "tiny-seed0", "tiny-seed1"]
    regret = pd.read_csv(out / "regret.csv")
    assert set(regret["policy"]) == {"uniform", "linucb:alpha=0.5", "linucb:alpha=1.0"}
    assert (regret["runs"] == 2).all() and (regret["ci_low"] <= regret["ci_high"]).all()
    for name in ("regret-tiny.png", "regret-slates.png", "summary.csv", "report.html"):
        assert (out / name).stat().st_size > 0
    assert "Made 4 runs, 0 already there" in " ".join(result.output.split())
    again = runner.invoke(app, ["sweep", str(config_file(tmp_path)), "--out", str(out)])
    assert "Made 0 runs, 4 already there" in " ".join(again.output.split())
    pd.testing.assert_frame_equal(pd.read_csv(out / "regret.csv"), regret)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (CONFIG.replace("requests = 120", "requets = 120"),
         ["unknown key 'requets'", "Did you mean 'requests'?"]),
        (CONFIG.replace('name = "tiny"', 'nmae = "tiny"'),
         ["sweep.worlds[0]", "unknown key 'nmae'", "Did you mean 'name'?"]),
        (CONFIG.replace("grid.linucb", "grid.linucbb"), ["'linucbb'", "Did you mean 'linucb'?"]),
        (CONFIG.replace("[sweep]", "[swep]").replace("sweep.worlds", "swep.worlds"),
         ["has no [sweep] table", "Rename [swep]"]),
        (CONFIG.replace("n_items = 50,", "n_itmes = 50,", 1), ["World 'tiny'", "n_itmes"]),
        (CONFIG.replace('"uniform", "linucb"', '"uniform", "linucb:alhpa=1"'), ["alhpa"]),
        (CONFIG.replace('"uniform", ', '"uniform", "uniform", '), ["repeat a spec"]),
        (CONFIG.replace("requests = 120", 'requests = 120\nexecutor = "local"\nscheduler = "tcp://h:1"'),
         ["'scheduler'", 'needs executor = "dask"']),
    ],
)  # fmt: skip
def test_a_config_with_a_typo_is_refused_naming_it(tmp_path, text, words):
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path, text=text)), "--out",
                                 str(tmp_path / "out")])  # fmt: skip
    one_line_error(result, *words)
    assert not (tmp_path / "out").exists()


def test_another_sweep_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    assert runner.invoke(app, ["sweep", str(config_file(tmp_path, seeds=1)), "--out",
                               str(out)]).exit_code == 0  # fmt: skip
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path, seeds=2)), "--out", str(out)])
    one_line_error(result, "holds a different sweep")


def test_the_same_tables_on_local_processes_and_on_a_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    evaluate = {"log": "uniform", "targets": ["linucb:alpha=0.5"], "estimators": ["ips", "dr"],
                "truth_requests": 200}  # fmt: skip
    config = SweepConfig.from_mapping({**_table(tmp_path), "evaluate": evaluate})
    local = run_sweep(config, tmp_path / "local")
    write_sweep_report(config.plan(), tmp_path / "local", local)
    dask_config = SweepConfig.from_mapping({**_table(tmp_path), "evaluate": evaluate,
                                            "executor": "dask", "workers": 2})  # fmt: skip
    on_dask = run_sweep(dask_config, tmp_path / "dask")
    write_sweep_report(dask_config.plan(), tmp_path / "dask", on_dask)
    pd.testing.assert_frame_equal(local.regret, on_dask.regret, check_exact=True)
    pd.testing.assert_frame_equal(local.summary, on_dask.summary, check_exact=True)
    for name in ("regret.csv", "summary.csv", "estimates.csv", "estimator_errors.csv",
                 "segments.csv"):  # fmt: skip
        written = pd.read_csv(tmp_path / "local" / name)
        assert len(written), name
        pd.testing.assert_frame_equal(written, pd.read_csv(tmp_path / "dask" / name),
                                      check_exact=True)  # fmt: skip


def _table(tmp_path):
    from bandits.cli.config import read_toml_table

    return read_toml_table(config_file(tmp_path), "sweep")


def test_a_killed_sweep_resumes_to_the_tables_of_an_uninterrupted_one(tmp_path):
    config = config_file(tmp_path, seeds=3)
    whole = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    out = tmp_path / "killed"
    process = subprocess.Popen([BANDITS, "sweep", str(config), "--out", str(out), "--workers",
                                "1", "--quiet"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out / "runs").exists() or not any(
        p.name.endswith("seed0") for p in (out / "runs").iterdir()
    ):
        assert process.poll() is None and time.monotonic() < deadline, "no run committed"
        time.sleep(0.05)
    children = _children(process.pid)
    assert children, "the sweep runs its work in worker processes"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(child) for child in children):  # the workers die with their parent
        assert time.monotonic() < deadline, f"workers {children} outlived the killed sweep"
        time.sleep(0.05)
    committed = [p.name for p in (out / "runs").iterdir() if not p.name.startswith(".")]
    assert 1 <= len(committed) < 6
    resumed = runner.invoke(app, ["sweep", str(config), "--out", str(out)])
    assert resumed.exit_code == 0, resumed.output
    for table in ("regret.csv", "summary.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / table),
                                      pd.read_csv(tmp_path / "whole" / table))  # fmt: skip
    assert not [p.name for p in (out / "runs").iterdir() if p.name.startswith(".")]
    for run in (out / "runs").iterdir():  # no claim or temporary left inside a run either
        assert not [p.name for p in run.iterdir() if p.name.startswith(".")], run


EVALUATED = """
[sweep]
requests = 1500
seeds = 4
policies = ["uniform", "linucb"]

[sweep.evaluate]
log = "uniform"
targets = ["linucb", "epsilon-greedy:epsilon=0.3"]
estimators = ["ips", "snips"]
train_fraction = 0.5
truth_requests = 1000

[[sweep.worlds]]
name = "tiny"
params = {{ n_requests = 50, n_items = 60, slate_size = 2, min_candidates = 6, max_candidates = 6 }}
"""


def test_a_sweep_checks_its_estimators_against_the_true_values(tmp_path):
    out = tmp_path / "out"
    config = config_file(tmp_path, text=EVALUATED)
    result = runner.invoke(app, ["sweep", str(config), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    estimates = pd.read_csv(out / "runs" / "tiny-seed0" / "estimates.csv")
    assert {"true_value", "true_value_stderr", "value", "ci_low"} <= set(estimates.columns)
    errors = pd.read_csv(out / "estimator_errors.csv")
    assert len(errors) == 4 and (errors["runs"] == 4).all()
    assert ((errors["coverage"] >= 0) & (errors["coverage"] <= 1)).all()
    assert (errors["rmse"] >= errors["bias"].abs() - 1e-12).all()
    # IPS is unbiased for the truth: its mean error is within 4 standard errors over seeds
    per_run = []
    for seed in range(4):
        frame = pd.read_csv(out / "runs" / f"tiny-seed{seed}" / "estimates.csv")
        per_run.append(frame[frame["estimator"] == "ips"].set_index("target"))
    for target in ("linucb", "epsilon-greedy:epsilon=0.3"):
        error = pd.Series([run.loc[target, "value"] - run.loc[target, "true_value"]
                           for run in per_run])  # fmt: skip
        spread = np.sqrt(error.var(ddof=1) / 4 + per_run[0].loc[target, "stderr"] ** 2 / 4)
        assert abs(error.mean()) <= 4 * spread, (target, error.tolist())
    # the estimates against the truth, per seed, and the segments over seeds: tables, figures
    both = pd.read_csv(out / "estimates.csv")
    assert len(both) == 4 * 2 * 2 and sorted(both["run"].unique()) == [0, 1, 2, 3]
    assert {"world", "target", "estimator", "value", "ci_low", "true_value"} <= set(both.columns)
    segments = pd.read_csv(out / "segments.csv")
    assert {"world", "policy", "dimension", "segment", "runs", "ci_low", "ci_high"} <= set(
        segments.columns
    )
    assert (segments.loc[segments["segment"] == "new user", "runs"] == 4).all()
    page = (out / "report.html").read_text()
    for name in ("estimates-tiny.png", "segments-tiny.png", "regret-tiny.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        "tiny: off-policy estimates with their intervals (true values where known), one "
        "point per seed" in page
    )
    assert page.count('<img src="data:image/png;base64,') == 5  # with the click-through rate

    # `bandits report OUT` remakes every table, figure and page from the committed runs
    tables = {name: pd.read_csv(out / name) for name in
              ("regret.csv", "summary.csv", "estimator_errors.csv", "estimates.csv",
               "segments.csv")}  # fmt: skip
    for name in (*tables, "report.html", "report.md", "estimates-tiny.png", "segments-tiny.png",
                 "regret-tiny.png", "reward-tiny.png", "ctr-tiny.png"):  # fmt: skip
        (out / name).unlink()
    again = runner.invoke(app, ["report", str(out), "--title", "Remade"])
    assert again.exit_code == 0, again.output
    assert "<h1>Remade</h1>" in (out / "report.html").read_text()
    for name, table in tables.items():
        pd.testing.assert_frame_equal(pd.read_csv(out / name), table)
    assert (out / "report.html").read_text().count('<img src="data:image/png;base64,') == 5
    for name in (
        "estimates-tiny.png",
        "segments-tiny.png",
        "regret-tiny.png",
        "reward-tiny.png",
        "ctr-tiny.png",
    ):
        assert (out / name).stat().st_size > 0


def test_report_on_an_unfinished_sweep_names_the_missing_run(tmp_path):
    out = tmp_path / "out"
    config = config_file(tmp_path, seeds=1)
    assert runner.invoke(app, ["sweep", str(config), "--out", str(out),
                               "--workers", "1"]).exit_code == 0  # fmt: skip
    shutil.rmtree(out / "runs" / "tiny-seed0")
    result = runner.invoke(app, ["report", str(out)])
    one_line_error(result, "tiny-seed0", "not a finished run of this sweep")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('log = "uniform"', 'log = "linucb:alpha=3"'), ["must be one of the sweep's policies"]),
        (('estimators = ["ips", "snips"]', 'estimators = ["ipss"]'), ["Did you mean 'ips'?"]),
        (("train_fraction = 0.5", "train_frac = 0.5"), ["[sweep.evaluate]", "'train_frac'"]),
        # `log` and `logs` together: refused naming both
        (('log = "uniform"', 'log = "uniform"\nlogs = ["uniform"]'), ["'log'", "'logs'"]),
        # a policy of `logs` the sweep does not run: refused with the closest name
        (
            ('log = "uniform"', 'logs = ["uniform", "linucbb"]'),
            ["'linucbb'", "Did you mean 'linucb'?", "one of the sweep's policies"],
        ),
        (('log = "uniform"', 'logs = ["uniform", "uniform"]'), ["repeat a policy"]),
        (('log = "uniform"', "logs = []"), ["'logs'", "non-empty list"]),
    ],
)
def test_an_evaluation_with_a_typo_is_refused_naming_it(tmp_path, change, words):
    text = EVALUATED.replace(*change)
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path, text=text)), "--out",
                                 str(tmp_path / "out")])  # fmt: skip
    one_line_error(result, *words)


def test_a_sweep_evaluates_on_each_listed_log_with_each_logs_own_truth(tmp_path):
    from bandits.cli.reporting import read_estimates
    from bandits.cli.sweep_evaluation import held_out_truth
    from bandits.ope import evaluate_log, make_estimator

    two = EVALUATED.replace("seeds = 4", "seeds = 2")
    one = SweepConfig.from_toml(config_file(tmp_path, text=two))
    both = SweepConfig.from_toml(
        config_file(tmp_path, text=two.replace('log = "uniform"', 'logs = ["uniform", "linucb"]'))
    )
    assert one.evaluate is not None and one.evaluate.logs == ("uniform",)
    assert both.evaluate is not None and both.evaluate.logs == ("uniform", "linucb")
    single = run_sweep(one, tmp_path / "one")
    result = run_sweep(both, tmp_path / "both")
    assert result.estimates is not None and single.estimates is not None
    for run in both.plan():
        folder = tmp_path / "both" / "runs" / run.run_id
        frame = read_estimates(folder / "estimates.csv")
        assert list(frame["log"]) == ["uniform"] * 4 + ["linucb"] * 4  # targets x estimators
        # the first log's estimates and truth are those of a sweep evaluating it alone
        alone = read_estimates(tmp_path / "one" / "runs" / run.run_id / "estimates.csv")
        pd.testing.assert_frame_equal(
            frame[frame["log"] == "uniform"].reset_index(drop=True), alone, check_exact=True
        )
        # the second log's truth: its own held-out period, replayed from its own log
        step = read_manifest(folder)["steps"]["simulate"]
        log = folder / step["logs"]["linucb"]
        targets, estimators = both.evaluate.targets, both.evaluate.estimators
        streams = evaluation_streams(run.config.seed, len(targets) + len(estimators) + 1, log=1)
        policies = build_policies(list(targets), streams[: len(targets)])
        evaluate_log(log, policies, [make_estimator(e, rng=g) for e, g in
                                     zip(estimators, streams[len(targets):-1], strict=True)],
                     train_fraction=0.5)  # fmt: skip
        truth = held_out_truth(make_env_factory(run.config.env, run.config.env_params)(),
                               env_seed=int(step["seeds"]["env"]), log=log, targets=policies,
                               train_fraction=0.5, n_requests=1000, rng=streams[-1])  # fmt: skip
        on_linucb = frame[frame["log"] == "linucb"]
        for target, value in zip(on_linucb["target"], on_linucb["true_value"], strict=True):
            assert value == pytest.approx(truth[target][0], rel=1e-12), (run.run_id, target)
        assert not np.allclose(on_linucb["true_value"], alone["true_value"])
    # the errors per log, each over every seed
    assert result.errors is not None
    assert list(result.errors.columns[:4]) == ["world", "log", "target", "estimator"]
    assert len(result.errors) == 2 * 2 * 2 and (result.errors["runs"] == 2).all()
    assert set(result.estimates["log"]) == {"uniform", "linucb"}
    # the figure: one panel per log and target, each title naming both, nothing cut
    from bandits.reports import plot_estimates

    figure = plot_estimates(result.estimates[result.estimates["world"] == "tiny"])
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert len(titles) == 4
    assert any("linucb" in t.split("\n")[0] and "log of uniform" in t for t in titles)
    assert "epsilon-greedy:epsilon=0.3\non the log of linucb" in titles
    assert write_sweep_report(both.plan(), tmp_path / "both", result)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_estimator_errors_by_hand():
    estimates = pd.DataFrame({
        "world": "w", "target": "t", "estimator": "ips", "value": [1.0, 4.0, 3.0],
        "true_value": 2.0, "ci_low": [0.0, 2.0, 1.0], "ci_high": [1.5, 5.0, 5.0],
    })  # fmt: skip
    row = estimator_errors(estimates).iloc[0]
    assert row["runs"] == 3 and row["estimate"] == pytest.approx(8 / 3)
    assert row["bias"] == pytest.approx(2 / 3)  # mean of -1, 2, 1: estimate minus truth
    assert row["rmse"] == pytest.approx(np.sqrt((1.0 + 4.0 + 1.0) / 3))
    assert row["coverage"] == pytest.approx(
        2 / 3
    )  # [0, 1.5] misses 2; [2, 5] (edge), [1, 5] hold it


DRIFTING = {"n_requests": 20, "n_items": 200, "initial_items": 20, "items_per_step": 4,
            "item_lifetime": 20, "n_users": 300, "initial_users": 100, "users_per_step": 5,
            "slate_size": 2, "min_candidates": 6, "max_candidates": 6, "steps_per_day": 8,
            "drift": 0.5, "drift_every": 2, "trend_amplitude": 0.0, "novelty_weight": 2.0,
            "novelty_decay": 0.7, "choice_model": "position", "reward": "click"}  # fmt: skip
"""A world that changes fast: titles arrive and retire, novelty fades, tastes drift."""


def test_the_true_value_is_of_the_held_out_period_in_a_drifting_world(tmp_path):
    from simulator import true_value

    config = SweepConfig.from_mapping({
        "requests": 1000, "seeds": 4, "policies": ["uniform"], "workers": 2,
        "evaluate": {"log": "uniform", "targets": ["uniform"], "estimators": ["ips"],
                     "train_fraction": 0.5, "truth_requests": 1000},
        "worlds": [{"name": "drift", "env": "bandits/StreamingService-v0", "params": DRIFTING}],
    })  # fmt: skip
    out = tmp_path / "out"
    estimates = run_sweep(config, out).estimates
    assert estimates is not None
    # the uniform target on the uniform log: IPS is the mean held-out reward, unbiased for
    # the truth over the held-out period (within 4 standard errors over the seeds)
    error = estimates["value"] - estimates["true_value"]
    spread = np.sqrt(error.var(ddof=1) / len(error))
    assert abs(error.mean()) <= 4 * spread, error.tolist()
    # against the world as it was at reset, the same estimates look badly biased
    at_reset = []
    for run in config.plan():
        step = read_manifest(out / "runs" / run.run_id)["steps"]["simulate"]
        env = make_env_factory(run.config.env, run.config.env_params)()
        env.reset(seed=step["seeds"]["env"])
        uniform = build_policies(["uniform"], spawn_generators(0, 1))["uniform"]
        at_reset.append(true_value(env, uniform, n_requests=1000, seed=1).value)
    stale = estimates["value"].to_numpy() - np.array(at_reset)
    assert abs(stale.mean()) > 4 * np.sqrt(stale.var(ddof=1) / len(stale))


def test_the_evaluation_streams_never_repeat_a_simulation_stream():
    def state(generator):
        return tuple(generator.bit_generator.seed_seq.generate_state(4))

    seen = []
    for seed in (0, 1):  # seeds = [0, 1]: run 0's old evaluation seed 0 + 1 was run 1's root
        seen += [state(g) for g in spawn_generators(seed, 4)]  # the simulation's streams
        seen += [state(g) for g in evaluation_streams(seed, 4)]
        seen += [state(g) for g in evaluation_streams(seed, 4, log=1)]  # a second log's
        seen += [state(g) for g in evaluation_streams(seed, 4, log=2)]
        assert [state(g) for g in evaluation_streams(seed, 4, log=0)] == [
            state(g) for g in evaluation_streams(seed, 4)
        ]
        seen.append(tuple(np.random.SeedSequence(seed).generate_state(4)))
    assert len(set(seen)) == len(seen)


NESTED = 'epsilon-greedy:epsilon=0.1,base="linucb:alpha=0.5,ridge=2.0,model=disjoint"'
SMALL = """
[sweep]
requests = 200
seeds = 2
policies = ["uniform", 'NESTED']

[sweep.evaluate]
log = "uniform"
targets = ['NESTED']
estimators = ["ips"]
truth_requests = 100

[[sweep.worlds]]
name = "tiny"
params = {{ n_requests = 20, n_items = 50, min_candidates = 4, max_candidates = 8 }}
""".replace("NESTED", NESTED)


@pytest.fixture
def terminal(monkeypatch):
    """The command's stdout and stderr as an 80-column terminal, captured."""
    import io

    from rich.console import Console

    from bandits.cli import commands, console

    screens = {"out": io.StringIO(), "err": io.StringIO()}
    out = Console(file=screens["out"], width=80, force_terminal=True, highlight=False)
    err = Console(file=screens["err"], width=80, force_terminal=True, highlight=False)
    monkeypatch.setattr(console, "console", out)
    monkeypatch.setattr(commands, "console", out)
    monkeypatch.setattr(console, "err", err)
    return screens


def _plain(text: str) -> str:
    """Terminal output without its control sequences."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_the_progress_shows_runs_done_rate_and_time_left_and_one_line_per_run(tmp_path, terminal):
    config = config_file(tmp_path, text=SMALL)
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "out"),
                                 "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    bar = _plain(terminal["err"].getvalue())
    assert "2/2" in bar and "requests/s" in bar  # runs done, requests per second
    assert re.search(r"\b\d+:\d\d:\d\d\b", bar)  # time left
    lines = _plain(terminal["out"].getvalue()).splitlines()
    assert sum("committed" in line for line in lines) == 2  # a log line per finished run


def test_a_resumed_sweep_starts_its_progress_at_the_committed_runs(tmp_path):
    config = SweepConfig.from_toml(config_file(tmp_path, text=SMALL))
    out = tmp_path / "out"
    run_sweep(config, out)
    shutil.rmtree(out / "runs" / "tiny-seed1")
    started, finished = [], []
    run_sweep(config, out, on_start=lambda *a: started.append(a),
              on_run=lambda *a: finished.append(a))  # fmt: skip
    assert started == [(1, 2)] and finished == [("tiny-seed1", 2, 2)]


def test_a_resumed_sweep_bar_does_not_start_at_zero(tmp_path, terminal):
    config = config_file(tmp_path, text=SMALL)
    out = tmp_path / "out"
    assert runner.invoke(app, ["sweep", str(config), "--out", str(out)]).exit_code == 0
    shutil.rmtree(out / "runs" / "tiny-seed1")
    terminal["err"].seek(0)
    terminal["err"].truncate()
    result = runner.invoke(app, ["sweep", str(config), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    bar = _plain(terminal["err"].getvalue())
    assert "1/2" in bar and "0/2" not in bar


def test_quiet_prints_no_bar_but_a_line_per_run(tmp_path, terminal):
    config = config_file(tmp_path, text=SMALL)
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "out"),
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert terminal["err"].getvalue() == ""
    lines = _plain(terminal["out"].getvalue()).splitlines()
    assert sum("committed" in line for line in lines) == 2


def _column(table: str, header: str, following: str) -> list[str]:
    """The cells of the column ``header`` (folded lines joined) of a rendered Rich table,
    read between the header's start and the start of the ``following`` column."""
    lines = table.splitlines()
    top = next(i for i, line in enumerate(lines) if header in line and following in line)
    start, stop = lines[top].index(header), lines[top].index(following)
    cells, cell = [], ""
    for line in lines[top + 2 :]:  # after the header's rule
        if not line.strip():
            break
        part = line[start:stop].strip()
        if line[:start].strip() and cell:  # a new row starts (its first column is filled)
            cells.append(cell)
            cell = ""
        cell += part
    cells.append(cell)
    return cells


def test_an_80_column_summary_never_cuts_a_long_policy_spec(tmp_path, terminal):
    config = config_file(tmp_path, text=SMALL)
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "out"),
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = _plain(terminal["out"].getvalue())
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert NESTED in _column(text, "policy", "runs")
    assert NESTED in _column(text, "target", "estimator")


def test_seed_is_refused_when_the_config_lists_its_seeds(tmp_path):
    config = config_file(tmp_path, seeds="[0, 1]")
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "out"),
                                 "--seed", "3"])  # fmt: skip
    one_line_error(result, "--seed 3", "seeds = [0, 1]", "drop --seed")
    assert not (tmp_path / "out").exists()


def test_a_streaming_run_logs_item_releases_and_segments_its_new_items(tmp_path):
    from bandits.cli.reporting import run_segments
    from bandits.logs import read_log

    run = tmp_path / "run"
    args = ["simulate", "--env", "bandits/StreamingService-v0", "--env-param", "n_requests=20",
            "--env-param", "initial_items=60", "--env-param", "n_items=300", "--requests",
            "400", "--policy", "uniform", "--quiet", "--out", str(run)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    log = read_log(run / "logs" / "uniform.parquet")
    released = log.items.valid_from
    assert log.items.has_windows and (released > 0).any()  # titles arrive during the run
    segments = run_segments(run).set_index(["dimension", "segment"])
    assert segments.loc[("item", "new item"), "count"] > 0
    assert {"phone", "tv", "desktop"} <= set(segments.loc["device"].index)


def test_batch_size_sets_every_worlds_requests_per_step_and_must_agree():
    table = {"requests": 40, "policies": ["uniform"], "batch_size": 8,
             "worlds": [{"name": "a", "params": {"n_items": 30}},
                        {"name": "b", "params": {"n_items": 30, "n_requests": 8}}]}  # fmt: skip
    runs = SweepConfig.from_mapping(table).plan()
    assert {run.config.env_params["n_requests"] for run in runs} == {8}
    table["worlds"][1]["params"]["n_requests"] = 16
    with pytest.raises(InputValueError, match=r"world 'b' sets n_requests = 16, .* batch_size = 8"):
        SweepConfig.from_mapping(table)


def test_the_output_folder_can_come_from_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = CONFIG.replace("requests = 120", 'requests = 40\nout = "from-config"')
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path, seeds=1, text=text)),
                                 "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-config" / "regret.csv").exists()
    result = runner.invoke(app, ["sweep", str(config_file(tmp_path, seeds=1)), "--quiet"])
    one_line_error(result, "needs a folder to write", "--out DIR")


def test_the_held_out_truth_averages_its_points_with_their_standard_errors():
    """Two points 1 +- 0.3 and 3 +- 0.4: mean 2, standard error sqrt(0.09 + 0.16) / 2."""
    assert mean_of_estimates([(1.0, 0.3), (3.0, 0.4)]) == pytest.approx((2.0, 0.25))
    assert mean_of_estimates([(5.0, 0.2)]) == pytest.approx((5.0, 0.2))
