"""Exports to DSJson and obp's bandit_feedback, and round trips through the importers."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_log

from bandits.logs import read_log, write_log
from bandits.logs.importers import export_dsjson, from_obp, import_dsjson, to_obp


def shown_ids(log):
    return np.take_along_axis(log.observation.candidate_ids, log.slates, axis=1)


def shown_features(log):
    rows = np.take_along_axis(log.observation.candidate_rows, log.slates, axis=1)
    return log.items.features[rows]


@pytest.mark.parametrize("slate_size", [1, 2])
def test_dsjson_round_trip_keeps_what_dsjson_carries(tmp_path, slate_size):
    log = random_log(np.random.default_rng(slate_size), n_requests=30, slate_size=slate_size,
                     max_candidates=5, n_context=3, n_item=2, signals=False)  # fmt: skip
    write_log(log, tmp_path / "log.parquet")
    assert export_dsjson(tmp_path / "log.parquet", tmp_path / "log.json") == 30
    summary = import_dsjson(tmp_path / "log.json", tmp_path / "back.parquet")
    assert (summary.rows, summary.skipped) == (30, {})
    back = read_log(tmp_path / "back.parquet")
    for name in ("context", "candidate_ids", "n_candidates", "request_ids", "times"):
        np.testing.assert_array_equal(
            getattr(back.observation, name), getattr(log.observation, name)
        )
    np.testing.assert_array_equal(
        back.observation.candidate_features, log.observation.candidate_features
    )
    np.testing.assert_array_equal(back.slates, log.slates)
    np.testing.assert_array_equal(back.rewards, log.rewards)
    np.testing.assert_array_equal(
        back.decision.position_probability, log.decision.position_probability
    )
    # DSJson carries one probability per slot; the slate's is their product on import


def test_dsjson_round_trip_restores_pdrop(tmp_path):
    lines = [
        '{"_label_cost":-1,"_label_probability":0.5,"_labelIndex":0,"a":[1],"pdrop":0.5,'
        '"c":{"u":{"x":1},"_multi":[{"_id":3,"i":{"f":1}},{"_id":4,"i":{"f":2}}]}}'
    ]
    (tmp_path / "a.json").write_text("\n".join(lines) + "\n")
    import_dsjson(tmp_path / "a.json", tmp_path / "a.parquet")
    export_dsjson(tmp_path / "a.parquet", tmp_path / "b.json")
    import_dsjson(tmp_path / "b.json", tmp_path / "b.parquet")
    first, second = read_log(tmp_path / "a.parquet"), read_log(tmp_path / "b.parquet")
    assert '"pdrop":0.5' in (tmp_path / "b.json").read_text()
    assert '"_label_probability":0.5' in (tmp_path / "b.json").read_text()
    np.testing.assert_array_equal(
        second.decision.slate_probability, first.decision.slate_probability
    )
    np.testing.assert_array_equal(second.feedback.signals["pdrop"], first.feedback.signals["pdrop"])


@pytest.mark.parametrize("slate_size", [1, 3])
def test_obp_round_trip_keeps_what_obp_carries(slate_size):
    log = random_log(np.random.default_rng(7), n_requests=20, slate_size=slate_size,
                     max_candidates=6, n_context=2, n_item=3, signals=False)  # fmt: skip
    feedback = to_obp(log)
    assert feedback["n_rounds"] == 20 * slate_size
    assert feedback["action_context"].shape == (log.items.n_items, 3)
    np.testing.assert_array_equal(feedback["item_ids"][feedback["action"]], shown_ids(log).ravel())
    np.testing.assert_array_equal(feedback["position"], np.tile(np.arange(slate_size), 20))
    back = from_obp(feedback, slate_size=slate_size)
    np.testing.assert_array_equal(shown_ids(back), shown_ids(log))
    np.testing.assert_array_equal(shown_features(back), shown_features(log))
    np.testing.assert_array_equal(back.observation.context, log.observation.context)
    np.testing.assert_array_equal(back.rewards, log.rewards)
    np.testing.assert_array_equal(
        back.decision.position_probability, log.decision.position_probability
    )
