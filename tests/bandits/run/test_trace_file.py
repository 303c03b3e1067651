"""The trace streamed to Parquet: bounded buffer, row groups, the same rows as in memory, and a
file that exists only when it is whole."""

from __future__ import annotations

import gymnasium as gym
import pandas as pd
import pyarrow.parquet as pq
import pytest

import simulator  # noqa: F401  (registers bandits/LatentFactor-v0)
from bandits.logs.atomic import is_temporary
from bandits.reports import read_trace
from bandits.run import TraceWriter, run_simulation
from bandits.run.rollout import TRACE_COLUMNS
from bandits.run.seeding import spawn_generators
from bandits.validation import InputValueError
from policies import LinUCB, UniformRandom

SMALL_ENV = dict(n_requests=20, slate_size=2, min_candidates=4, max_candidates=8, n_items=50)


def make_env():
    return gym.make("bandits/LatentFactor-v0", **SMALL_ENV)


def policies():
    rngs = spawn_generators(0, 2)
    return {"uniform": UniformRandom(rng=rngs[0]), "linucb": LinUCB(rng=rngs[1])}


def old_trace(result_trace: pd.DataFrame) -> pd.DataFrame:
    """The trace as it was made in memory before streaming: running sums by cumsum per policy."""
    parts = []
    for _, rows in result_trace.groupby("policy", sort=False):
        parts.append(rows.assign(cumulative_reward=rows["reward"].cumsum(),
                                 cumulative_regret=rows["regret"].cumsum()))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_streamed_trace_equals_the_in_memory_trace_and_the_buffer_stays_bounded(tmp_path):
    kept = run_simulation(make_env, policies(), total_requests=130, env_seed=4)
    path = tmp_path / "trace.parquet"
    writer = TraceWriter(path, run=7, buffer_rows=3)
    most = []

    def sink(row):
        writer.write(row)
        most.append(writer.buffered)

    with writer:
        streamed = run_simulation(make_env, policies(), total_requests=130, env_seed=4,
                                  trace_sink=sink)  # fmt: skip
        assert not path.exists()  # not before it is whole
    assert streamed.trace.empty  # nothing kept in memory
    assert max(most) < 3  # a full buffer is written out at once
    assert len(most) == 14  # 7 steps x 2 policies
    assert pq.ParquetFile(path).metadata.num_row_groups == 5  # 14 rows in groups of 3
    back = read_trace(path)
    assert list(back.columns) == [*TRACE_COLUMNS, "run"]
    assert (back["run"] == 7).all()
    back = back.drop(columns="run").astype({"policy": str})
    pd.testing.assert_frame_equal(back, kept.trace.astype({"policy": str}))
    pd.testing.assert_frame_equal(back, old_trace(kept.trace).astype({"policy": str}))


def test_a_failed_run_leaves_no_trace_and_no_temporary(tmp_path):
    path = tmp_path / "trace.parquet"
    rows = run_simulation(make_env, policies(), total_requests=60, env_seed=1).trace
    with pytest.raises(RuntimeError, match="crash"), TraceWriter(path, buffer_rows=2) as writer:
        for row in rows.to_dict("records"):
            writer.write(row)
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_run_leaves_only_a_temporary(tmp_path):
    """Row groups already flushed sit in a hidden temporary: no file named trace.parquet
    appears until close (a killed process never gets there)."""
    path = tmp_path / "trace.parquet"
    writer = TraceWriter(path, buffer_rows=1)
    for row in run_simulation(make_env, policies(), total_requests=40, env_seed=1).trace.to_dict(
        "records"
    ):
        writer.write(row)
    (left,) = tmp_path.iterdir()
    assert is_temporary(left) and not path.exists()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_trace_whose_row_count_disagrees_with_its_metadata_is_refused(tmp_path):
    path = tmp_path / "trace.parquet"
    with TraceWriter(path) as writer:
        for row in run_simulation(make_env, policies(), total_requests=40,
                                  env_seed=1).trace.to_dict("records"):  # fmt: skip
            writer.write(row)
    metadata = pq.ParquetFile(path).metadata.metadata
    assert metadata[b"bandits.n_rows"] == b"4"
    cut = pq.read_table(path).slice(0, 2).replace_schema_metadata(metadata)  # rows lost
    pq.write_table(cut, path, write_page_checksum=True)
    with pytest.raises(InputValueError, match="not a whole trace"):
        read_trace(path)


def test_the_writer_refuses_an_existing_file_and_rows_without_columns(tmp_path):
    path = tmp_path / "trace.parquet"
    path.write_bytes(b"")
    with pytest.raises(FileExistsError, match="already exists"):
        TraceWriter(path)
    writer = TraceWriter(tmp_path / "other.parquet")
    with pytest.raises(InputValueError, match="lacks the column"):
        writer.write({"policy": "a"})
    writer.abort()
