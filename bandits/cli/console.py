"""How the command line talks: one-line errors, literal text, readable tables, progress."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bandits.validation import InputError, one_line

err = Console(stderr=True, soft_wrap=True, highlight=False)
console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """Turn the user's mistakes into one line on stderr and exit status 2.

    Input errors of the toolkit (``bandits.validation.InputError``) and file-system errors
    (missing file, no permission, no space) print their message; running out of memory says
    what to make smaller. Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            fail(str(error))
        except OSError as error:
            fail(describe_os_error(error))
        except MemoryError as error:
            detail = f" ({error})" if str(error) else ""
            fail(
                f"Out of memory{detail}. Make the work smaller: fewer requests or candidates, "
                f"a smaller --batch-bytes, or fewer targets at once."
            )

    return wrapper  # type: ignore[return-value]


OS_HINTS = {
    errno.ENAMETOOLONG: "a name in the path is longer than the file system allows; use a "
    "shorter one",
    errno.ENOSPC: "the disk is full; free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EFBIG: "File too large for this system's limit on file size (ulimit -f); raise the "
    "limit or write a smaller file",
    errno.EACCES: "permission denied; choose a path you may write (or read)",
    errno.EROFS: "the file system is read-only; write elsewhere",
}


def describe_os_error(error: OSError) -> str:
    """One line for a file-system error: the path (cut if long), the reason and, for the
    usual causes, what to do. Our own messages (no file name attached) pass unchanged."""
    if error.filename is None or not error.errno:
        return str(error)
    path = os.fsdecode(error.filename)
    if len(path) > 120:
        path = f"{path[:60]}...{path[-40:]} ({len(path):,} characters)"
    reason = OS_HINTS.get(error.errno) or error.strerror or os.strerror(error.errno)
    return f"{path}: {reason}."


def fail(message: str) -> None:
    """Print ``Error: message`` (literally, on one line) and exit with status 2."""
    print_error(message)
    raise typer.Exit(code=2)


def print_error(message: str) -> None:
    """Print ``Error: message`` on stderr, literally and on one line."""
    line = Text("Error: ", style="bold red")
    line.append(one_line(message))
    err.print(line)


def warn(message: str) -> None:
    """Print ``Warning message`` literally on stderr."""
    line = Text("Warning ", style="yellow")
    line.append(one_line(message))
    err.print(line)


def say(message: str) -> None:
    """Print user-facing text literally and on one line (paths and specs may hold brackets
    or control characters)."""
    console.print(Text(one_line(message)))


def rich_table(frame: pd.DataFrame, title: str, whole: tuple[str, ...] = ()) -> Table:
    """``frame`` as a Rich table whose columns fold instead of being cut, so a long policy
    spec stays readable in an 80-column terminal; the columns named in ``whole`` (short names,
    numbers) are never folded."""
    table = Table(title=Text(one_line(title)), box=box.SIMPLE_HEAD)
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iuf"
        keep = column in whole
        longest = max((len(_cell(v)) for v in frame[column]), default=0)
        table.add_column(
            Text(one_line(str(column))),  # headers wrap between words
            justify="right" if numeric else "left",
            overflow="fold",  # a long spec folds onto more lines
            no_wrap=keep,
            min_width=min(longest, 40) if keep else None,
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(_cell(v)) for v in row))
    return table


def _cell(value: object) -> str:
    """A table cell's text: floats by :func:`number`, anything else on one line."""
    return number(value) if isinstance(value, float) else one_line(str(value))


def number(value: float) -> str:
    """Four significant digits, but whole numbers >= 10,000 in full (``12,345``)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def progress(quiet: bool) -> Progress:
    """A progress bar on stderr (hidden when quiet or when stderr is not a terminal): the
    task's description, bar, done/total and time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )
