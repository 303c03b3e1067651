"""`bandits import` and `bandits export` end to end: the README's worked example, output safety,
one-line errors."""

from __future__ import annotations

import json

import numpy as np
from cli_results import invoke

from bandits.logs import read_log


def events(n=40):
    rng = np.random.default_rng(0)
    for i in range(n):
        chosen = int(rng.integers(3))
        yield json.dumps({
            "_label_cost": -float(rng.integers(2)), "_label_probability": 1 / 3,
            "_labelIndex": chosen, "a": [chosen + 1], "EventId": str(i),
            "c": {"user": {"age": 20 + i}, "_multi": [{"_id": j, "i": {"f": j}} for j in range(3)]},
        })  # fmt: skip


def test_import_then_evaluate_then_export(tmp_path):
    source = tmp_path / "events.json"
    source.write_text("\n".join([*events(), '{"RewardValue": 1}']) + "\n")
    result = invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet")
    assert result.exit_code == 0, result.output
    assert "40 rows; skipped: 1 no_actions." in " ".join(result.output.split())
    result = invoke("evaluate", tmp_path / "log.parquet", "--target", "uniform", "--quiet")
    assert result.exit_code == 0, result.output
    rewards = read_log(tmp_path / "log.parquet").rewards
    assert f"{rewards.mean():.4g}" in result.output  # uniform = the uniform logger: IPS = mean
    for kind, name in (("dsjson", "out.json"), ("obp", "out.npz")):
        result = invoke("export", kind, tmp_path / "log.parquet", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
    assert len((tmp_path / "out.json").read_text().splitlines()) == 40
    with np.load(tmp_path / "out.npz") as arrays:
        assert int(arrays["n_rounds"]) == 40 and arrays["context"].shape == (40, 1)


def test_outputs_are_not_replaced_without_overwrite(tmp_path):
    source = tmp_path / "events.json"
    source.write_text("\n".join(events(3)) + "\n")
    assert invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet").exit_code == 0
    result = invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet")
    assert result.exit_code == 2 and "already exists; pass --overwrite" in result.output
    result = invoke("import", "dsjson", source, "--out", source, "--overwrite")
    assert result.exit_code == 2 and "is the command's own input" in result.output
    again = invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet", "--overwrite")
    assert again.exit_code == 0


def test_a_malformed_line_is_one_line_error_or_skipped(tmp_path):
    source = tmp_path / "events.json"
    source.write_text("\n".join([*events(2), "{broken"]) + "\n")
    result = invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and f"{source}, line 3: not valid JSON" in result.output
    result = invoke("import", "dsjson", source, "--out", tmp_path / "log.parquet",
                    "--skip-malformed")  # fmt: skip
    assert result.exit_code == 0
    assert "2 rows; skipped: 1 malformed." in " ".join(result.output.split())


def test_import_obd_as_positions(tmp_path):
    from pathlib import Path

    folder = Path(__file__).parents[1] / "logs" / "data" / "obd" / "random" / "all"
    result = invoke("import", "obd", folder, "--out", tmp_path / "log.parquet", "--as", "positions")
    assert result.exit_code == 0, result.output
    assert "(as positions): 6 rows; skipped: none." in " ".join(result.output.split())
    result = invoke("import", "obd", folder, "--out", tmp_path / "x.parquet", "--as", "slate")
    assert result.exit_code == 2 and "Did you mean 'slates'?" in result.output
