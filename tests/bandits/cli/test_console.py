"""Everything the command line prints is the user's text, literally and on one line."""

from __future__ import annotations

import errno

import pandas as pd
import pytest
from rich.console import Console

from bandits.cli import console as console_module
from bandits.cli.console import describe_os_error, rich_table

HOSTILE = "[bold]spec[/bold]\x1b[31m red\nError: forged\r\x00|end"


@pytest.fixture
def captured(monkeypatch):
    """Both of the module's consoles write to one plain-text recorder."""
    recorder = Console(record=True, width=80, color_system=None, soft_wrap=True)
    monkeypatch.setattr(console_module, "console", recorder)
    monkeypatch.setattr(console_module, "err", recorder)
    return recorder


@pytest.mark.parametrize("printer", ["say", "warn", "print_error"])
def test_messages_print_user_text_literally_on_one_line(captured, printer):
    getattr(console_module, printer)(HOSTILE)
    text = captured.export_text()
    assert text.count("\n") == 1  # one line
    assert "[bold]spec[/bold]" in text  # markup shown, not applied
    assert "\\x1b[31m red\\nError: forged\\r\\x00|end" in text  # control characters escaped
    assert "\x1b" not in text and "\r" not in text and "\x00" not in text


def test_table_titles_headers_and_cells_are_literal(captured):
    frame = pd.DataFrame({HOSTILE: [HOSTILE], "value": [0.5]})
    captured.print(rich_table(frame, HOSTILE))
    text = captured.export_text()
    assert "\x1b" not in text and "\x00" not in text and "\r" not in text
    assert "[bold]spec[/bold]" in text.replace("\n", "").replace(" ", "")
    assert "\\nError: forged" in text  # the forged line break is shown, not made
    assert not any(line.lstrip().startswith("Error") for line in text.splitlines())


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EFBIG, "File too large"),
        (errno.ENAMETOOLONG, "longer than the file system allows"),
        (errno.EROFS, "read-only"),
    ],
)
def test_file_system_errors_name_the_path_and_what_to_do(code, words):
    message = describe_os_error(OSError(code, "ignored", "/data/run/" + "x" * 500))
    assert words in message and message.startswith("/data/run/")
    assert len(message) < 250  # a long path is cut, its length said
    assert "characters" in message


def test_messages_without_a_file_pass_unchanged():
    assert describe_os_error(OSError("our own words")) == "our own words"
