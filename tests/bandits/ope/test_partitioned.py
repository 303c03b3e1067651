"""The partitioned statistics pass (one Parquet row group per task, on local processes or a Dask
cluster) gives the in-memory estimates, bootstrap intervals included; its errors name the file,
the row and the field as the in-process pass's do."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from factories import uniform_log

from bandits.decision import SlateDecision
from bandits.logged import LoggedBandit
from bandits.logs import LogWriter, iter_log_batches, open_log
from bandits.ope import (
    DM,
    DR,
    IPS,
    SNDR,
    SNIPS,
    AdaptiveIPS,
    CascadeDR,
    DRos,
    PseudoInverse,
    SNCascadeDR,
    SwitchDR,
    evaluate_log,
    make_estimator,
)
from bandits.ope.partitioned import Partitions, task_row_groups
from bandits.ope.targets import read_probability_target, write_probability_target
from bandits.validation import InputValueError
from policies import EpsilonGreedy, LinUCB

distributed = pytest.importorskip("distributed")

NUMERIC = ["value", "stderr", "ci_low", "ci_high", "effective_sample_size", "max_weight",
           "mean_weight"]  # fmt: skip


def _write_in_groups(log: LoggedBandit, path, groups: int):
    """``log`` written as ``groups`` row groups (one per batch, each flushed)."""
    cuts = np.array_split(np.arange(len(log)), groups)
    with LogWriter(path, batch_bytes=2**30) as writer:
        for rows in cuts:
            writer.write(log.take(rows))
            writer.flush()
    assert open_log(path).n_row_groups == groups
    return path


def _targets():
    return {
        "eps": EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(3)),
        "linucb": LinUCB(alpha=0.5),
    }


def _estimators():
    return [IPS(), SNIPS(), DM(), DR(interval="bootstrap", bootstrap_samples=200),
            SNDR(), SwitchDR(), DRos(), PseudoInverse(interval="bootstrap-percentile",
                                                      bootstrap_samples=200)]  # fmt: skip


def _assert_same(partitioned: pd.DataFrame, memory: pd.DataFrame) -> None:
    np.testing.assert_allclose(partitioned[NUMERIC], memory[NUMERIC], rtol=1e-12, atol=0)
    for column in ("target", "estimator", "n", "n_train", "warnings", "tuning"):
        left, right = (["" if pd.isna(v) else v for v in t[column]] for t in (partitioned, memory))
        assert left == right, column  # (empty text reads back from CSV as NaN)


@pytest.fixture(autouse=True)
def one_row_group_per_task(monkeypatch):
    """These logs are small: without this, their row groups would be joined into one task and
    nothing would be merged across tasks."""
    monkeypatch.setattr("bandits.ope.partitioned.MIN_TASK_ROWS", 1)


def test_small_row_groups_are_joined_into_tasks_of_at_least_min_rows():
    starts = np.array([0, 30, 60, 200, 210, 220, 235])  # groups of 30, 30, 140, 10, 10, 15
    assert task_row_groups(starts, 50) == [range(0, 2), range(2, 3), range(3, 6)]
    assert task_row_groups(starts, 1) == [range(group, group + 1) for group in range(6)]
    assert task_row_groups(starts, 10**6) == [range(0, 6)]
    assert task_row_groups(np.array([0]), 5) == []


def test_by_default_a_small_log_is_one_task_with_the_same_estimates(tmp_path, monkeypatch):
    monkeypatch.undo()  # the default MIN_TASK_ROWS
    log = uniform_log(3, 300)
    path = _write_in_groups(log, tmp_path / "log.parquet", 6)
    starts = open_log(path).row_group_starts()
    partitions = Partitions(path, None, starts, executor="local", workers=2, batch_bytes=2**20)
    assert [groups for groups, _ in partitions.parts] == [range(0, 6)]
    target = EpsilonGreedy(epsilon=0.3, base=LinUCB(), rng=np.random.default_rng(0))
    estimators = [make_estimator("ips"), make_estimator("dr")]
    joined = evaluate_log(path, {"t": target}, estimators, executor="local", workers=2)
    here = evaluate_log(path, {"t": target}, estimators)
    pd.testing.assert_frame_equal(joined[NUMERIC], here[NUMERIC], rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local:  # fmt: skip
        yield local


@pytest.mark.parametrize("fraction", [0.0, 0.25])
def test_a_dask_cluster_gives_the_in_memory_estimates(tmp_path, cluster, fraction):
    log = uniform_log(2, 400)
    path = _write_in_groups(log, tmp_path / "log.parquet", 7)
    memory = evaluate_log(log, _targets(), _estimators(), train_fraction=fraction)
    on_dask = evaluate_log(path, _targets(), _estimators(), train_fraction=fraction,
                           executor="dask", scheduler=cluster.scheduler_address)  # fmt: skip
    _assert_same(on_dask, memory)
    assert list(on_dask["n"]) == [400 - round(fraction * 400)] * len(on_dask)


def test_local_processes_and_a_dask_cluster_of_processes_give_the_in_memory_estimates(tmp_path):
    """Also cascade DR with a scikit-learn tree as its backward Q: its rows, kept by each
    task, are merged in row order and fitted as the in-memory pass fits them."""
    tree = pytest.importorskip("sklearn.tree")
    log = uniform_log(5, 300)
    path = _write_in_groups(log, tmp_path / "log.parquet", 3)
    model = tree.DecisionTreeRegressor(max_depth=3, min_samples_leaf=10, random_state=0)
    estimators = [IPS(), DR(interval="bootstrap", bootstrap_samples=100),
                  CascadeDR(model=model, folds=2)]  # fmt: skip
    memory = evaluate_log(log, _targets(), estimators, train_fraction=0.2)
    seen: list[int] = []
    on_dask = evaluate_log(path, _targets(), estimators, train_fraction=0.2, executor="dask",
                           workers=2, on_rows=seen.append)  # fmt: skip
    _assert_same(on_dask, memory)
    on_pool = evaluate_log(path, _targets(), estimators, train_fraction=0.2, executor="local",
                           workers=2)  # fmt: skip
    _assert_same(on_pool, memory)
    # training here (60 rows), then tasks fitting DR's model (240) and estimating (240)
    assert sum(seen) == 60 + 240 + 240


def test_a_scikit_learn_reward_model_is_fitted_on_the_partitions_rows_in_order(tmp_path, cluster):
    pytest.importorskip("sklearn")
    log = uniform_log(11, 300)
    path = _write_in_groups(log, tmp_path / "log.parquet", 3)

    def estimators():
        return [DR(model="logistic", folds=2), SNDR(model="ridge-pooled")]

    memory = evaluate_log(log, _targets(), estimators())
    on_dask = evaluate_log(path, _targets(), estimators(), executor="dask",
                           scheduler=cluster.scheduler_address)  # fmt: skip
    _assert_same(on_dask, memory)


def test_an_error_in_a_task_names_the_file_the_row_and_the_field(tmp_path, cluster):
    log = uniform_log(6, 120)
    probability = log.decision.slate_probability.copy()
    probability[97] = 1e-320  # in the fourth of four row groups
    decision = SlateDecision(log.slates, probability, log.decision.position_probability)
    broken = LoggedBandit(log.observation, decision, log.feedback, log.policy_names)
    path = _write_in_groups(broken, tmp_path / "broken.parquet", 4)
    targets = {"eps": EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(3))}
    with pytest.raises(InputValueError) as here:
        evaluate_log(path, targets, [IPS()])
    with pytest.raises(InputValueError) as there:
        evaluate_log(path, targets, [IPS()], executor="dask", scheduler=cluster.scheduler_address)
    message = str(there.value)
    assert message == str(here.value)
    assert message.startswith(f"{path}: ") and "row 97" in message
    assert "logged slate probability" in message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"executor": "spark"}, "executor"),
        ({"executor": "local", "scheduler": "tcp://x:1"}, "needs the dask executor"),
        ({"workers": 2}, "only with an executor"),
    ],
)
def test_executor_settings_are_refused_before_any_work(tmp_path, options, message):
    path = _write_in_groups(uniform_log(7, 20), tmp_path / "log.parquet", 2)
    with pytest.raises(InputValueError, match=message):
        evaluate_log(path, _targets(), [IPS()], **options)


def test_a_log_in_memory_cannot_be_partitioned():
    with pytest.raises(InputValueError, match="log file partition by partition"):
        evaluate_log(uniform_log(8, 20), _targets(), [IPS()], executor="dask")


def test_reading_a_range_of_row_groups_numbers_rows_as_the_file_does(tmp_path):
    log = uniform_log(9, 90)
    path = _write_in_groups(log, tmp_path / "log.parquet", 3)
    opened = open_log(path)
    assert list(opened.row_group_starts()) == [0, 30, 60, 90]
    middle = list(opened.iter_batches(row_groups=range(1, 2)))
    ids = np.concatenate([b.observation.request_ids for b in middle])
    np.testing.assert_array_equal(ids, log.observation.request_ids[30:60])
    with pytest.raises(InputValueError, match="row groups 0 to 2"):
        list(opened.iter_batches(row_groups=range(2, 4)))


def test_the_command_line_evaluates_on_a_dask_cluster(tmp_path, cluster):
    from typer.testing import CliRunner

    from bandits.cli.commands import app

    path = _write_in_groups(uniform_log(10, 200), tmp_path / "log.parquet", 4)
    tables = {}
    for name, options in (("here", []), ("dask", ["--scheduler", cluster.scheduler_address])):
        out = tmp_path / f"{name}.csv"
        result = CliRunner().invoke(app, ["evaluate", str(path), "-t", "epsilon-greedy:epsilon=0.3",
                                          "-e", "ips", "-e", "dr", "--quiet", "--out", str(out),
                                          *options])  # fmt: skip
        assert result.exit_code == 0, result.output
        tables[name] = pd.read_csv(out)
    _assert_same(tables["dask"], tables["here"])
    refused = CliRunner().invoke(app, ["evaluate", str(path), "-t", "uniform", "--executor",
                                       "local", "--scheduler", "tcp://x:1", "--quiet"])  # fmt: skip
    assert refused.exit_code == 2 and "needs the dask executor" in refused.output


def test_probability_files_and_row_ranges_partition_as_they_run_here(tmp_path, cluster):
    """A target given as a file of probabilities is read by each task for its own rows, and
    ``rows`` keeps the same rows: the estimates equal the in-process pass's."""
    log = uniform_log(8, 360)
    path = _write_in_groups(log, tmp_path / "log.parquet", 4)
    policy = EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(3))
    write_probability_target(tmp_path / "p.parquet", iter_log_batches(path), policy)
    targets = {"file": read_probability_target(tmp_path / "p.parquet"), "eps": policy}
    estimators = [IPS(), SNIPS(), PseudoInverse(), DR()]
    here = evaluate_log(path, targets, estimators, rows=(50, 320))
    on_dask = evaluate_log(path, targets, estimators, rows=(50, 320), executor="dask",
                           scheduler=cluster.scheduler_address)  # fmt: skip
    _assert_same(on_dask, here)
    assert set(on_dask["n"]) == {270}


