"""Run folders: what they hold, which command owns which file, and how commands claim one.

A run folder holds only what the ``bandits`` commands write:

================================================  =====================
``manifest.json``                                 every command (a step each)
``trace.parquet``, ``logs/*.parquet``             ``bandits simulate``
``estimates*.csv``                                ``bandits evaluate --out``
``regret.png``, ``reward.png``, ``summary.csv``,  ``bandits report``
``ctr.png``, ``engagement.png``,
``segments.csv``, ``segments.png``,
``estimates.png``, ``report.*``
================================================  =====================

A folder with anything else in it, or without a manifest of a simulation whose logs are there
(and are logs), is not a run folder: ``--overwrite`` refuses to replace it and ``report``
refuses to write into it. A command that writes into a run folder first *claims* it: it
creates the claim file ``.bandits-claim`` exclusively and writes its process id into it, so
of two commands on one folder the second is refused at once. ``bandits simulate`` writes the
run into a hidden temporary folder beside its target and, at the end, checks that nobody
changed the target meanwhile before the temporary takes its place in one rename.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import pyarrow as pa

from bandits.cli.manifest import MANIFEST_NAME, read_manifest
from bandits.logs.arrow import open_parquet
from bandits.logs.atomic import (
    MAX_PID,
    fsync_folder,
    is_temporary,
    machine_id,
    process_alive,
    remove_stale_temporaries,
    runs_here,
    temporary_name,
)
from bandits.logs.items import is_item_table_name
from bandits.validation import InputError, InputValueError, shown

CLAIM_NAME = ".bandits-claim"
CLAIM_PATTERN = re.compile(r"(?P<pid>[0-9]{1,7})(?:@(?P<machine>[A-Za-z0-9-]{1,64}))?", re.ASCII)
"""A claim file's text: the process id, then ``@`` and its machine (absent in older claims)."""
REPLACED_PREFIX = ".bandits-replaced."
"""Where an earlier run waits, hidden, between the two renames that replace it (never removed
as a stale temporary: if the second rename fails, the earlier run stays there, named in the
error)."""
LOGS_FOLDER = "logs"
POLICIES_FOLDER = "policies"
"""Where ``bandits simulate --save-policies`` saves each policy as it ended the run."""
POLICY_SUFFIX = ".policy"
OWNERS = {
    "manifest.json": "every bandits command",
    "trace.parquet": "bandits simulate",
    "regret.png": "bandits report",
    "reward.png": "bandits report",
    "ctr.png": "bandits report",
    "engagement.png": "bandits report",
    "segments.csv": "bandits report",
    "segments.png": "bandits report",
    "estimates.png": "bandits report",
    "summary.csv": "bandits report",
    "report.md": "bandits report",
    "report.html": "bandits report",
    "estimates*.csv": "bandits evaluate",
}
"""File name (or pattern) -> the command that writes it, in a run folder."""


def owner_of(name: str) -> str | None:
    """The command that owns a file of this name in a run folder, or None."""
    for pattern, owner in OWNERS.items():
        if fnmatch.fnmatchcase(name, pattern):
            return owner
    return None


