"""Checks on a command's result shared by the CLI tests."""

from __future__ import annotations


def one_line_error(result, *words):
    """Exit status 2, one line of output starting 'Error:', containing each of ``words``."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
