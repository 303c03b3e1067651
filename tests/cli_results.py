"""Running the ``bandits`` command in-process, and checks on its result, shared by the CLI
tests."""

from __future__ import annotations

from typer.testing import CliRunner

from bandits.cli import app

RUNNER = CliRunner()


def invoke(*args):
    """Run ``bandits *args`` (each made a string); an uncaught exception propagates."""
    return RUNNER.invoke(app, [str(a) for a in args], catch_exceptions=False)


def invoke_caught(*args):
    """:func:`invoke`, with an uncaught exception kept in the result instead."""
    return RUNNER.invoke(app, [str(a) for a in args])


def one_line_error(result, *words):
    """Exit status 2, one line of output starting 'Error:', containing each of ``words``."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
