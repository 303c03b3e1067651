"""`bandits learn` and `bandits evaluate --target-file / --rows`: a policy learned on part of
a log beats the logger on the held-out rows, saved policies and files of target
probabilities as targets, and bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_results import invoke_caught as invoke
from cli_results import one_line_error

from bandits.logs import read_log
from bandits.ope import IPS, evaluate_log
from bandits.policy_files import load_policy, read_policy_header


def _simulate(folder, slate_size, requests):
    result = invoke("simulate", "--env-param", "n_requests=100", "--env-param",
                    f"slate_size={slate_size}", "--env-param", "min_candidates=8",
                    "--env-param", "max_candidates=8", "--policy", "uniform", "--requests",
                    requests, "--seed", "2", "--quiet", "--out", folder)  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "logs" / "uniform.parquet"


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _simulate(tmp_path_factory.mktemp("run") / "single", 1, 4000)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return _simulate(tmp_path_factory.mktemp("run") / "pairs", 2, 300)


@pytest.mark.parametrize("spec", ["linucb:alpha=0", 'vw:cb_type="dr",epsilon=0.0'])
def test_learn_then_evaluate_on_the_held_out_rows(single, tmp_path, spec):
    model = tmp_path / "model.pkl"
    result = invoke("learn", single, "--policy", spec, "--out", model,
                    "--train-fraction", "0.5", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "on 2,000 rows" in text and f"--target-file {model} --rows 2000:4000" in text
    header = read_policy_header(model)
    assert header["learned_from"] == str(single) and header["n_learned"] == 2000
    assert header["held_out"] == [2000, 4000]
    out = tmp_path / "estimates.csv"
    result = invoke("evaluate", single, "--target-file", model, "--target", "uniform",
                    "--rows", "2000:", "-e", "ips", "--quiet", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out).set_index("target")
    learned, logger = frame.loc[str(model)], frame.loc["uniform"]
    assert learned["n"] == 2000 and logger["n"] == 2000
    margin = 2 * np.hypot(learned["stderr"], logger["stderr"])  # one seed: a round trip test
    assert learned["value"] - logger["value"] > margin, (learned["value"], logger["value"])
    # the same as the Python API on the loaded policy
    again = evaluate_log(single, {"m": load_policy(model)}, [IPS()], rows=(2000, None))
    assert again["value"].iloc[0] == pytest.approx(learned["value"], rel=1e-12)


def test_a_file_of_probabilities_estimates_as_its_spec(pairs, tmp_path):
    spec = "epsilon-greedy:epsilon=0.3"
    result = invoke("export", "probabilities", pairs, "-t", spec, "--out", tmp_path / "p.parquet")
    assert result.exit_code == 0, result.output
    assert "on 300 rows" in result.output
    out = tmp_path / "estimates.csv"
    result = invoke("evaluate", pairs, "-t", spec, "-f", tmp_path / "p.parquet", "-e", "ips",
                    "-e", "dr", "-e", "iips", "-e", "rips", "-e", "pi", "--quiet",
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    by_target = [frame[frame["target"] == name].reset_index() for name in frame["target"].unique()]
    assert len(by_target) == 2
    for column in ("value", "stderr", "ci_low", "ci_high", "effective_sample_size"):
        np.testing.assert_allclose(by_target[1][column], by_target[0][column], rtol=1e-12)
    # without the slate column, IPS is refused by name before any work
    table = pq.read_table(tmp_path / "p.parquet").drop_columns(["slate_probability"])
    pq.write_table(table, tmp_path / "marginals.parquet")
    result = invoke("evaluate", pairs, "-f", tmp_path / "marginals.parquet", "-e", "iips",
                    "-e", "ips", "--quiet")  # fmt: skip
    one_line_error(result, "Estimator 'ips' needs", "marginals.parquet cannot give",
                   "'slate_probability' column")  # fmt: skip
    result = invoke("evaluate", pairs, "-f", tmp_path / "marginals.parquet", "-e", "iips",
                    "-e", "pi", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output


def _rewrite(path, change):
    parquet = pq.ParquetFile(path)
    metadata = dict(parquet.metadata.metadata)
    metadata.pop(b"ARROW:schema", None)
    table = change(parquet.read().replace_schema_metadata(None))
    pq.write_table(table.replace_schema_metadata(metadata), path)


def test_learn_refuses_bad_inputs(pairs, tmp_path):
    model = tmp_path / "m.pkl"
    one_line_error(invoke("learn", pairs, "--policy", "popularity", "--out", model, "--quiet"),
                   "cannot learn off-policy", "vw, ridge-greedy, linucb")  # fmt: skip
    one_line_error(invoke("learn", pairs, "--policy", "linucb:model=hybrid", "--out", model,
                          "--quiet"), "hybrid linear model cannot learn")  # fmt: skip
    one_line_error(invoke("learn", pairs, "--policy", "linucb", "--out", model, "--rows", "5"),
                   "--rows takes START:END")  # fmt: skip
    one_line_error(invoke("learn", pairs, "--policy", "linucb", "--out", model, "--rows",
                          "10:10"), "leaves no rows to learn from")  # fmt: skip
    assert not model.exists()
    log = read_log(pairs)
    broken = tmp_path / "broken.parquet"
    for path in pairs.parent.iterdir():  # the item table keeps its name (the log names it)
        name = "broken.parquet" if path == pairs else path.name
        (tmp_path / name).write_bytes(path.read_bytes())

    def zero(table):
        probabilities = table.column("slate_probability").to_numpy().copy()
        probabilities[7] = 0.0
        index = table.schema.get_field_index("slate_probability")
        return table.set_column(index, "slate_probability", pa.array(probabilities))

    _rewrite(broken, zero)
    one_line_error(invoke("learn", broken, "--policy", "linucb", "--out", model, "--quiet"),
                   "'slate_probability'", "row 7", "0.0")  # fmt: skip
    _rewrite(broken, lambda table: table.drop_columns(["slate_probability"]))
    one_line_error(invoke("learn", broken, "--policy", "linucb", "--out", model, "--quiet"),
                   "slate_probability")  # fmt: skip
    assert not model.exists() and len(log) == 300


def test_evaluate_target_file_errors(pairs, tmp_path):
    one_line_error(invoke("export", "probabilities", pairs, "--out", tmp_path / "p.parquet"),
                   "one of --target SPEC or --target-file")  # fmt: skip
    one_line_error(invoke("export", "probabilities", pairs, "-t", "uniform", "--out",
                          tmp_path / "p.npy"), "must end in .parquet")  # fmt: skip
    one_line_error(invoke("evaluate", pairs, "--quiet"), "needs a target")
    (tmp_path / "notes.txt").write_text("hello")
    one_line_error(invoke("evaluate", pairs, "-f", tmp_path / "notes.txt"),
                   "neither target probabilities", "nor a saved policy")  # fmt: skip
    one_line_error(invoke("evaluate", pairs, "-f", tmp_path / "missing.parquet"),
                   "missing.parquet")  # fmt: skip
    np.save(tmp_path / "short.npy", np.full((5, 8, 2), 1 / 8))
    one_line_error(invoke("evaluate", pairs, "-f", tmp_path / "short.npy", "-e", "iips"),
                   "short.npy holds target probabilities for 5 rows", "has 300")  # fmt: skip
    one_line_error(invoke("evaluate", pairs, "-t", "uniform", "--rows", "a:b"),
                   "--rows takes START:END with whole numbers")  # fmt: skip
