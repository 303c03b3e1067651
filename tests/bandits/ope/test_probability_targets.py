"""Targets given as probabilities (obp's action_dist): hand-computed estimates, what
estimators may and may not derive from marginals, the round trip of a policy's own
probabilities through Parquet, .npy and .npz files (equal to the policy to 1e-12), and the
checks of a file's rows."""

from __future__ import annotations

import copy
import pickle
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import explicit_observation

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.logs import iter_log_batches, read_log, write_log
from bandits.ope import (
    ESTIMATORS,
    IIPS,
    IPS,
    RIPS,
    SNIPS,
    PseudoInverse,
    evaluate_log,
    make_estimator,
    probability_target,
    read_probability_target,
    write_probability_target,
)
from bandits.ope.extensions import conditional_probabilities
from bandits.run import replay_updates
from bandits.validation import InputError, InputValueError
from policies import EpsilonGreedy, RidgeGreedy, UniformRandom


def _log(slates, rewards, n: int) -> LoggedBandit:
    """Rows of ``n`` candidates logged by the uniform policy over ordered slates."""
    slates = np.asarray(slates, dtype=np.int64)
    rows, size = slates.shape
    obs = explicit_observation(np.zeros((rows, 1)), np.broadcast_to(np.eye(n), (rows, n, n)),
                               slate_size=size)  # fmt: skip
    uniform = UniformRandom(rng=np.random.default_rng(0))
    decision = SlateDecision(
        slates, uniform.slate_probability(obs, slates), uniform.position_probability(obs, slates)
    )
    return LoggedBandit(obs, decision, SlateFeedback(np.asarray(rewards, float)), "uniform")


SINGLE = _log([[0], [1], [1]], [[1.0], [0.5], [1.0]], 2)
SINGLE_DIST = [[[0.8], [0.2]], [[0.3], [0.7]], [[0.6], [0.4]]]

PAIRS = _log([[0, 2], [1, 0]], [[1.0, 1.0], [0.0, 1.0]], 3)
PAIRS_DIST = np.array([[[0.5, 0.2], [0.3, 0.3], [0.2, 0.5]]] * 2)  # (row, candidate, position)
PAIRS_SLATE = [0.25, 0.09]


def test_single_items_by_hand():
    # weights pi / (1/2): 1.6, 1.4, 0.8; rewards 1, 0.5, 1
    target = probability_target(SINGLE_DIST)
    assert IPS().estimate(SINGLE, target).value == pytest.approx(3.1 / 3, abs=1e-15)
    assert SNIPS().estimate(SINGLE, target).value == pytest.approx(3.1 / 3.8, abs=1e-15)
    assert IIPS().estimate(SINGLE, target).value == pytest.approx(3.1 / 3, abs=1e-15)


def test_slates_by_hand_from_marginals_and_the_slate_column():
    marginals = probability_target(PAIRS_DIST)
    # IIPS: w = 3 pi(s_k at k): row 0 (1.5, 1.5) . (1, 1) = 3; row 1 (0.9, 0.6) . (0, 1) = 0.6
    assert IIPS().estimate(PAIRS, marginals).value == pytest.approx(1.8, abs=1e-15)
    # PI, uniform logger, n = 3, K = 2: 2 A + 2 S + 1 - 4, times the slate reward
    anywhere = PAIRS_DIST.sum(axis=2)
    a = np.array([0.5 + 0.5, 0.3 + 0.2])
    s = np.array([anywhere[0, 0] + anywhere[0, 2], anywhere[1, 1] + anywhere[1, 0]])
    expected = np.mean((2 * a + 2 * s - 3) * np.array([2.0, 1.0]))
    assert PseudoInverse().estimate(PAIRS, marginals).value == pytest.approx(expected, abs=1e-14)
    with pytest.raises(InputValueError, match=r"Estimator 'ips' needs the target's probability "
                       r"of each whole logged slate.*'slate_probability' column"):  # fmt: skip
        IPS().estimate(PAIRS, marginals)
    with pytest.raises(InputValueError, match=r"Estimator 'rips' needs .*top-k prefix"):
        RIPS().estimate(PAIRS, marginals)
    whole = probability_target(PAIRS_DIST, slate_probability=PAIRS_SLATE, label="pairs.npz")
    # slate weights 6 pi(s): 1.5 and 0.54 on slate rewards 2 and 1
    assert IPS().estimate(PAIRS, whole).value == pytest.approx((3 + 0.54) / 2, abs=1e-14)
    # RIPS: (top weight, slate weight) = (1.5, 1.5) and (0.9, 0.54)
    assert RIPS().estimate(PAIRS, whole).value == pytest.approx((3 + 0.54) / 2, abs=1e-14)


