"""The run manifest (record_step, read_manifest, package_versions) and atomic writes."""

from __future__ import annotations

import json
import platform
import re

import numpy as np
import pytest

from bandits.cli import manifest
from bandits.cli.manifest import MANIFEST_NAME, package_versions, read_manifest, record_step
from bandits.logs.atomic import atomic_path, write_text_atomic
from bandits.validation import InputValueError


def test_record_two_steps_and_read_them_back(tmp_path):
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    path = record_step(run_dir, "simulate", config={"seed": 0}, outputs=["trace.parquet"])
    assert path == run_dir / MANIFEST_NAME
    record_step(run_dir, "report", outputs=["report.html"])

    data = read_manifest(run_dir)
    assert data == json.loads(path.read_text(encoding="utf-8"))
    assert data["run_id"] == "run-1"
    assert list(data["steps"]) == ["simulate", "report"]
    for step in data["steps"].values():
        assert step["python"] == platform.python_version()
        assert step["versions"] == package_versions()
        assert step["versions"]["numpy"] == np.__version__
    assert data["steps"]["simulate"]["config"] == {"seed": 0}
    assert data["steps"]["simulate"]["outputs"] == ["trace.parquet"]
    assert data["steps"]["report"]["outputs"] == ["report.html"]
    assert all("at" in step for step in data["steps"].values())
    assert sorted(p.name for p in run_dir.iterdir()) == [MANIFEST_NAME]


def test_read_manifest_of_a_new_folder(tmp_path):
    assert read_manifest(tmp_path) == {}


def test_invalid_manifest_names_the_file(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    message = f"{tmp_path / MANIFEST_NAME} is not valid JSON"
    with pytest.raises(InputValueError, match=re.escape(message)):
        read_manifest(tmp_path)


def test_package_versions_marks_absent_packages(monkeypatch):
    monkeypatch.setattr(manifest, "TRACKED_PACKAGES", ("numpy", "no-such-package-xyz"))
    assert package_versions() == {"numpy": np.__version__, "no-such-package-xyz": None}


def test_atomic_path_replaces_the_file_only_when_asked(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(FileExistsError, match="already exists"), atomic_path(target):
        pass
    with atomic_path(target, replace=True) as temporary:
        assert temporary.parent == tmp_path and temporary != target
        temporary.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"
    assert target.read_text(encoding="utf-8") == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_keeps_the_old_file_when_the_body_raises(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target, replace=True) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_write_text_atomic_writes_utf8_and_creates_no_folders(tmp_path):
    target = tmp_path / "notes.txt"
    assert write_text_atomic(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode()
    assert list(target.parent.iterdir()) == [target]
    with pytest.raises(FileNotFoundError):
        write_text_atomic(tmp_path / "a" / "b" / "notes.txt", "x")
    assert list(tmp_path.iterdir()) == [target]


def test_a_file_that_appears_during_a_write_is_not_replaced(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(FileExistsError, match="not replaced"):
        with atomic_path(target) as temporary:
            temporary.write_text("mine", encoding="utf-8")
            target.write_text("theirs", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "theirs"
    assert list(tmp_path.iterdir()) == [target]


def test_each_step_keeps_the_versions_it_ran_with(tmp_path, monkeypatch):
    record_step(tmp_path, "simulate")
    monkeypatch.setattr("bandits.cli.manifest.TRACKED_PACKAGES", ("numpy",))
    record_step(tmp_path, "report", run_id="named")
    steps = read_manifest(tmp_path)["steps"]
    assert "pyarrow" in steps["simulate"]["versions"]
    assert list(steps["report"]["versions"]) == ["numpy"]
    assert read_manifest(tmp_path)["run_id"] == "named"
