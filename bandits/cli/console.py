"""How the command line talks: one-line errors, literal text, readable tables, progress."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bandits.validation import InputError

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
        except (InputError, OSError) as error:
            fail(str(error))
        except MemoryError as error:
            detail = f" ({error})" if str(error) else ""
            fail(
                f"Out of memory{detail}. Make the work smaller: fewer requests or candidates, "
                f"a smaller --batch-bytes, or fewer targets at once."
            )

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> None:
    """Print ``Error: message`` (literally, on one line) and exit with status 2."""
    print_error(message)
    raise typer.Exit(code=2)


def print_error(message: str) -> None:
    """Print ``Error: message`` on stderr, literally and on one line."""
    line = Text("Error: ", style="bold red")
    line.append(one_line(message))
    err.print(line)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks, tabs and other control characters are shown as
    escapes (``\\n``), so text from a path cannot pass for another line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def warn(message: str) -> None:
    """Print ``Warning message`` literally on stderr."""
    line = Text("Warning ", style="yellow")
    line.append(message)
    err.print(line)


def say(message: str) -> None:
    """Print user-facing text literally (paths and specs may hold brackets)."""
    console.print(Text(message))


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    """``frame`` as a Rich table whose columns fold instead of being cut, so a long policy
    spec stays readable in an 80-column terminal."""
    table = Table(title=Text(title), box=box.SIMPLE_HEAD)
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iuf"
        table.add_column(
            Text(str(column)),  # headers wrap between words
            justify="right" if numeric else "left",
            overflow="fold",  # a long spec folds onto more lines
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(number(v) if isinstance(v, float) else str(v)) for v in row))
    return table


def number(value: float) -> str:
    """Four significant digits, but whole numbers >= 10,000 in full (``12,345``)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def progress(quiet: bool) -> Progress:
    """A progress bar on stderr (hidden when quiet or when stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )
