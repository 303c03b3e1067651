"""The manifest of a run folder: config, seeds, package versions and what each command wrote."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bandits.logs.atomic import write_text_atomic
from bandits.validation import InputValueError, check_regular_file

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 2**20
TRACKED_PACKAGES = (
    "bandits-recommender",
    "numpy",
    "scipy",
    "gymnasium",
    "vowpalwabbit",
    "pandas",
    "matplotlib",
    "pyarrow",
    "typer",
    "rich",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run depends on (None if absent)."""
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run folder's manifest, or an empty dict if it has none yet."""
    path = Path(run_dir) / MANIFEST_NAME
    if not path.exists():
        return {}
    check_regular_file(path, "manifest")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InputValueError(
            f"{path} is larger than a manifest can be ({MAX_MANIFEST_BYTES:,} bytes)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # not JSON, not UTF-8, an integer of thousands of digits
        raise InputValueError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:
        raise InputValueError(f"{path} is not a run manifest: it is nested too deeply.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("steps", {}), dict):
        raise InputValueError(
            f"{path} is not a run manifest (a JSON object with a 'steps' object)."
        )
    return manifest


def record_step(
    run_dir: str | os.PathLike[str], command: str, *, run_id: str | None = None, **entries: Any
) -> Path:
    """Add what ``command`` did to the run's manifest, atomically.

    Each step keeps its own time, Python, platform and package versions with its settings and
    outputs (``entries``), so a later step run with other versions does not rewrite what an
    earlier one ran with. ``run_id`` defaults to the folder's name.
    """
    manifest = read_manifest(run_dir)
    manifest["run_id"] = run_id or manifest.get("run_id") or Path(run_dir).resolve().name
    manifest.setdefault("steps", {})[command] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": package_versions(),
        **entries,
    }
    text = json.dumps(manifest, indent=2, sort_keys=False, default=str)
    return write_text_atomic(Path(run_dir) / MANIFEST_NAME, text + "\n", replace=True)