def resolve_path(path: Path, option: str) -> Path:
    """``path`` made absolute with its symbolic links followed; a path that is not valid UTF-8
    or that loops gives an input error naming ``option``."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputValueError(
            f"{option} {shown(path)} is not valid UTF-8; use a name in UTF-8."
        ) from None
    try:
        return path.resolve()
    except RuntimeError as error:  # a symbolic link loop
        raise InputValueError(f"{option} {path}: {error}.") from None


def _reserved(name: str) -> bool:
    return name == CLAIM_NAME or is_temporary(Path(name)) or name.startswith(REPLACED_PREFIX)


class OutputFormat(NamedTuple):
    """What a command writes to ``--out``, and the file endings that may name it."""

    kind: str
    suffixes: tuple[str, ...]


CSV_TABLE = OutputFormat("a CSV table", (".csv",))
PARQUET_LOG = OutputFormat("a Parquet log", (".parquet",))
PARQUET_PROBABILITIES = OutputFormat("Parquet target probabilities", (".parquet",))
SAVED_POLICY = OutputFormat("a saved policy", (".policy", ".pkl"))
DSJSON = OutputFormat("VW DSJson lines", (".json", ".dsjson"))
OBP_FEEDBACK = OutputFormat("a NumPy .npz archive", (".npz",))
FILE_SUFFIXES = frozenset(
    suffix
    for output in (CSV_TABLE, PARQUET_LOG, SAVED_POLICY, DSJSON, OBP_FEEDBACK)
    for suffix in output.suffixes
) | {".npy", ".txt", ".html", ".png", ".toml", ".gz"}
"""Endings of files (written or read here, or common text and archive files): a folder to
write named with one of them was most likely meant as a file."""


def check_output_suffix(
    out: Path, writes: OutputFormat, command: str, target: Path | None = None
) -> None:
    """Refuse an ``--out`` whose ending (any case) is not one of ``writes.suffixes``, and one
    that leads (through a symbolic link) to ``target``, the file written, ending otherwise."""
    for path in (out,) if target is None else (out, target):
        if path.suffix.lower() not in writes.suffixes:
            named = f"--out {out}" if path is out else f"--out {out} leads to {target}, which"
            raise InputValueError(
                f"{named} must end in {' or '.join(writes.suffixes)}: bandits {command} "
                f"writes {writes.kind}; got the ending {shown(path.suffix)}."
            )


def check_folder_name(out: Path, label: str, writes: str) -> None:
    """Refuse a folder to write (``label`` names where its path came from) whose name ends
    like a file (``run.csv``): it would be taken for a file of that kind."""
    if out.suffix.lower() in FILE_SUFFIXES:
        raise InputValueError(
            f"{label} {out} ends in {out.suffix}, like a file, but it names the folder "
            f"{writes} into; give a folder name without a file ending."
        )


def check_output_file(
    out: Path, *, writes: OutputFormat, command: str, inputs: list[Path], overwrite: bool
) -> Path:
    """The path to write ``--out`` of ``bandits <command>`` to (symbolic links followed).

    Refused: a folder; one of the command's input files (a log and its item table); a name
    reserved for item tables, temporaries and claims; a file of a run folder that another
    command owns, or any file of a run folder another command is writing; an existing file
    unless ``overwrite``, and anything but a regular file even then (a device, a pipe); a
    name not ending in one of ``writes.suffixes`` (nor the file a symbolic link leads to); a
    folder that does not exist or cannot be written.
    """
    target = resolve_path(out, "--out")
    if target.is_dir():
        raise InputValueError(f"--out {out} is a folder; give the path of a file to write.")
    for path in inputs:
        if target == resolve_path(Path(path), "the input"):
            raise InputValueError(f"--out {out} is the command's own input; choose another file.")
    if is_item_table_name(target.name) or _reserved(target.name):
        raise InputValueError(
            f"--out {out} has a name reserved for item tables, claims and temporaries; choose "
            f"another name."
        )
    folder = target.parent
    in_logs = folder.name == LOGS_FOLDER and _has_run_manifest(folder.parent)
    in_run = in_logs or _has_run_manifest(folder)
    owner = "bandits simulate" if in_logs else owner_of(target.name)
    if in_run and owner != f"bandits {command}":
        mine = [name for name, who in OWNERS.items() if who == f"bandits {command}"]
        allowed = f"only {', '.join(mine)}" if mine else "nothing"
        raise InputValueError(
            f"--out {out} is in a run folder, where {owner or 'no bandits command'} owns that "
            f"name; bandits {command} writes {allowed} there."
        )
    if in_run:
        _refuse_if_claimed(folder)
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"--out {out} already exists; pass --overwrite to replace it.")
        if not stat.S_ISREG(target.stat().st_mode):
            raise InputValueError(
                f"--out {out} is not a regular file (a device or a pipe?); it is never replaced."
            )
    check_output_suffix(out, writes, command, target)
    if not folder.is_dir():
        raise FileNotFoundError(f"--out {out}: the folder {out.parent} does not exist.")
    probe = temporary_name(target)
    try:
        probe.touch(exist_ok=False)
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(
            f"--out {out}: the folder {out.parent} cannot be written ({reason})."
        ) from None
    probe.unlink()
    return target


def _has_run_manifest(folder: Path) -> bool:
    """Whether ``folder`` holds the manifest of a ``bandits`` run (a JSON object with steps),
    even if the folder also holds other files: its files stay protected. A ``manifest.json``
    of something else does not make a folder a run folder."""
    try:
        return bool(read_manifest(folder).get("steps"))
    except (InputError, OSError):
        return False


def folder_identity(folder: Path) -> tuple[int, int]:
    """(device, inode) of ``folder``: changes when the folder is replaced by another."""
    status = folder.stat()
    return status.st_dev, status.st_ino


def check_unchanged(folder: Path, identity: tuple[int, int]) -> None:
    """Refuse to write into ``folder`` if it is no longer the folder of ``identity`` (replaced,
    e.g. by ``simulate --overwrite``, while the command read its input)."""
    if folder_identity(folder) != identity:
        raise FileExistsError(
            f"{folder} was replaced by another run while this command read it; nothing "
            f"was written. Run the command again on the new run."
        )


def run_folder_problem(path: Path) -> str | None:
    """None if ``path`` is a run folder: a manifest of a simulation listing its logs, those
    logs (bandits logs, with their item tables) in ``logs/``, and otherwise only files the
    commands write; else what makes it something else, as a phrase."""
    if not path.is_dir():
        return "is not a folder"
    try:
        manifest = read_manifest(path)
    except (InputError, OSError) as error:
        return f"has an unusable {MANIFEST_NAME} ({error})"
    simulate = manifest.get("steps", {}).get("simulate")
    logs = simulate.get("logs") if isinstance(simulate, dict) else None
    if not isinstance(logs, dict) or not isinstance(simulate.get("config"), dict):
        return f"has no {MANIFEST_NAME} of a simulation"
    paths = [Path(str(log)) for log in logs.values()]
    listed = {log.name for log in paths if log.parent == Path(LOGS_FOLDER)}
    saved = simulate.get("policy_files", {})
    saved_names = (
        {Path(str(file)).name for file in saved.values()} if isinstance(saved, dict) else set()
    )
    for entry in sorted(path.iterdir()):
        if _reserved(entry.name):
            continue
        if entry.name == LOGS_FOLDER and entry.is_dir() and not entry.is_symlink():
            for log in sorted(entry.iterdir()):
                problem = _log_file_problem(log, listed)
                if problem is not None:
                    return problem
            continue
        if entry.name == POLICIES_FOLDER and entry.is_dir() and not entry.is_symlink():
            for file in sorted(entry.iterdir()):
                if not (_reserved(file.name) or file.name in saved_names):
                    return (
                        f"holds {POLICIES_FOLDER}/{file.name!r}, which the manifest does not list"
                    )
            continue
        if not entry.is_file() or entry.is_symlink() or owner_of(entry.name) is None:
            return f"holds {entry.name!r}, which no bandits command writes"
    return None


def _log_file_problem(file: Path, listed: set[str]) -> str | None:
    """None if ``file`` in ``logs/`` is a log the manifest lists or one's item table, and is
    what it says it is (a bandits log, or an item table)."""
    if _reserved(file.name):
        return None
    item_table = any(is_item_table_name(file.name, name) for name in listed)
    if not (file.name in listed or item_table) or file.is_symlink() or not file.is_file():
        return f"holds {LOGS_FOLDER}/{file.name}, which its manifest does not list"
    try:
        metadata = open_parquet(file, "log file").metadata.metadata or {}
    except (InputError, OSError, pa.ArrowException):
        return f"holds {LOGS_FOLDER}/{file.name}, which is not a bandits log"
    kind_ok = (
        metadata.get(b"bandits.kind") == b"items"
        if item_table
        else b"bandits.schema_version" in metadata
    )
    if not kind_ok:
        return f"holds {LOGS_FOLDER}/{file.name}, which is not a bandits log"
    return None


def _inside_run_folder(path: Path) -> Path | None:
    """The run folder (or log folder of one) that ``path`` would be created in, if any."""
    for ancestor in path.parents:
        if ancestor.is_dir() and run_folder_problem(ancestor) is None:
            return ancestor
        if ancestor.name == LOGS_FOLDER and (ancestor.parent / MANIFEST_NAME).exists():
            return ancestor.parent
    return None


def _listing(path: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``path`` (but the claim) -> (size, modification time in ns)."""
    files: dict[str, tuple[int, int]] = {}
    for folder, _, names in os.walk(path):
        for name in names:
            full = Path(folder) / name
            relative = str(full.relative_to(path))
            if relative == CLAIM_NAME:
                continue
            status = full.lstat()
            files[relative] = (status.st_size, status.st_mtime_ns)
    return files


