"""The HTML reports open in a real headless browser (Chromium): the page renders, its tables are
there and every image loads, from the file alone (no server, no files beside it)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bandits.cli import app

runner = CliRunner()
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  document.body.setAttribute('data-probe', JSON.stringify({
    images: images.length,
    loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    tables: document.querySelectorAll('table').length,
    title: document.title}));
});</script>"""

pytestmark = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("BANDITS_REQUIRE_BROWSER"),
    reason="Chromium is not installed (.ci/run installs it and sets BANDITS_REQUIRE_BROWSER)",
)


def open_in_browser(page: Path, tmp_path: Path) -> dict[str, object]:
    """Load ``page`` (copied alone into an empty folder, with a probe script) in headless
    Chromium; what the probe saw once the page loaded."""
    assert BROWSER is not None, "Chromium is required here (BANDITS_REQUIRE_BROWSER is set)"
    alone = tmp_path / "alone"
    alone.mkdir()
    probed = alone / "page.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dom = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         "--virtual-time-budget=10000", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the page did not finish loading"
    probe: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return probe


def test_a_run_report_renders_with_every_image(tmp_path):
    run = tmp_path / "run"
    args = ["simulate", "--env-param", "n_requests=20", "--requests", "200", "--policy",
            "uniform", "--policy", "linucb", "--quiet", "--out", str(run)]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, ["report", str(run), "--title", "Browser <check>"]).exit_code == 0
    probe = open_in_browser(run / "report.html", tmp_path)
    # regret, reward, click-through rate and segments; the summary and segment tables
    assert probe == {"images": 4, "loaded": 4, "tables": 2, "title": "Browser <check>"}


def test_a_sweep_report_renders_with_every_image(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(
        '[sweep]\nrequests = 100\nseeds = 2\npolicies = ["uniform", "linucb"]\n'
        '[[sweep.worlds]]\nname = "a"\nparams = { n_requests = 20 }\n'
        '[[sweep.worlds]]\nname = "b"\nparams = { n_requests = 20, slate_size = 2 }\n'
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(config), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    probe = open_in_browser(out / "report.html", tmp_path)
    # per world: regret, reward, click-through rate and segments figures; regret and segment
    # tables
    assert probe["images"] == 8 and probe["loaded"] == 8 and probe["tables"] == 4
