"""The README's two commands: their files, their embedded config, and the demo's pipeline."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bandits.cli import app
from bandits.cli.config import SimulationConfig
from bandits.cli.sweep_config import SweepConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["demo", "test"])
def test_scripts_are_executable_bash(name):
    script = ROOT / "scripts" / name
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert f"scripts/{name}" in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_demo_config_is_valid():
    config = SimulationConfig.from_toml(ROOT / "scripts" / "demo.toml")
    assert config.policies[0] == "uniform"  # the README's `simulate --config` example
    sweep = SweepConfig.from_toml(ROOT / "scripts" / "demo.toml")  # what scripts/demo runs
    assert sweep.evaluate is not None and sweep.evaluate.logs == ("uniform",)
    assert len(sweep.seeds) >= 3 and len(sweep.policies) >= 3


def _demo_commands() -> list[list[str]]:
    """The `bandits ...` lines of scripts/demo, as argument lists (continuations joined)."""
    text = (ROOT / "scripts" / "demo").read_text().replace("\\\n", " ")
    return [
        shlex.split(line.strip())[1:] for line in text.splitlines() if line.startswith("bandits ")
    ]


def test_demo_pipeline_runs_on_a_short_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "demo"
    commands = _demo_commands()
    assert [c[0] for c in commands] == ["sweep"]
    (command,) = commands
    args = [re.sub(r"\$run|\$\{run\}", str(run), arg) for arg in command if arg != "$@"]
    args += ["--requests", "600", "--quiet", "--workers", "1"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    for name in ("report.html", "regret.csv", "estimator_errors.csv"):
        assert (run / name).exists(), name
    assert (run / "runs" / "demo-seed0" / "estimates.csv").exists()


def test_the_readme_demo_command_runs_with_its_arguments():
    """`scripts/demo --requests 5000 --seed 3` as the README shows it (shorter), in a shell."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo"), "--requests", "300", "--seed", "3", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    written = re.search(r"Demo report written to (\S+)/report.html", result.stdout)
    assert written, result.stdout
    run = ROOT / written.group(1)
    try:
        assert (run / "report.html").exists() and (run / "estimator_errors.csv").exists()
        manifest = (run / "runs" / "demo-seed0" / "manifest.json").read_text()
        assert '"total_requests": 300' in manifest
        seeds = SweepConfig.from_mapping({"seeds": 3, "root_seed": 3, "policies": ["uniform"]})
        assert f'"seed": {seeds.seeds[0]}' in manifest  # the runs' seeds come from --seed 3
    finally:
        shutil.rmtree(run)