class _Claim:
    """The claim file ``.bandits-claim`` of a folder: taken exclusively, holding the pid."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / CLAIM_NAME
        self.held = False

    def take(self) -> None:
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = claim_owner(self.path)
                if owner is not None and claim_alive(owner):
                    raise FileExistsError(
                        f"{self.folder} is being written by another bandits command (process "
                        f"{describe_owner(owner)}); wait for it to finish, or, if no command "
                        f"is writing there, remove {self.path}."
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a killed command
                continue
            try:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(f"{os.getpid()}@{machine_id()}")
            except OSError:  # a full disk: leave no empty claim behind
                self.path.unlink(missing_ok=True)
                raise
            self.held = True
            return
        raise FileExistsError(f"{self.folder} is being claimed by another command; try again.")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


ClaimOwner = tuple[int, str | None]
"""A claim's process id and machine (:func:`~bandits.logs.atomic.machine_id`; None in claims
written before machines were recorded, which count as this machine's)."""


def claim_owner(claim: Path) -> ClaimOwner | None:
    """The process (id and machine) a claim file holds, or None for a claim no live command
    wrote (garbage, an impossible id). A claim that is not a regular file is refused: it was
    not ours."""
    status = claim.lstat()
    if not stat.S_ISREG(status.st_mode):
        raise InputValueError(
            f"{claim} is not a claim file (a folder, link, pipe or device); remove it."
        )
    if status.st_size > 96:
        return None
    text = claim.read_text(encoding="utf-8", errors="replace").strip()
    match = CLAIM_PATTERN.fullmatch(text)
    if match is None:
        return None
    pid = int(match.group("pid"))
    return (pid, match.group("machine")) if 0 < pid <= MAX_PID else None


