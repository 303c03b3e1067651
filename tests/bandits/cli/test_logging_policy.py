"""``bandits evaluate --logging-policy``: the logger given to the estimators that ask it for
probabilities the log does not hold (RIPS, cascade DR, adaptive IPS, PI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cli_results import invoke, one_line_error

from bandits.cli.commands import LOGGER_ESTIMATORS


@pytest.fixture(scope="module")
def uniform_log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "run"
    result = invoke(
        "simulate", "--env-param", "n_requests=50", "--env-param", "slate_size=2",
        "--env-param", "min_candidates=4", "--env-param", "max_candidates=4",
        "--policy", "uniform", "--policy", "linucb", "--requests", "500", "--seed", "3",
        "--save-policies", "--quiet", "--out", folder,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "logs" / "uniform.parquet"


def estimates(log, tmp_path, name, *extra):
    out = tmp_path / f"{name}.csv"
    result = invoke("evaluate", log, "--target", "linucb", "--estimator", "rips",
                    "--estimator", "pi", "--estimator", "ips", "--quiet", "--out", out,
                    *extra)  # fmt: skip
    assert result.exit_code == 0, result.output
    return pd.read_csv(out).set_index("estimator")["value"]


def test_the_true_logger_gives_what_the_log_gives(uniform_log, tmp_path):
    from_log = estimates(uniform_log, tmp_path, "log")
    given = estimates(uniform_log, tmp_path, "given", "--logging-policy", "uniform")
    np.testing.assert_allclose(given.to_numpy(), from_log.to_numpy(), rtol=1e-12)


def test_another_logger_reaches_only_the_estimators_that_take_one(uniform_log, tmp_path):
    """A greedy LinUCB saved from the same run did not log this file: RIPS asks it for the
    logged prefixes' probabilities, gets 0 and refuses the row; IPS never asks it."""
    trained = uniform_log.parent.parent / "policies" / "linucb.policy"
    result = invoke("evaluate", uniform_log, "--target", "uniform", "--estimator", "rips",
                    "--logging-policy", trained, "--quiet")  # fmt: skip
    assert result.exit_code == 2
    assert "row 0, position 0" in result.output and "logger 0" in result.output
    values = []
    for extra in ([], ["--logging-policy", trained]):
        out = tmp_path / f"ips{len(values)}.csv"
        result = invoke("evaluate", uniform_log, "--target", "uniform", "--estimator", "ips",
                        "--quiet", "--out", out, *extra)  # fmt: skip
        assert result.exit_code == 0, result.output
        values.append(pd.read_csv(out)["value"].iloc[0])
    assert values[0] == values[1]
    assert {"rips", "pi", "cascade-dr", "adaptive-ips"} <= set(LOGGER_ESTIMATORS)
    assert "ips" not in LOGGER_ESTIMATORS


def test_a_bad_logging_policy_is_refused_by_name(uniform_log, tmp_path):
    result = invoke("evaluate", uniform_log, "--target", "uniform", "--logging-policy",
                    "unifrom", "--quiet")  # fmt: skip
    assert result.exit_code == 2 and "uniform" in result.output
    probabilities = tmp_path / "p.npy"
    np.save(probabilities, np.full((500, 4, 2), 0.25))
    result = invoke("evaluate", uniform_log, "--target", "uniform", "--logging-policy",
                    probabilities, "--quiet")  # fmt: skip
    assert result.exit_code == 2 and "names a file of target probabilities" in result.output


def test_a_logging_policy_file_refused_names_the_option_given(uniform_log, tmp_path):
    """Each refusal of the file names --logging-policy (they named --target-file before)."""
    from bandits.policy_files import POLICY_MAGIC

    notes, damaged = tmp_path / "notes.txt", tmp_path / "damaged.policy"
    notes.write_text("hello")
    damaged.write_bytes(POLICY_MAGIC + b"{not json\n")
    missing = tmp_path / "missing.npz"
    for path, words in [(notes, ["notes.txt", "neither target probabilities"]),
                        (damaged, ["damaged.policy", "damaged header"]),
                        (missing, ["missing.npz", "target probabilities"])]:  # fmt: skip
        result = invoke("evaluate", uniform_log, "--target", "uniform", "--logging-policy",
                        path, "--quiet")  # fmt: skip
        one_line_error(result, "--logging-policy", *words)
        assert "--target-file" not in result.output
    result = invoke("evaluate", uniform_log, "--target-file", damaged, "--quiet")
    one_line_error(result, "--target-file", "damaged.policy", "damaged header")