def test_longer_slates_refuse_rips_even_with_the_slate_column():
    dist = np.full((1, 3, 3), 1 / 3)
    target = probability_target(dist, slate_probability=[1 / 6], label="three.npz")
    with pytest.raises(InputValueError, match=r"'rips'.*three\.npz cannot give.*slates of 3"):
        make_estimator("rips").check_target(target)
    make_estimator("ips").check_target(target)  # the whole slate's probability is there
    make_estimator("iips").check_target(target)


def _uniform_run_with_target(folder, *, slate_size, max_candidates, requests, seed, more=()):
    """A uniform log simulated into ``folder`` (slates of ``slate_size`` from 4 to
    ``max_candidates`` candidates) and an epsilon-greedy target trained on its first 200
    rows."""
    from typer.testing import CliRunner

    from bandits.cli import app

    result = CliRunner().invoke(app, [
        "simulate", "--env-param", "n_requests=50", "--env-param", f"slate_size={slate_size}",
        "--env-param", "min_candidates=4", "--env-param", f"max_candidates={max_candidates}",
        "--policy", "uniform", "--requests", str(requests), "--seed", str(seed), "--quiet",
        *more, "--out", str(folder), "--overwrite"])  # fmt: skip
    assert result.exit_code == 0, result.output
    path = folder / "logs" / "uniform.parquet"
    target = EpsilonGreedy(epsilon=0.3, base=RidgeGreedy(), rng=np.random.default_rng(seed - 4))
    replay_updates(target, read_log(path).take(np.arange(200)))
    return path, target


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A uniform log of slates of 2 with the logger's marginals, and a trained target."""
    return _uniform_run_with_target(
        tmp_path_factory.mktemp("run"),
        slate_size=2,
        max_candidates=7,
        requests=600,
        seed=5,
        more=["--log-marginals"],
    )


def _compare(frame, names, estimators, *, weights=True):
    columns = ["value", "stderr", "ci_low", "ci_high", "unsupported_mass"]
    if weights:  # DM's diagnostics describe slate weights only where the target gives them
        columns += ["effective_sample_size", "max_weight", "mean_weight"]
    policy = frame[frame["target"] == names[0]].reset_index(drop=True)
    given = frame[frame["target"] == names[1]].reset_index(drop=True)
    assert list(given["estimator"]) == estimators
    for column in columns:
        np.testing.assert_allclose(given[column], policy[column], rtol=1e-12, atol=1e-12,
                                   err_msg=column)  # fmt: skip


FROM_FILES = list(ESTIMATORS)
"""Estimators an exported file (marginals, slate probabilities and, for slates of 2 or more,
the conditionals given the logged items above) serves: all."""


def test_a_policy_exported_to_parquet_estimates_as_the_policy(simulated, tmp_path):
    path, target = simulated
    written = write_probability_target(tmp_path / "p.parquet", iter_log_batches(path), target)
    assert written == 600
    file = read_probability_target(tmp_path / "p.parquet")
    estimators = FROM_FILES
    frame = evaluate_log(path, {"policy": target, "file": file},
                         [make_estimator(name) for name in estimators])  # fmt: skip
    _compare(frame, ["policy", "file"], estimators)
    assert frame["value"].notna().all()
    plain = tmp_path / "plain.parquet"  # the same file without its cascade_dist column
    pq.write_table(pq.read_table(tmp_path / "p.parquet").drop(["cascade_dist"]), plain)
    with pytest.raises(InputValueError, match=r"'cascade-dr' needs .* given the logged items"
                       r".*add a 'cascade_dist' column"):  # fmt: skip
        evaluate_log(path, {"file": read_probability_target(plain)},
                     [make_estimator("cascade-dr")])  # fmt: skip


@pytest.fixture(scope="module")
def simulated3(tmp_path_factory):
    """A uniform log of slates of 3 and a trained epsilon-greedy target."""
    return _uniform_run_with_target(
        tmp_path_factory.mktemp("run3"), slate_size=3, max_candidates=6, requests=500, seed=6
    )


