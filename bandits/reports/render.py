"""Render a run's summary tables and figures as Markdown and HTML text (written by the CLI)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from bandits.validation import one_line


def markdown_table(frame: pd.DataFrame, digits: int = 5) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (floats to ``digits`` significant digits)."""
    header = "| " + " | ".join(_cell(column, digits) for column in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(_cell(value, digits) for value in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def render_markdown(
    title: str,
    sections: Sequence[tuple[str, pd.DataFrame]],
    figures: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
) -> str:
    """A Markdown report: ``sections`` are (heading, table), ``figures`` (caption, file name)."""
    blocks = [f"# {markdown_text(title)}", *(markdown_text(note) for note in notes)]
    blocks += [f"![{markdown_text(caption)}]({name})" for caption, name in figures]
    blocks += [
        f"## {markdown_text(heading)}\n\n{markdown_table(table)}" for heading, table in sections
    ]
    return "\n\n".join(blocks) + "\n"


def render_html(
    title: str,
    sections: Sequence[tuple[str, pd.DataFrame]],
    figures: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
) -> str:
    """The same report as a standalone HTML page; ``figures`` are (caption, image source: a
    file name or a ``data:`` URI)."""
    escaped = html.escape(title)
    body = [f"<h1>{escaped}</h1>"]
    body += [f"<p>{html.escape(note)}</p>" for note in notes]
    for caption, name in figures:
        body.append(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    for heading, table in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(table.to_html(index=False, float_format=lambda v: f"{v:.5g}", border=0))
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ccc}"
        "img{max-width:100%}"
    )
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{escaped}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line: control characters escaped (``\\n``), HTML
    tags and entities shown as written, table bars kept inside their cell."""
    return html.escape(one_line(text), quote=False).replace("|", "\\|")


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return markdown_text(str(value))
