"""`bandits evaluate` with estimator specs, reward models and the interval options."""

from __future__ import annotations

import pandas as pd
import pytest
from cli_results import invoke_caught as invoke

from bandits.logs import read_log
from bandits.ope import DR, SwitchDR


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    result = invoke("simulate", "--env-param", "n_requests=50", "--env-param", "slate_size=2",
                    "--policy", "uniform", "--requests", "500", "--seed", "3", "--quiet",
                    "--out", folder, "--overwrite")  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "logs" / "uniform.parquet"


def test_specs_and_bootstrap_intervals_reach_the_table(log_path, tmp_path):
    out = tmp_path / "estimates.csv"
    result = invoke("evaluate", log_path, "-t", "epsilon-greedy:epsilon=0.5", "-e", "dr",
                    "-e", "switch-dr:threshold=50", "-e", "dros", "--interval", "bootstrap",
                    "--bootstrap-samples", "300", "--seed", "4", "--quiet",
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame["estimator"]) == ["dr", "switch-dr:threshold=50", "dros"]
    assert set(frame["interval"]) == {"bootstrap"}
    assert frame["tuning"].fillna("").tolist()[:2] == ["", ""]
    assert frame["tuning"].iloc[2].startswith("shrinkage=")
    assert (frame["ci_low"] < frame["value"]).all() and (frame["value"] < frame["ci_high"]).all()
    # the same numbers as the Python API with the same streams (targets first, then estimators)
    from bandits.cli.wiring import build_policies
    from bandits.run import spawn_generators

    streams = spawn_generators(4, 4)
    target = build_policies(["epsilon-greedy:epsilon=0.5"], streams[:1])
    log = read_log(log_path)
    expected = DR(interval="bootstrap", bootstrap_samples=300, rng=streams[1]).estimate(
        log, target["epsilon-greedy:epsilon=0.5"]
    )
    assert frame["value"].iloc[0] == pytest.approx(expected.value, rel=1e-9)
    assert frame["ci_low"].iloc[0] == pytest.approx(expected.ci_low, rel=1e-9)
    switch = SwitchDR(threshold=50, rng=streams[2]).estimate(
        log, target["epsilon-greedy:epsilon=0.5"]
    )
    assert frame["value"].iloc[1] == pytest.approx(switch.value, rel=1e-9)


def test_bernstein_needs_a_reward_range_and_a_linear_estimator(log_path):
    ok = invoke("evaluate", log_path, "-t", "uniform", "-e", "ips", "--interval", "bernstein",
                "--reward-range", "0", "2", "--quiet")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    missing = invoke("evaluate", log_path, "-t", "uniform", "-e", "ips", "--interval",
                     "bernstein", "--quiet")  # fmt: skip
    assert missing.exit_code == 2 and "needs 'reward_range'" in " ".join(missing.output.split())
    ratio = invoke("evaluate", log_path, "-t", "uniform", "-e", "snips", "--interval",
                   "bernstein", "--reward-range", "0", "2", "--quiet")  # fmt: skip
    assert ratio.exit_code == 2 and "cannot be 'bernstein'" in " ".join(ratio.output.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "switch-dr:treshold=5"], "Did you mean 'threshold'?"),
        (["-e", "dr:model=magic"], "'model' parameter of DR must be one of"),
        (["--interval", "exact"], "Unknown interval 'exact'."),
    ],
)
def test_bad_estimator_options_are_one_line_errors(log_path, args, message):
    result = invoke("evaluate", log_path, "-t", "uniform", *args, "--quiet")
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_default_estimators_are_ips_snips_and_dr(log_path):
    result = invoke("evaluate", log_path, "-t", "uniform", "--quiet")
    assert result.exit_code == 0, result.output
    for name in (" ips ", " snips ", " dr "):
        assert name in result.output
