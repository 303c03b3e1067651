"""Policies saved into a run folder (``simulate --save-policies``) and carried on by another
run (``simulate --policy-file``), VW's included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_results import invoke

from bandits.cli.run_folder import run_folder_problem
from bandits.logs import open_log
from bandits.policy_files import load_policy, read_policy_header

WORLD = [
    "--env-param", "n_requests=32",
    "--env-param", "slate_size=1",
    "--env-param", "min_candidates=6",
    "--env-param", "max_candidates=6",
    "--requests", "256",
    "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "first"
    result = invoke("simulate", *WORLD, "--policy", "vw", "--policy", "linucb",
                    "--seed", "1", "--save-policies", "--out", folder)  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder


def test_each_policy_is_saved_into_the_run_folder_and_listed(first_run):
    manifest = json.loads((first_run / "manifest.json").read_text())
    saved = manifest["steps"]["simulate"]["policy_files"]
    assert saved == {"vw": "policies/vw.policy", "linucb": "policies/linucb.policy"}
    assert run_folder_problem(first_run) is None
    header = read_policy_header(first_run / saved["vw"])
    assert header["name"] == "vw" and header["run_id"] == "first"
    assert load_policy(first_run / saved["linucb"]).model_.n_samples_ == 256


def test_a_saved_policy_goes_on_from_where_its_run_ended(first_run, tmp_path):
    """The second run's first choices are those of the saved policy on the same requests."""
    saved = first_run / "policies" / "vw.policy"
    second = tmp_path / "second"
    result = invoke("simulate", *WORLD, "--policy-file", saved, "--seed", "2",
                    "--save-policies", "--out", second)  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["steps"]["simulate"]["config"]["policy_files"] == [str(saved)]
    log = open_log(second / "logs" / "vw.parquet").read()
    first_step = np.flatnonzero(log.observation.times == log.observation.times[0])
    obs = log.observation.take(first_step)
    decision = load_policy(saved).act(obs)
    np.testing.assert_array_equal(decision.slates, log.slates[first_step])
    logged = log.decision.slate_probability[first_step]
    np.testing.assert_allclose(decision.slate_probability, logged)
    again = load_policy(second / "policies" / "vw.policy")  # learned on in the second run
    before = load_policy(saved).candidate_position_probability(obs)
    assert not np.allclose(again.candidate_position_probability(obs), before)


def test_a_run_folder_with_an_unlisted_policy_file_is_not_a_run_folder(first_run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in first_run.rglob("*"):
        target = copy / path.relative_to(first_run)
        if path.is_dir():
            target.mkdir()
        else:
            target.write_bytes(path.read_bytes())
    (copy / "policies" / "stranger.policy").write_bytes(b"x")
    assert "stranger.policy" in run_folder_problem(copy)


def test_a_missing_or_foreign_policy_file_is_refused_before_the_run(tmp_path):
    foreign = tmp_path / "foreign.policy"
    foreign.write_text("hello")
    result = invoke("simulate", *WORLD, "--policy-file", foreign, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "is not a policy file" in result.output
    assert not (tmp_path / "run").exists()
