"""Run folders: what they hold, which command owns which file, and how a run claims one.

A run folder holds only what the ``bandits`` commands write:

==============================================  =====================
``manifest.json``                               every command (a step each)
``trace.parquet``, ``logs/*.parquet``           ``bandits simulate``
``estimates*.csv``                              ``bandits evaluate --out``
``regret.png``, ``summary.csv``, ``report.*``   ``bandits report``
==============================================  =====================

A folder with anything else in it, or without a manifest of a simulation, is not a run folder,
and ``--overwrite`` refuses to replace it. ``bandits simulate`` claims its folder before it
simulates (a claim file created exclusively, so a second run into the same folder is refused
at once), writes the run into a hidden temporary folder beside it, and at the end checks that
nobody changed the folder meanwhile before the temporary takes its place in one rename.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path
from types import TracebackType

from bandits.cli.manifest import MANIFEST_NAME, read_manifest
from bandits.logs.atomic import (
    fsync_folder,
    is_temporary,
    process_alive,
    remove_stale_temporaries,
    temporary_name,
)
from bandits.logs.items import is_item_table_name
from bandits.validation import InputError, InputValueError

CLAIM_NAME = ".bandits-claim"
LOGS_FOLDER = "logs"
OWNERS = {
    "manifest.json": "every bandits command",
    "trace.parquet": "bandits simulate",
    "regret.png": "bandits report",
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


def check_output_file(out: Path, *, command: str, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an ``--out`` file of ``bandits <command>`` that is a folder, one of the command's
    input files (a log and its item table), named like a log's item table, a file of a run
    folder that another command owns, an existing file (unless ``overwrite``), or in a folder
    that does not exist or cannot be written. Symbolic links are followed first."""
    target = out.resolve()
    if target.is_dir():
        raise InputValueError(f"--out {out} is a folder; give the path of a file to write.")
    for path in inputs:
        if target == Path(path).resolve():
            raise InputValueError(f"--out {out} is the command's own input; choose another file.")
    if is_item_table_name(target.name):
        raise InputValueError(f"--out {out} is named like a log's item table; choose another name.")
    folder = target.parent
    in_logs = folder.name == LOGS_FOLDER and (folder.parent / MANIFEST_NAME).exists()
    in_run = in_logs or (folder / MANIFEST_NAME).exists()
    owner = "bandits simulate" if in_logs else owner_of(target.name)
    if in_run and owner != f"bandits {command}":
        mine = [name for name, who in OWNERS.items() if who == f"bandits {command}"]
        allowed = f"only {', '.join(mine)}" if mine else "nothing"
        raise InputValueError(
            f"--out {out} is in a run folder, where {owner or 'no bandits command'} owns that "
            f"name; bandits {command} writes {allowed} there."
        )
    if target.exists() and not overwrite:
        raise FileExistsError(f"--out {out} already exists; pass --overwrite to replace it.")
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


def run_folder_problem(path: Path) -> str | None:
    """None if ``path`` is a run folder: a manifest of a simulation that lists its logs, those
    logs (and their item tables) in ``logs/``, and otherwise only files the commands write;
    else what makes it something else, as a phrase."""
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
    listed = {
        Path(str(log)).name for log in logs.values() if Path(str(log)).parent.name == LOGS_FOLDER
    }
    for entry in sorted(path.iterdir()):
        if is_temporary(entry) or entry.name == CLAIM_NAME:
            continue
        if entry.name == LOGS_FOLDER and entry.is_dir() and not entry.is_symlink():
            for log in sorted(entry.iterdir()):
                known = log.name in listed or any(
                    is_item_table_name(log.name, name) for name in listed
                )
                if not (known and log.is_file()) and not is_temporary(log):
                    return f"holds {LOGS_FOLDER}/{log.name}, which its manifest does not list"
            continue
        if not entry.is_file() or entry.is_symlink() or owner_of(entry.name) is None:
            return f"holds {entry.name!r}, which no bandits command writes"
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


class RunFolderClaim:
    """Claim ``path`` for a new run; yields the temporary folder to write the run into.

    On entering: stale temporaries beside the folder are removed; the folder is created if
    missing (with its parents); a claim file is created in it exclusively (a live claim of
    another process means another run is writing there: refused); a non-empty folder is
    refused unless ``overwrite`` and it is a run folder. On a clean exit the run replaces the
    folder in one rename, unless someone changed the folder meanwhile (then nothing is replaced
    and the run is not saved). On an exception nothing is replaced and the claim is released.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool) -> None:
        self.path = Path(path).resolve()
        if self.path.parent == self.path:
            raise InputValueError(f"--out {path} is the root folder; give a folder for the run.")
        self.overwrite = overwrite
        self.temporary = temporary_name(self.path)
        self._claim = self.path / CLAIM_NAME
        self._created = False
        self._claimed = False
        self._snapshot: dict[str, tuple[int, int]] = {}

    def __enter__(self) -> Path:
        path = self.path
        if path.exists() and not path.is_dir():
            raise InputValueError(f"--out {path} is a file; give a folder for the run.")
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        try:
            path.mkdir()
            self._created = True
        except FileExistsError:
            pass
        self._take_claim()
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

    def _take_claim(self) -> None:
        for _ in range(2):
            try:
                descriptor = os.open(self._claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _claim_owner(self._claim)
                if owner is not None and process_alive(owner):
                    raise FileExistsError(
                        f"{self.path} is being written by another run (process {owner}); "
                        f"wait for it, or choose another --out."
                    ) from None
                self._claim.unlink(missing_ok=True)  # left by a killed run
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(str(os.getpid()))
            self._claimed = True
            return
        raise FileExistsError(f"{self.path} is being claimed by another run; try again.")

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
            old = temporary_name(path)
            path.rename(old)
            try:
                self.temporary.rename(path)
            except OSError as failure:
                raise FileExistsError(
                    f"{path} was taken by another run at the last moment; the earlier run "
                    f"was kept at {old} and this run was not saved."
                ) from failure
            self._claimed = False  # the claim left with the old folder
            fsync_folder(path.parent)
            shutil.rmtree(old, ignore_errors=True)
            return
        self._claim.unlink(missing_ok=True)
        self._claimed = False
        try:
            self.temporary.rename(path)  # replaces the (empty) claimed folder
        except OSError as failure:
            raise FileExistsError(
                f"{path} was filled by another run at the last moment; its files were left "
                f"alone and this run was not saved."
            ) from failure
        fsync_folder(path.parent)

    def _release(self) -> None:
        if self._claimed:
            self._claim.unlink(missing_ok=True)
            self._claimed = False
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()


def _claim_owner(claim: Path) -> int | None:
    try:
        text = claim.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