def claim_alive(owner: ClaimOwner) -> bool:
    """Whether the claim's process may still run: it does, on this machine; a claim made on
    another machine (a cluster sharing the folder) is taken to be alive, as this machine cannot
    see that machine's processes."""
    pid, machine = owner
    return not runs_here(machine) or process_alive(pid)


def describe_owner(owner: ClaimOwner) -> str:
    pid, machine = owner
    return f"{pid}" if runs_here(machine) else f"{pid} on machine {machine}"


def _refuse_if_claimed(folder: Path) -> None:
    """Refuse to write into ``folder`` while another command holds its claim."""
    claim = folder / CLAIM_NAME
    if claim.exists() or claim.is_symlink():
        owner = claim_owner(claim)
        mine = owner is not None and owner[0] == os.getpid() and runs_here(owner[1])
        if owner is not None and claim_alive(owner) and not mine:
            raise FileExistsError(
                f"{folder} is being written by another bandits command (process "
                f"{describe_owner(owner)}); wait for it to finish, or, if none is, remove "
                f"{claim}."
            )


@contextmanager
def claimed_run_folder(folder: Path, identity: tuple[int, int] | None = None) -> Iterator[Path]:
    """Hold the claim of an existing run folder while writing into it (``report``,
    ``evaluate --out``); refused if another command holds it, or if the folder is no longer
    the one of ``identity`` (see :func:`folder_identity`; replaced by ``simulate --overwrite``
    while this command read it)."""
    claim = _Claim(folder)
    claim.take()
    try:
        if identity is not None:
            check_unchanged(folder, identity)
        yield folder
    finally:
        claim.release()


