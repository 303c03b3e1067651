"""Durable, atomic file writes: a temporary file beside the target, fsync, rename, fsync of the
folder. A reader sees the old file or the whole new one, never a part.

Temporary names are hidden, reserved and say who made them:
``.bandits-tmp.<name>.@<machine>.<pid>-<random>``, ``<machine>`` being :func:`machine_id`. A
temporary left behind by a killed process is recognised by its name and a dead process id, and
removed by :func:`remove_stale_temporaries`, which every write into a folder calls first; a
temporary of a live process (a concurrent run) is left alone, and so is one made on another
machine (a folder shared by a cluster's hosts): this machine cannot tell whether that process
lives. Names without a machine (written before it was recorded) count as this machine's.
Nothing that reads results counts them, and no output may take such a name.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Self

import pyarrow.parquet as pq

TEMPORARY_PREFIX = ".bandits-tmp."
TEMPORARY_PATTERN = re.compile(
    r"\.bandits-tmp\..*?(?:\.@(?P<machine>[A-Za-z0-9-]{1,64}))?\.(?P<pid>[0-9]{1,7})-[0-9a-f]{32}",
    re.ASCII | re.DOTALL,
)
"""Names :func:`temporary_name` makes (the groups: the ``machine`` and ``pid`` of the process
that made it; no machine in names written before it was recorded)."""

MAX_PID = 4_194_304
"""Linux's largest process id (``pid_max`` cannot exceed it)."""


@functools.cache
def machine_id() -> str:
    """This machine in temporary names and claims: its host name (letters, digits and ``-``,
    at most 40) and the first 8 hex digits of the kernel's boot id, e.g. ``node-3-1f2e3d4c``.
    Processes on two machines sharing a folder (a cluster over NFS) then never judge each
    other's process ids."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().replace("-", "").strip()[:8]
    except OSError:
        boot = "0"
    return f"{host}-{re.sub(r'[^0-9a-f]', '0', boot) or '0'}"


def temporary_name(target: Path) -> Path:
    """A hidden, unique sibling of ``target``:
    ``.bandits-tmp.<name>.@<machine>.<pid>-<random>``."""
    made_by = f"@{machine_id()}.{os.getpid()}"
    return target.with_name(f"{TEMPORARY_PREFIX}{target.name}.{made_by}-{uuid.uuid4().hex}")


def runs_here(machine: str | None) -> bool:
    """True if a process recorded with ``machine`` (None: not recorded) ran on this one."""
    return machine is None or machine == machine_id()


def is_temporary(path: Path) -> bool:
    """True if ``path`` is named like a temporary of :func:`temporary_name`."""
    return TEMPORARY_PATTERN.fullmatch(path.name) is not None


def process_alive(pid: int) -> bool:
    """True if a process with this id runs (on this machine); False for ids no process can
    have, and for a zombie (a process that has ended but was not yet reaped: where the init
    process reaps slowly, a killed command's workers can stay zombies)."""
    if not 0 < pid <= MAX_PID:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """True if Linux's /proc says ``pid`` has ended and waits to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
    except OSError:  # no /proc (not Linux) or the process just went
        return False
    return bool(fields) and fields[0] == b"Z"


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries in ``folder`` whose process is gone; returns what was removed.

    A process id can be reused, so a temporary of a dead run may survive until its id is free
    again; one of a live process is never touched, nor one made on another machine.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in entries:
        match = TEMPORARY_PATTERN.fullmatch(entry.name)
        if (
            match is None
            or not runs_here(match.group("machine"))
            or process_alive(int(match.group("pid")))
        ):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


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


FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_error(error: OSError, target: Path) -> OSError:
    """``error`` (raised while writing ``target``, maybe by pyarrow without a file name) as an
    error of the same kind and errno whose message names ``target`` and what to do."""
    reason = os.strerror(error.errno) if error.errno else (error.strerror or str(error))
    hint = " Free some space or write elsewhere." if error.errno in FULL_DISK else ""
    named = type(error)(f"{target} cannot be written: {reason}.{hint}")
    named.errno = error.errno
    return named


@contextmanager
def writing(target: Path) -> Iterator[None]:
    r"""Re-raise file-system errors in the body as :func:`write_error`\ s naming ``target``
    (``FileExistsError`` messages are ours already and pass unchanged)."""
    try:
        yield
    except FileExistsError:
        raise
    except OSError as error:
        raise write_error(error, target) from None


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it becomes ``path`` (see :func:`publish`).

    If the body raises, the temporary file is removed and ``path`` is left as it was. The
    parent folder must exist; stale temporaries in it are removed first.
    """
    target = Path(path)
    if not replace and target.exists():
        raise FileExistsError(
            f"{target} already exists; it was not replaced (choose another name, or ask to "
            f"overwrite)."
        )
    remove_stale_temporaries(target.parent)
    temporary = temporary_name(target)
    try:
        with writing(target):  # name the file being written, not its hidden temporary
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


class StreamedParquetFile(ABC):
    """The shared part of a Parquet file written row group by row group into a temporary and
    published whole by ``close`` (:class:`~bandits.logs.LogWriter`, the trace's writer): a
    failure inside ``with`` drops the temporary and leaves the target as it was.

    Subclasses set ``_temporary`` (a :func:`temporary_name`), ``_writer`` (None until the
    first row group) and ``_closed``, and write ``close``.
    """

    _temporary: Path
    _writer: pq.ParquetWriter | None
    _closed: bool

    @abstractmethod
    def close(self) -> Path:
        """Finish the file and give it its name; return the path."""

    def abort(self) -> None:
        """Drop what was written; the target is left as it was."""
        if self._writer is not None and not self._closed:
            with suppress(OSError):  # a full disk fails the last flush too
                self._writer.close()
        self._closed = True
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