def test_slates_of_three_from_an_exported_file_estimate_rips_as_the_policy(simulated3, tmp_path):
    """The file's cascade_dist gives every prefix probability (the running product of the
    logged items' conditionals), so RIPS, SNRIPS and cascade DR equal the policy's to 1e-12;
    the same file without the column is refused by name."""
    path, target = simulated3
    write_probability_target(tmp_path / "p.parquet", iter_log_batches(path), target)
    file = read_probability_target(tmp_path / "p.parquet")
    estimators = ["rips", "snrips", "cascade-dr", "sncascade-dr", "adaptive-ips"]
    frame = evaluate_log(path, {"policy": target, "file": file},
                         [make_estimator(name) for name in estimators])  # fmt: skip
    _compare(frame, ["policy", "file"], estimators)
    log = read_log(path)
    prefixes = RIPS().estimate(log, file)
    assert prefixes.value == pytest.approx(RIPS().estimate(log, target).value, rel=1e-12)
    plain = probability_target(
        target.candidate_position_probability(log.observation),
        slate_probability=target.slate_probability(log.observation, log.slates),
        label="plain.npz",
    )
    with pytest.raises(InputValueError, match=r"'rips'.*plain\.npz cannot give.*'cascade_dist'"):
        RIPS().estimate(log, plain)


def test_prefixes_from_a_hand_written_cascade_dist():
    """Slates of 3 of 3 items, one row showing (0, 2, 1): conditionals 0.5 at the top, 0.4
    for item 2 below item 0, 1 for the last item: prefixes 0.5, 0.2, 0.2; the uniform logger's
    are 1/3, 1/6, 1/6, so RIPS's weights are 1.5, 1.2, 1.2."""
    log = _log([[0, 2, 1]], [[1.0, 1.0, 0.0]], 3)
    cascade = np.array([[[0.5, 0.0, 0.0], [0.3, 0.6, 1.0], [0.2, 0.4, 0.0]]])
    marginals = np.array([[[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]]])
    target = probability_target(marginals, cascade_dist=cascade, label="hand.npz")
    assert RIPS().estimate(log, target).value == pytest.approx(1.5 + 1.2, abs=1e-14)
    wrong = cascade.copy()
    wrong[0, 0, 1], wrong[0, 1, 1] = 0.1, 0.5  # item 0 is logged above position 1
    with pytest.raises(InputValueError, match=r"hand\.npz: 'cascade_dist' of row 0, position 1 "
                       r"gives candidate 0 probability 0\.1, but it is the logged item at "
                       r"position 0"):  # fmt: skip
        RIPS().estimate(log, probability_target(marginals, cascade_dist=wrong, label="hand.npz"))
    top = cascade.copy()
    top[0, :, 0] = 0.0
    with pytest.raises(InputValueError, match=r"position 0 sums to 0\.0 .* must sum to 1 "):
        RIPS().estimate(log, probability_target(marginals, cascade_dist=top, label="hand.npz"))


def test_npy_and_npz_files_as_obp_writes_them(simulated, tmp_path):
    path, target = simulated
    log = read_log(path)
    dist = target.candidate_position_probability(log.observation)
    np.save(tmp_path / "p.npy", dist)
    np.savez(tmp_path / "p.npz", action_dist=dist,
             slate_probability=target.slate_probability(log.observation, log.slates),
             cascade_dist=conditional_probabilities(target, log))  # fmt: skip
    marginal_only = ["iips", "sniips", "pi", "snpi", "dm"]
    npy, npz = (read_probability_target(tmp_path / name) for name in ("p.npy", "p.npz"))
    frame = evaluate_log(path, {"policy": target, "npy": npy},
                         [make_estimator(name) for name in marginal_only])  # fmt: skip
    _compare(frame[frame["estimator"] != "dm"], ["policy", "npy"], marginal_only[:4])
    _compare(frame[frame["estimator"] == "dm"], ["policy", "npy"], ["dm"], weights=False)
    assert frame["effective_sample_size"].iloc[-1] == 600  # DM weighs no row
    everything = FROM_FILES
    frame = evaluate_log(path, {"policy": target, "npz": npz},
                         [make_estimator(name) for name in everything])  # fmt: skip
    _compare(frame, ["policy", "npz"], everything)
    with pytest.raises(InputValueError, match=r"'ips' needs .*p\.npy cannot give"):
        evaluate_log(path, {"npy": read_probability_target(tmp_path / "p.npy")}, [IPS()])