class RunFolderClaim:
    """Claim ``path`` for a new run; yields the temporary folder to write the run into.

    On entering: the path must be valid UTF-8, not the root, not inside another run folder and
    not a reserved name; stale temporaries beside it are removed; the folder is created if
    missing (with its parents); its claim is taken (refused while another command holds it); a
    non-empty folder is refused unless ``overwrite`` and it is a run folder. On a clean exit
    the run replaces the folder in one rename, unless someone changed the folder meanwhile
    (then nothing is replaced and the run is not saved). On an exception nothing is replaced
    and the claim is released.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool) -> None:
        self.path = resolve_path(Path(path), "--out")
        if self.path.parent == self.path:
            raise InputValueError(f"--out {path} is the root folder; give a folder for the run.")
        if _reserved(self.path.name):
            raise InputValueError(
                f"--out {path} has a name reserved for claims and temporaries; choose another."
            )
        outer = _inside_run_folder(self.path)
        if outer is not None:
            raise InputValueError(
                f"--out {path} is inside the run folder {outer}; a run goes beside other runs, "
                f"not inside one."
            )
        self.overwrite = overwrite
        self.temporary = temporary_name(self.path)
        self._claim = _Claim(self.path)
        self._created = False
        self._snapshot: dict[str, tuple[int, int]] = {}

    def __enter__(self) -> Path:
        path = self.path
        for ancestor in [path, *path.parents]:
            if ancestor.exists() and not ancestor.is_dir():
                raise InputValueError(
                    f"--out {path}: {ancestor} is a file, not a folder; give a folder for the run."
                )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path.parent)
            try:
                path.mkdir()
                self._created = True
            except FileExistsError:
                pass
            self._claim.take()
        except (InputError, FileExistsError):
            raise
        except OSError as error:
            reason = error.strerror or str(error)
            raise OSError(f"--out {path}: cannot create the run folder ({reason}).") from None
        try:
            self._snapshot = _listing(path)
            if self._snapshot or any(e.name != CLAIM_NAME for e in path.iterdir()):
                if not self.overwrite:
                    raise FileExistsError(
                        f"{path} is not empty; pass --overwrite to replace an earlier run, or "
                        f"choose another --out."
                    )
                problem = run_folder_problem(path)
                if problem is not None:
                    raise FileExistsError(
                        f"{path} {problem}, so it is not a run folder; --overwrite replaces "
                        f"only run folders. Choose another --out."
                    )
            self.temporary.mkdir()
        except BaseException:
            self._release()
            raise
        return self.temporary

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self._release()
        if isinstance(error, OSError) and str(self.temporary) in str(error):
            # a write into the run failed (a full disk): name the run, not its temporary
            named = type(error)(str(error).replace(str(self.temporary), str(self.path)))
            named.errno = error.errno
            raise named from None

    def _commit(self) -> None:
        path = self.path
        fsync_folder(self.temporary)
        now = _listing(path)
        if now != self._snapshot:
            changed = sorted(set(now) ^ set(self._snapshot)) or sorted(
                name for name in now if now[name] != self._snapshot.get(name)
            )
            raise FileExistsError(
                f"{path} changed while this run was writing it ({', '.join(changed[:3])}); "
                f"its files were left alone and this run was not saved."
            )
        if self._snapshot:  # replace an earlier run: move it aside, then delete it
            old = path.with_name(f"{REPLACED_PREFIX}{path.name}.{uuid.uuid4().hex}")
            path.rename(old)
            self._claim.held = False  # the claim left with the old folder
            try:
                self.temporary.rename(path)
            except OSError as failure:
                if _taken(failure):
                    raise FileExistsError(
                        f"{path} was taken by another run at the last moment; the earlier run "
                        f"was kept at {old} and this run was not saved."
                    ) from None
                old.rename(path)  # put the earlier run back, with our claim
                self._claim.held = True
                raise _rename_error(failure, path) from None
            fsync_folder(path.parent)
            shutil.rmtree(old, ignore_errors=True)
            return
        self._claim.release()
        try:
            self.temporary.rename(path)  # replaces the (empty) claimed folder
        except OSError as failure:
            if _taken(failure):
                raise FileExistsError(
                    f"{path} was filled by another run at the last moment; its files were left "
                    f"alone and this run was not saved."
                ) from None
            raise _rename_error(failure, path) from None
        fsync_folder(path.parent)

    def _release(self) -> None:
        if self._claim.held:
            self._claim.release()
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()


def _taken(failure: OSError) -> bool:
    """Whether a failed rename onto a run folder means someone put files there."""
    return failure.errno in (errno.ENOTEMPTY, errno.EEXIST)


def _rename_error(failure: OSError, path: Path) -> OSError:
    """The error of a rename onto ``path`` that failed for another reason (a mount point, no
    permission): names the folder and the reason."""
    reason = os.strerror(failure.errno) if failure.errno else str(failure)
    error = type(failure)(
        f"{path}: the finished run cannot take this name ({reason}); nothing was replaced and "
        f"this run was not saved. Choose another --out."
    )
    error.errno = failure.errno
    return error
