"""Markdown and HTML reports: exact Markdown for a tiny frame, escaping in both."""

from __future__ import annotations

import pandas as pd

from bandits.reports.render import markdown_table, render_html, render_markdown

FRAME = pd.DataFrame(
    {"policy": ["a|b", "c"], "requests": [10, 20], "regret": [0.123456789, 1234567.0]}
)
TABLE = (
    "| policy | requests | regret |\n"
    "|---|---|---|\n"
    "| a\\|b | 10 | 0.12346 |\n"
    "| c | 20 | 1.2346e+06 |"
)


def test_markdown_table():
    assert markdown_table(FRAME) == TABLE
    assert markdown_table(FRAME[["regret"]], digits=2) == "| regret |\n|---|\n| 0.12 |\n| 1.2e+06 |"


def test_markdown_table_escapes_pipes_in_headers():
    assert markdown_table(pd.DataFrame({"a|b": [1]})).splitlines()[0] == "| a\\|b |"


def test_render_markdown():
    text = render_markdown(
        "Run 7", [("Summary", FRAME)], [("Cumulative regret", "regret.png")], ["Seed 0.", "N."]
    )
    assert text == (
        "# Run 7\n\nSeed 0.\n\nN.\n\n![Cumulative regret](regret.png)\n\n## Summary\n\n"
        + TABLE
        + "\n"
    )


def test_render_html_escapes_and_includes_table_and_image():
    frame = pd.DataFrame({"policy": ["<script>"], "regret": [0.5]})
    page = render_html(
        "Run <1> & co", [("Sum <mary>", frame)], [('Regret "curve"', "a&b.png")], ["x < y"]
    )
    assert page.startswith("<!doctype html>\n")
    assert "<title>Run &lt;1&gt; &amp; co</title>" in page
    assert "<h1>Run &lt;1&gt; &amp; co</h1>" in page
    assert "<p>x &lt; y</p>" in page
    assert "<h2>Sum &lt;mary&gt;</h2>" in page
    assert '<img src="a&amp;b.png" alt="Regret &quot;curve&quot;">' in page
    assert "<figcaption>Regret &quot;curve&quot;</figcaption>" in page
    assert "<table" in page and "<th>policy</th>" in page and "<td>0.5</td>" in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in page and "<1>" not in page
    assert page.endswith("</body></html>\n")
