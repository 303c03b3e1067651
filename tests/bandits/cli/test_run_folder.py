"""Run folders under stress: concurrent runs, kills, files that appear mid-run, overwrite."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bandits.cli.run_folder import (
    CLAIM_NAME,
    RunFolderClaim,
    _Claim,
    claim_owner,
    run_folder_problem,
)
from bandits.logs.atomic import is_temporary, machine_id

BANDITS = str(Path(sys.executable).with_name("bandits"))
ENV = ["--env-param", "n_requests=50", "--env-param", "slate_size=2",
       "--env-param", "min_candidates=10", "--env-param", "max_candidates=10"]  # fmt: skip


def simulate(out: Path, *extra: str, requests: int = 200, seed: int = 0) -> subprocess.Popen:
    command = [BANDITS, "simulate", *ENV, "--policy", "uniform", "--policy", "linucb",
               "--requests", str(requests), "--seed", str(seed), "--quiet", "--out", str(out),
               *extra]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_two_runs_into_one_folder_one_wins_one_is_refused(tmp_path):
    out = tmp_path / "run"
    first = simulate(out, requests=200_000, seed=1)
    wait_for(lambda: (out / CLAIM_NAME).exists())
    second = simulate(out, requests=200, seed=2)
    _, error = second.communicate(timeout=120)
    assert second.returncode == 2 and "being written by another bandits command" in error
    _, error = first.communicate(timeout=300)
    assert first.returncode == 0, error
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"]["simulate"]["config"]["seed"] == 1
    assert run_folder_problem(out) is None and hidden(out) == [] and hidden(tmp_path) == []


def test_a_killed_run_leaves_no_result_and_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "run"
    victim = simulate(out, requests=200_000)

    def writing_logs():  # the run's temporary folder has started receiving its logs
        return any(is_temporary(p) and (p / "logs").exists() for p in tmp_path.iterdir())

    wait_for(writing_logs, timeout=120)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert not (out / "manifest.json").exists()  # nothing partial counts as a result
    assert [p.name for p in out.iterdir()] == [CLAIM_NAME]  # only the dead run's claim
    assert any(is_temporary(p) for p in tmp_path.iterdir())  # and its temporary folder
    again = simulate(out, requests=100)
    _, error = again.communicate(timeout=120)
    assert again.returncode == 0, error
    assert run_folder_problem(out) is None
    assert hidden(tmp_path) == [] and hidden(out) == []  # the stale temporaries are gone


def test_a_file_created_in_the_folder_during_an_overwrite_is_kept(tmp_path):
    out = tmp_path / "run"
    assert simulate(out, seed=1).wait(timeout=120) == 0
    before = (out / "manifest.json").read_text()
    rewrite = simulate(out, "--overwrite", requests=60_000, seed=2)
    # the run has checked the folder once its temporary beside it exists (before that, a new
    # file is refused by the first check instead: a race the test must not depend on)
    wait_for(lambda: (out / CLAIM_NAME).exists() and bool(hidden(tmp_path)))
    (out / "notes.txt").write_text("mine")
    _, error = rewrite.communicate(timeout=300)
    assert rewrite.returncode == 2 and "changed while this run was writing" in error
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "manifest.json").read_text() == before  # the earlier run is intact
    assert hidden(tmp_path) == [] and hidden(out) == []


SIMULATION = {"steps": {"simulate": {"config": {}, "logs": {"uniform": "logs/uniform.parquet"}}}}


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"manifest.json": "{}", "private.txt": "keep me"}, "no manifest.json of a simulation"),
        ({"manifest.json": '{"steps": {"simulate": {}}}', "report.md": "mine"},
         "no manifest.json of a simulation"),
        ({"manifest.json": json.dumps(SIMULATION), "private.txt": "keep me"},
         "holds 'private.txt', which no bandits command writes"),
        ({"manifest.json": json.dumps(SIMULATION), "logs/thesis.parquet": "my thesis"},
         "holds logs/thesis.parquet, which its manifest does not list"),
        ({"manifest.json": "[1, 2]"}, "is not a run manifest"),
    ],
)  # fmt: skip
def test_overwrite_recognises_a_run_folder_by_its_content(tmp_path, files, words):
    fake = tmp_path / "fake"
    for name, text in files.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    before = {p: p.read_bytes() for p in fake.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match=re.escape(words) + ".* not a run folder"):
        with RunFolderClaim(fake, overwrite=True):
            pass
    assert {p: p.read_bytes() for p in fake.rglob("*") if p.is_file()} == before


def test_a_failed_run_releases_its_claim_and_removes_the_folder_it_created(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with RunFolderClaim(out, overwrite=False) as folder:
            (folder / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert not out.exists() and list((tmp_path / "new").iterdir()) == []


def test_a_claim_of_a_live_process_is_respected(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / CLAIM_NAME).write_text(str(os.getppid()))  # a live process: our parent
    with pytest.raises(
        FileExistsError,
        match=rf"another bandits command \(process {os.getppid()}\).*remove .*\.bandits-claim",
    ):
        with RunFolderClaim(out, overwrite=False):
            pass
    (out / CLAIM_NAME).write_text("999999999")  # no such process: a stale claim
    with RunFolderClaim(out, overwrite=False) as folder:
        (folder / "manifest.json").write_text("{}")


def test_a_claim_made_on_another_machine_is_respected_and_named(tmp_path):
    """A folder shared by a cluster's hosts: this machine cannot see the other's processes,
    so a claim from there stands (and says where it came from); a dead process's claim made
    here, with this machine's name, is stale."""
    out = tmp_path / "run"
    out.mkdir()
    (out / CLAIM_NAME).write_text("4194000@node-7-0badcafe")
    with pytest.raises(FileExistsError, match=r"process 4194000 on machine node-7-0badcafe"):
        with RunFolderClaim(out, overwrite=False):
            pass
    (out / CLAIM_NAME).write_text(f"4194000@{machine_id()}")
    with RunFolderClaim(out, overwrite=False) as folder:
        (folder / "manifest.json").write_text("{}")
    assert [p.name for p in out.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize(
    "content", ["99999999999999999999999", "²", "0", "garbage\n", "-5", "4194305"]
)
def test_a_claim_no_live_command_wrote_is_taken_over(tmp_path, content):
    out = tmp_path / "run"
    out.mkdir()
    (out / CLAIM_NAME).write_text(content)
    with RunFolderClaim(out, overwrite=False) as folder:
        (folder / "manifest.json").write_text("{}")
    assert [p.name for p in out.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize("kind", ["folder", "pipe", "link"])
def test_a_claim_that_is_not_a_file_is_refused_without_blocking(tmp_path, kind):
    out = tmp_path / "run"
    out.mkdir()
    claim = out / CLAIM_NAME
    if kind == "folder":
        claim.mkdir()
    elif kind == "pipe":
        os.mkfifo(claim)
    else:
        claim.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"is not a claim file .*; remove it"):
        with RunFolderClaim(out, overwrite=False):
            pass


def test_evaluate_and_report_wait_their_turn_on_a_claimed_run_folder(tmp_path):
    out = tmp_path / "run"
    assert simulate(out).wait(timeout=120) == 0
    (out / CLAIM_NAME).write_text(str(os.getppid()))  # a live command holds the folder
    log = str(out / "logs" / "uniform.parquet")
    for command in (["evaluate", log, "-t", "uniform", "--out", str(out / "estimates.csv")],
                    ["report", str(out)]):  # fmt: skip
        result = subprocess.run([BANDITS, *command], capture_output=True, text=True)
        assert (
            result.returncode == 2 and "being written by another bandits command" in result.stderr
        )
    assert not (out / "estimates.csv").exists() and not (out / "report.md").exists()


def test_names_of_temporaries_claims_and_kept_runs_are_reserved(tmp_path):
    for name in (f".bandits-tmp.x.1-{'0' * 32}", CLAIM_NAME, ".bandits-replaced.run.abc"):
        with pytest.raises(ValueError, match="reserved"):
            RunFolderClaim(tmp_path / name, overwrite=False)


def test_an_older_temporary_naming_is_never_taken_for_ours(tmp_path):
    """A user's own folder named like the old temporaries (.x.<pid>-<hex>.tmp) is kept."""
    mine = tmp_path / f".myrun.4000000-{'a' * 32}.tmp"
    mine.mkdir()
    (mine / "data.txt").write_text("mine")
    assert simulate(tmp_path / "run").wait(timeout=120) == 0
    assert (mine / "data.txt").read_text() == "mine"


def test_no_run_goes_inside_a_run_folder(tmp_path):
    out = tmp_path / "run"
    assert simulate(out).wait(timeout=120) == 0
    for inner in (out / "sub", out / "logs" / "inner"):
        with pytest.raises(ValueError, match="is inside the run folder"):
            RunFolderClaim(inner, overwrite=False)


def test_a_claim_names_its_process_and_machine(tmp_path):
    claim = _Claim(tmp_path)
    claim.take()
    assert (tmp_path / CLAIM_NAME).read_text() == f"{os.getpid()}@{machine_id()}"
    assert claim_owner(tmp_path / CLAIM_NAME) == (os.getpid(), machine_id())
    claim.release()
    assert not (tmp_path / CLAIM_NAME).exists()