def test_rows_and_batches_keep_the_file_aligned(simulated, tmp_path):
    path, target = simulated
    write_probability_target(tmp_path / "p.parquet", iter_log_batches(path, batch_bytes=20_000),
                             target)  # fmt: skip
    file = read_probability_target(tmp_path / "p.parquet")
    assert file.has_slate_probability and file.n_rows == 600 and file.slate_size == 2
    for rows in ((100, 500), (-250, None)):
        frame = evaluate_log(path, {"policy": target, "file": file}, [IPS(), IIPS()],
                             rows=rows, batch_bytes=30_000)  # fmt: skip
        _compare(frame, ["policy", "file"], ["ips", "iips"])
    # a file does not train: a training split only skips its rows (the log is in time order)
    split = evaluate_log(path, {"file": file}, [IPS()], train_fraction=0.5)
    later = evaluate_log(path, {"policy": copy.deepcopy(target)}, [IPS()], rows=(300, None))
    assert split["value"].iloc[0] == pytest.approx(later["value"].iloc[0], abs=1e-12)
    assert split["n"].iloc[0] == 300 and split["n_train"].iloc[0] == 300
    batches = list(iter_log_batches(path, batch_bytes=20_000))
    assert len(batches) > 2
    log = read_log(path)
    assert IPS().estimate_batches(batches, file).value == pytest.approx(
        IPS().estimate(log, target).value, abs=1e-12
    )


# --- the checks of a file's rows ---------------------------------------------------------


def _parquet(path, rows, slate=None):
    columns = {"action_dist": pa.array(rows, pa.list_(pa.list_(pa.float64())))}
    if slate is not None:
        columns["slate_probability"] = pa.array(slate, pa.float64())
    pq.write_table(pa.table(columns), path)
    return path


GOOD = [[[0.5, 0.2], [0.3, 0.3], [0.2, 0.5]]] * 2


@pytest.mark.parametrize(
    ("rows", "slate", "words"),
    [
        (GOOD[:1], None, ["holds target probabilities for 1 rows", "the log has 2"]),
        ([GOOD[0], GOOD[0][:2]], None, ["row 1 lists 2 candidates; the log's row has 3"]),
        (
            [GOOD[0], [[0.5, 0.2], [0.3, 0.3], [0.1, 0.5]]],
            None,
            ["'action_dist' of row 1, position 0 sums to 0.9"],
        ),
        (
            [GOOD[0], [[0.6, 0.2], [-0.1, 0.3], [0.5, 0.5]]],
            None,
            ["'action_dist' of row 1, candidate 1, position 0 is -0.1"],
        ),
        (
            [[[0.5, 0.2], [float("nan"), 0.3], [0.2, 0.5]], GOOD[0]],
            None,
            ["row 0, candidate 1, position 0 is nan"],
        ),
        (
            [GOOD[0], [[0.5, 0.2], [0.3], [0.2, 0.5]]],
            None,
            ["row 1, candidate 1 has [0.3]", "a list of 2 probabilities"],
        ),
        (GOOD, [0.25, 1.5], ["'slate_probability' of row 1 is 1.5"]),
        (GOOD, [0.25, 0.4], ["'slate_probability' of row 1 is 0.4", "more than"]),
    ],
)
def test_bad_rows_name_the_file_row_field_and_value(tmp_path, rows, slate, words):
    file = _parquet(tmp_path / "bad.parquet", rows, slate)
    with pytest.raises(InputError) as caught:
        evaluate_log(PAIRS, {"bad": read_probability_target(file)}, [IIPS()])
    message = str(caught.value)
    assert str(file) in message
    for word in words:
        assert word in message, (word, message)


