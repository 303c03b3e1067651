"""Durable, atomic file writes: a temporary file beside the target, fsync, rename, fsync of the
folder. A reader sees the old file or the whole new one, never a part.

Temporary names start with ``.`` and end in ``.tmp`` (``TEMPORARY_SUFFIX``), so a folder left
behind by a killed process can be recognised and cleaned.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    """A hidden, unique sibling of ``target``: ``.<name>.<random>.tmp``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename inside it) to disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's contents to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def publish(temporary: Path, target: Path, *, replace: bool) -> None:
    """Give the finished, fsynced ``temporary`` its final name ``target`` and fsync the folder.

    Without ``replace`` the rename cannot replace a file that appeared meanwhile: a hard link
    claims the name atomically, so of two writers one wins and the other gets
    ``FileExistsError``.
    """
    if replace:
        os.replace(temporary, target)
    else:
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise FileExistsError(
                f"{target} already exists; it was not replaced (choose another name, or ask "
                f"to overwrite)."
            ) from None
        temporary.unlink()
    fsync_folder(target.parent)


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it becomes ``path`` (see :func:`publish`).

    If the body raises, the temporary file is removed and ``path`` is left as it was. The
    parent folder must exist.
    """
    target = Path(path)
    if not replace and target.exists():
        raise FileExistsError(
            f"{target} already exists; it was not replaced (choose another name, or ask to "
            f"overwrite)."
        )
    temporary = temporary_name(target)
    try:
        yield temporary
        fsync_file(temporary)
        publish(temporary, target, replace=replace)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, replace: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path, replace=replace) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


@contextmanager
def atomic_directory(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it becomes ``path`` in one rename.

    If the body raises, the temporary folder is removed and ``path`` is untouched. An existing
    empty folder at ``path`` is taken over; a non-empty one is an error unless ``replace`` is
    true, in which case it is swapped out and deleted only after the new folder is in place.
    The final rename cannot replace a folder someone else filled meanwhile: that is an error
    and their files stay. Files inside should be written with :func:`atomic_path` (which
    fsyncs them).
    """
    target = Path(path)
    if not replace and target.exists() and not _empty_folder(target):
        raise FileExistsError(f"{target} already exists and is not empty.")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(target)
    temporary.mkdir()
    try:
        yield temporary
        fsync_folder(temporary)
        old = temporary_name(target)
        if replace and target.exists():
            target.rename(old)
        try:
            temporary.rename(target)  # replaces at most an empty folder
        except OSError as error:
            if target.exists():
                raise FileExistsError(
                    f"{target} was filled by another process while this one was writing it; "
                    f"its files were left alone."
                ) from error
            raise
        fsync_folder(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())
