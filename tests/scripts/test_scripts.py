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
    assert config.policies[0] == "uniform"  # the demo evaluates targets on the uniform log


def _demo_commands() -> list[list[str]]:
    """The `bandits ...` lines of scripts/demo, as argument lists (continuations joined)."""
    text = (ROOT / "scripts" / "demo").read_text().replace("\\\n", " ")
    return [
        shlex.split(line.strip())[1:] for line in text.splitlines() if line.startswith("bandits ")
    ]


def test_demo_pipeline_runs_on_a_short_simulation(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "demo"
    commands = _demo_commands()
    assert [c[0] for c in commands] == ["simulate", "evaluate", "report"]
    runner = CliRunner()
    for command in commands:
        args = [re.sub(r"\$run|\$\{run\}", str(run), arg) for arg in command if arg != "$@"]
        if command[0] == "simulate":
            args += ["--requests", "600", "--quiet"]
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
    assert (run / "report.html").exists() and (run / "estimates.csv").exists()


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
        assert (run / "report.html").exists() and (run / "estimates.csv").exists()
        manifest = (run / "manifest.json").read_text()
        assert '"seed": 3' in manifest and '"total_requests": 300' in manifest
    finally:
        shutil.rmtree(run)