def test_cascade_dr_fits_each_targets_backward_q_on_the_partitions(tmp_path, cluster):
    """Cascade DR's Q depends on the target: the fitting tasks get the targets and return
    each one's sums, merged in row order; the estimates equal the in-memory ones."""
    log = uniform_log(8, 300)
    path = _write_in_groups(log, tmp_path / "log.parquet", 5)

    def estimators():
        return [CascadeDR(), SNCascadeDR(folds=3), CascadeDR(q="reward")]

    memory = evaluate_log(log, _targets(), estimators(), train_fraction=0.2)
    on_dask = evaluate_log(path, _targets(), estimators(), train_fraction=0.2, executor="dask",
                           scheduler=cluster.scheduler_address)  # fmt: skip
    _assert_same(on_dask, memory)
    assert memory["value"].nunique() == len(memory)  # each target and Q its own numbers


def test_adaptive_ips_grows_each_targets_tree_from_the_partitions_rows(tmp_path, cluster):
    """The tree's rows come back from the fitting tasks in row order, so the tree, the
    choice and the estimates equal the in-memory ones; cross-fitted too."""
    log = uniform_log(9, 400)
    path = _write_in_groups(log, tmp_path / "log.parquet", 4)

    def estimators():
        return [
            AdaptiveIPS(max_depth=2, min_leaf=40),
            AdaptiveIPS(max_depth=1, min_leaf=40, folds=3),
        ]

    memory = evaluate_log(log, _targets(), estimators())
    on_dask = evaluate_log(path, _targets(), estimators(), executor="dask",
                           scheduler=cluster.scheduler_address)  # fmt: skip
    _assert_same(on_dask, memory)


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_training_split_trains_in_a_task_and_the_caller_never_reads_the_log(
    tmp_path, monkeypatch, executor
):
    """With an executor the caller reads only the file's metadata: reading rows or times
    here fails the test (the workers are other processes, which read them). The trained
    targets' estimates equal the in-memory path's, training included (untrained targets
    give other numbers), also within a row range."""
    from bandits.logs.parquet import LogFile

    log = uniform_log(6, 300)
    path = _write_in_groups(log, tmp_path / "log.parquet", 4)
    estimators = [IPS(), DR(), CascadeDR()]
    memory = evaluate_log(log, _targets(), estimators, train_fraction=0.3, rows=(20, 280))
    untrained = evaluate_log(log, _targets(), estimators, rows=(110, 280))

    def refuse(*args, **kwargs):
        raise AssertionError("the caller read the log")

    monkeypatch.setattr(LogFile, "iter_batches", refuse)
    monkeypatch.setattr(LogFile, "read_times", refuse)
    seen: list[int] = []
    given = _targets()
    before = pickle.dumps(given)
    partitioned = evaluate_log(path, given, estimators, train_fraction=0.3, rows=(20, 280),
                               executor=executor, workers=2, on_rows=seen.append)  # fmt: skip
    _assert_same(partitioned, memory)
    assert not np.allclose(memory["value"], untrained["value"])
    assert list(partitioned["n_train"]) == [78] * len(partitioned)
    assert seen[0] == 78 and sum(seen) == 78 + 2 * 182  # training, fitting, estimating
    assert pickle.dumps(given) == before  # the caller's targets were not trained here


@pytest.mark.parametrize("executor", [None, "local"])
def test_rows_past_the_end_are_refused_naming_the_rows_and_the_logs_size(tmp_path, executor):
    path = _write_in_groups(uniform_log(7, 40), tmp_path / "log.parquet", 2)
    with pytest.raises(InputValueError, match=r"rows 50: of its 40 rows leave 0 row\(s\)"):
        evaluate_log(path, _targets(), [IPS()], rows=(50, None), executor=executor)


def test_a_split_leaving_too_few_rows_is_refused_from_the_training_task(tmp_path, cluster):
    path = _write_in_groups(uniform_log(7, 40), tmp_path / "log.parquet", 2)
    message = (
        r"log\.parquet: rows 0:3 of its 40 rows after training on the oldest 0\.5 of them "
        r"leave 1 row\(s\) to evaluate on"
    )
    with pytest.raises(InputValueError, match=message):
        evaluate_log(path, _targets(), [IPS()], train_fraction=0.5, rows=(0, 3),
                     executor="dask", scheduler=cluster.scheduler_address)  # fmt: skip