def test_bad_files(tmp_path, monkeypatch):
    padded = np.zeros((2, 4, 2))
    padded[:, :3] = PAIRS_DIST
    padded[1, 3, 0] = 0.5
    np.save(tmp_path / "pad.npy", padded)
    with pytest.raises(InputValueError, match=r"row 1, candidate 3, position 0 is 0\.5.*padding"):
        evaluate_log(PAIRS, {"p": read_probability_target(tmp_path / "pad.npy")}, [IIPS()])
    np.save(tmp_path / "narrow.npy", PAIRS_DIST[:, :2])
    with pytest.raises(InputValueError, match=r"2 candidates per row, but the log's row 0 has 3"):
        evaluate_log(PAIRS, {"p": read_probability_target(tmp_path / "narrow.npy")}, [IIPS()])
    pq.write_table(pa.table({"probs": [1.0, 2.0]}), tmp_path / "other.parquet")
    with pytest.raises(InputValueError, match=r"has no 'action_dist' column"):
        read_probability_target(tmp_path / "other.parquet")
    (tmp_path / "p.csv").write_text("0.5\n")
    with pytest.raises(InputValueError, match=r"must end in \.parquet, \.npy, \.npz"):
        read_probability_target(tmp_path / "p.csv")
    np.savez(tmp_path / "x.npz", other=PAIRS_DIST)
    with pytest.raises(InputValueError, match=r"has no 'action_dist' array"):
        read_probability_target(tmp_path / "x.npz")
    (tmp_path / "not_zip.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    with pytest.raises(InputValueError, match=r"not_zip.npz cannot be read as a NumPy array"):
        read_probability_target(tmp_path / "not_zip.npz")
    np.savez_compressed(tmp_path / "bad_deflate.npz", action_dist=np.zeros((50, 20, 3)))
    damaged = bytearray((tmp_path / "bad_deflate.npz").read_bytes())
    damaged[100] ^= 0xFF  # inside the compressed member: a zlib or CRC error on reading
    (tmp_path / "bad_deflate.npz").write_bytes(bytes(damaged))
    with pytest.raises(InputValueError, match=r"bad_deflate.npz cannot be read as a NumPy array"):
        read_probability_target(tmp_path / "bad_deflate.npz")
    # a small archive can declare arrays far larger than memory: refused from the headers
    np.savez_compressed(tmp_path / "big.npz", action_dist=np.zeros((1000, 50, 3)),
                        slate_probability=np.zeros(1000))  # fmt: skip
    monkeypatch.setattr("bandits.ope.targets.available_memory", lambda: 1_207_999)
    with pytest.raises(InputValueError, match=r"big.npz declares 0.00113 GiB of arrays, more"):
        read_probability_target(tmp_path / "big.npz")
    monkeypatch.setattr("bandits.ope.targets.available_memory", lambda: 1_208_000)
    assert read_probability_target(tmp_path / "big.npz") is not None
    # a header declaring more elements than any memory holds; a member without ".npy"
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        with archive.open("action_dist.npy", "w") as member:
            header = {"descr": "<f8", "fortran_order": False, "shape": (2**40,) * 30}
            np.lib.format.write_array_header_2_0(member, header)
    with pytest.raises(InputValueError, match=r"huge.npz declares .* GiB of arrays, more"):
        read_probability_target(tmp_path / "huge.npz")
    with zipfile.ZipFile(tmp_path / "bare.npz", "w") as archive:
        with archive.open("action_dist", "w") as member:
            np.lib.format.write_array(member, PAIRS_DIST)
    bare = read_probability_target(tmp_path / "bare.npz")
    assert evaluate_log(PAIRS, {"p": bare}, [IIPS()])["value"].iloc[0] == pytest.approx(1.8)
    three = probability_target(np.full((2, 3, 3), 1 / 3), label="three")
    with pytest.raises(InputValueError, match=r"three gives probabilities at 3 positions"):
        evaluate_log(PAIRS, {"t": three}, [IIPS()])
    write_log(PAIRS, tmp_path / "pairs.parquet")  # a file log takes files the same way
    frame = evaluate_log(tmp_path / "pairs.parquet",
                         {"t": probability_target(PAIRS_DIST)}, [IIPS()])  # fmt: skip
    assert frame["value"].iloc[0] == pytest.approx(1.8, abs=1e-15)


def test_a_memory_mapped_npy_target_pickles_by_its_path(tmp_path):
    """Tasks of a partitioned evaluation get the file's path, not the whole array."""
    dist = np.full((50, 4, 1), 0.25)
    np.save(tmp_path / "p.npy", dist)
    target = read_probability_target(tmp_path / "p.npy")
    sent = pickle.dumps(target)
    assert len(sent) < dist.nbytes  # the 1,600 bytes of probabilities are not in it
    again = pickle.loads(sent)
    assert isinstance(again.action_dist, np.memmap)
    np.testing.assert_array_equal(again.action_dist, dist)
