"""DSJson import: each of VW's rules on hand-written lines with the expected table, errors naming
the line, the cross-check with VW's own reader, and flat memory on a long file."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from bandits.logs import read_log
from bandits.logs.importers import import_dsjson
from bandits.validation import InputValueError


def multi(*values):
    """``c._multi`` of actions with ids and one feature ``i.f``."""
    return [{"_id": 10 + j, "i": {"f": v}} for j, v in enumerate(values)]


def cb(index, cost, probability, n=3, **extra):
    event = {
        "_label_cost": cost,
        "_label_probability": probability,
        "_label_Action": index + 1,
        "_labelIndex": index,
        "a": [index + 1] + [j + 1 for j in range(n) if j != index],
        "p": [probability] + [(1 - probability) / (n - 1)] * (n - 1),
        "c": {"u": {"age": 30, "city": "paris"}, "_multi": multi(*range(1, n + 1))},
    }
    event.update(extra)
    return json.dumps(event)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_single_action_events_give_the_expected_table(tmp_path):
    source = write(
        tmp_path / "cb.json",
        [
            cb(1, -1.0, 0.8, EventId="17", Timestamp="2019-03-05T21:22:30.25Z"),
            cb(0, 0.0, 0.5, c={"u": {"age": 41}, "_multi": multi(1, 2, 3)}),
        ],
    )
    summary = import_dsjson(source, tmp_path / "log.parquet")
    assert (summary.rows, summary.skipped) == (2, {})
    log = read_log(tmp_path / "log.parquet")
    # columns u.age, u.city=paris (natural order); the second event has no city: 0
    np.testing.assert_array_equal(log.observation.context, [[30, 1], [41, 0]])
    np.testing.assert_array_equal(log.observation.candidate_ids, [[10, 11, 12]] * 2)
    np.testing.assert_array_equal(log.items.features, [[1], [2], [3]])
    np.testing.assert_array_equal(log.slates, [[1], [0]])
    np.testing.assert_array_equal(log.decision.slate_probability, [0.8, 0.5])
    np.testing.assert_array_equal(log.decision.position_probability, [[0.8], [0.5]])
    np.testing.assert_array_equal(log.rewards, [[1.0], [0.0]])
    assert log.observation.request_ids.tolist() == [17, 2]  # EventId, else the line
    assert log.observation.times.tolist() == [1551820950250000, 2]
    assert log.feedback.signals == {} and set(log.policy_names) == {"dsjson"}


def test_lines_vw_skips_are_counted_not_imported(tmp_path):
    source = write(
        tmp_path / "skips.json",
        [
            "",
            "[not an event]",
            cb(2, -1.0, 0.5, _skipLearn=True),
            '{"RewardValue": 1.0, "EventId": "x"}',
            json.dumps({"a": [], "c": {"_multi": multi(1)}}),
            json.dumps({"a": [1], "c": {"_multi": multi(1, 2)}}),  # no label
            cb(2, -2.0, 0.25),
        ],
    )
    summary = import_dsjson(source, tmp_path / "log.parquet")
    assert summary.rows == 1
    assert summary.skipped == {"not_event": 2, "skip_learn": 1, "no_actions": 2, "unlabelled": 1}
    assert (
        summary.line() == "1 rows; skipped: 2 no_actions, 2 not_event, 1 skip_learn, 1 unlabelled"
    )
    log = read_log(tmp_path / "log.parquet")
    assert log.slates.tolist() == [[2]] and log.rewards.tolist() == [[2.0]]
    assert log.observation.request_ids.tolist() == [7]


def test_pdrop_is_folded_into_the_probabilities(tmp_path):
    source = write(tmp_path / "pdrop.json", [cb(0, -1.0, 0.5, pdrop=0.75), cb(1, 0.0, 0.4)])
    import_dsjson(source, tmp_path / "log.parquet")
    log = read_log(tmp_path / "log.parquet")
    np.testing.assert_allclose(log.decision.slate_probability, [0.125, 0.4], rtol=1e-15)
    np.testing.assert_allclose(log.decision.position_probability, [[0.125], [0.4]], rtol=1e-15)
    np.testing.assert_array_equal(log.feedback.signals["pdrop"], [[0.75], [0.0]])


def ccb(slots, n=4, **extra):
    """A slate event: ``slots`` is [(chosen, probability, cost), ...]."""
    event = {
        "c": {"u": {"x": 1.5}, "_multi": multi(*range(1, n + 1)), "_slots": [{} for _ in slots]},
        "_outcomes": [
            {
                "_label_cost": cost,
                "_a": [chosen] + [j for j in range(n) if j != chosen],
                "_p": [p] + [(1 - p) / (n - 1)] * (n - 1),
            }
            for chosen, p, cost in slots
        ],
    }
    event.update(extra)
    return json.dumps(event)


def test_ccb_slots_become_slates(tmp_path):
    source = write(
        tmp_path / "ccb.json",
        [ccb([(2, 0.5, -1.0), (0, 0.4, 0.0)]), ccb([(1, 0.9, 0.0), (3, 1.0, -2.0)], pdrop=0.5)],
    )
    import_dsjson(source, tmp_path / "log.parquet")
    log = read_log(tmp_path / "log.parquet")
    assert log.slate_size == 2
    np.testing.assert_array_equal(log.slates, [[2, 0], [1, 3]])
    np.testing.assert_allclose(log.decision.position_probability, [[0.5, 0.4], [0.45, 0.5]])
    np.testing.assert_allclose(log.decision.slate_probability, [0.2, 0.45])
    np.testing.assert_array_equal(log.rewards, [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(log.feedback.signals["pdrop"], [[0, 0], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        (cb(0, -1.0, 0.5, pdrop=1), "field 'pdrop' must be in [0, 1); got 1."),
        (cb(0, -1.0, 1.5), "field '_label_probability' must be a probability in (0, 1]; got 1.5."),
        (cb(0, "high", 0.5), "field '_label_cost' must be a finite number; got 'high'."),
        (cb(0, -1.0, 0.5, _labelIndex=3), "field '_labelIndex' must be an integer from 0 to 2"),
        (cb(0, -1.0, 0.5, a=[2, 1, 3]), "field 'a' must start with the chosen action"),
        (cb(0, -1.0, 0.5, _skipLearn="yes"), "field '_skipLearn' must be true or false"),
        (ccb([(1, 0.5, 0.0), (1, 0.5, 0.0)]), "already shown in slot 0"),
        (
            json.dumps(
                {
                    "c": {"_multi": multi(1, 2), "_slots": [{}]},
                    "_outcomes": [{"_label_cost": 0, "_a": 5, "_p": 0.5}],
                }
            ),
            "field '_outcomes[0]._a' must be an integer from 0 to 1 (the event has 2 actions); "
            "got 5.",
        ),
    ],
)
def test_a_malformed_line_is_an_error_naming_file_line_field_and_value(tmp_path, line, message):
    source = write(tmp_path / "bad.json", [cb(0, -1.0, 0.5), line])
    with pytest.raises(InputValueError) as caught:
        import_dsjson(source, tmp_path / "log.parquet")
    assert str(caught.value).startswith(f"{source}, line 2: ")
    assert message in str(caught.value)
    assert not list(tmp_path.glob("log*"))  # nothing left half-written


HUGE = 10**400  # an integer JSON allows and float64 cannot hold


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (cb(0, HUGE, 0.5), "field '_label_cost' must be a finite number; got 1000"),
        (
            cb(0, -1.0, 0.5, _label_probability=HUGE),
            "field '_label_probability' must be a finite number; got 1000",
        ),
        (cb(0, -1.0, 0.5, c={"u": HUGE, "_multi": multi(1, 2, 3)}), "field 'u' must be a finite"),
        (cb(0, -1.0, 0.5)[:-1] + ', "x": ' + "9" * 5000 + "}", "not valid JSON here: Exceeds"),
        ('{"c": ' + '{"x": ' * 5000 + "1" + "}" * 5001, "not valid JSON here: nested too deeply"),
    ],
)
def test_numbers_and_nesting_json_allows_but_python_cannot_hold_are_refused_by_line(
    tmp_path, line, message
):
    source = write(tmp_path / "bad.json", [cb(0, -1.0, 0.5), line])
    with pytest.raises(InputValueError) as caught:
        import_dsjson(source, tmp_path / "log.parquet")
    assert str(caught.value).startswith(f"{source}, line 2: ")
    assert message in str(caught.value)
    assert not list(tmp_path.glob("log*"))
    summary = import_dsjson(source, tmp_path / "log.parquet", skip_malformed=True)
    assert (summary.rows, summary.skipped) == (1, {"malformed": 1})


def test_an_item_id_beyond_int64_is_hashed_like_other_ids(tmp_path):
    actions = [{"_id": 2**63, "f": 1.0}, {"_id": 2**63 - 1, "f": 2.0}]
    line = cb(0, -1.0, 0.5, n=2, c={"_multi": actions})
    import_dsjson(write(tmp_path / "big.json", [line]), tmp_path / "log.parquet")
    ids = read_log(tmp_path / "log.parquet").observation.candidate_ids[0].tolist()
    assert ids[1] == 2**63 - 1 and 0 <= ids[0] < 2**63 and ids[0] != 2**63 - 1


def test_a_byte_order_mark_does_not_hide_the_first_event(tmp_path):
    source = tmp_path / "bom.json"
    source.write_bytes("\ufeff".encode() + f"{cb(0, -1.0, 0.5)}\n{cb(1, 0.0, 0.5)}\n".encode())
    summary = import_dsjson(source, tmp_path / "log.parquet")
    assert (summary.rows, summary.skipped) == (2, {})


def test_a_slate_probability_below_the_smallest_float_is_a_malformed_line(tmp_path):
    good, tiny = ccb([(0, 0.5, 0.0), (1, 0.5, 0.0)]), ccb([(0, 1e-200, 0.0), (1, 1e-200, 0.0)])
    source = write(tmp_path / "tiny.json", [good, tiny, good])
    with pytest.raises(InputValueError, match=r"tiny.json, line 2: the slate's probability"):
        import_dsjson(source, tmp_path / "log.parquet")
    assert not list(tmp_path.glob("log*"))
    summary = import_dsjson(source, tmp_path / "log.parquet", skip_malformed=True)
    assert (summary.rows, summary.skipped) == (2, {"malformed": 1})


def test_skip_malformed_counts_instead(tmp_path):
    two_slots = ccb([(0, 0.5, 0.0), (1, 0.5, 0.0)])  # the file's first event has one
    lines = [cb(0, -1.0, 0.5), "{not json", cb(0, -1.0, 0.5, pdrop=1), two_slots]
    summary = import_dsjson(write(tmp_path / "bad.json", lines), tmp_path / "log.parquet",
                            skip_malformed=True)  # fmt: skip
    assert (summary.rows, summary.skipped) == (1, {"malformed": 3})


def test_an_item_changing_its_features_is_refused(tmp_path):
    changed = json.loads(cb(0, -1.0, 0.5))
    changed["c"]["_multi"][1]["i"]["f"] = 9
    source = write(tmp_path / "items.json", [cb(0, -1.0, 0.5), json.dumps(changed)])
    with pytest.raises(InputValueError, match=r"line 2: item 11 has the features \[9.0\] here"):
        import_dsjson(source, tmp_path / "log.parquet")


def test_actions_without_ids_are_items_by_their_features(tmp_path):
    event = json.loads(cb(1, -1.0, 0.5))
    event["c"]["_multi"] = [{"i": {"f": 1}}, {"i": {"f": 2}}, {"i": {"f": 3}}]
    source = write(tmp_path / "hash.json", [json.dumps(event), json.dumps(event)])
    import_dsjson(source, tmp_path / "log.parquet")
    log = read_log(tmp_path / "log.parquet")
    assert log.items.n_items == 3  # the same three items in both events
    assert log.observation.candidate_ids[0].tolist() == log.observation.candidate_ids[1].tolist()


def vw_labels(args, path):
    """(chosen 0-based, probability, cost, weight) per example of VW's own reader."""
    from vowpalwabbit import pyvw

    workspace = pyvw.Workspace(f"{args} --dsjson --chain_hash --quiet")
    found = []
    for line in path.read_text().splitlines():
        examples = workspace.parse(line)
        if "ccb" in args:
            slots = [e for e in examples if e.get_ccb_type() == pyvw.Workspace.tSLOT]
            if slots and all(e.get_ccb_has_outcome() for e in slots):
                found.append([(e.get_ccb_action(0), e.get_ccb_probability(0), e.get_ccb_cost(),
                               e.get_ccb_weight()) for e in slots])  # fmt: skip
        else:
            labelled = [j for j, e in enumerate(examples[1:]) if e.get_cbandits_num_costs()]
            for j in labelled:
                e = examples[1 + j]
                found.append([(j, e.get_cbandits_probability(0), e.get_cbandits_cost(0),
                               e.get_cbandits_weight())])  # fmt: skip
        workspace.finish_example(examples)
    workspace.finish()
    return found


def ours(path):
    log = read_log(path)
    pdrop = log.feedback.signals.get("pdrop", np.zeros(log.slates.shape))
    return [
        [(int(j), float(p), -float(r), 1 / (1 - float(d)))
         for j, p, r, d in zip(row_slate, row_p / (1 - row_d), row_r, row_d, strict=True)]
        for row_slate, row_p, row_r, row_d in zip(
            log.slates, log.decision.position_probability, log.rewards, pdrop, strict=True
        )
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["cb", "ccb"])
def test_vw_reads_the_same_examples_labels_and_weights(tmp_path, kind):
    rng = np.random.default_rng(3)
    lines = ["", '{"RewardValue": 1}', cb(1, -1.0, 0.5, _skipLearn=True)]
    for i in range(40):
        n = int(rng.integers(2, 6))
        extra = {"pdrop": 0.5} if i % 7 == 0 else {}
        if kind == "cb":
            lines.append(cb(int(rng.integers(n)), -float(rng.integers(2)), 0.25 + i / 100, n=n,
                            **extra))  # fmt: skip
        else:
            chosen = rng.permutation(n)[:2].tolist()
            lines.append(ccb([(chosen[0], 0.5, -1.0), (chosen[1], 0.25 + i / 100, 0.0)], n=n,
                             **extra))  # fmt: skip
    source = write(tmp_path / "events.json", lines)
    summary = import_dsjson(source, tmp_path / "log.parquet")
    theirs = vw_labels("--cb_explore_adf" if kind == "cb" else "--ccb_explore_adf", source)
    mine = ours(tmp_path / "log.parquet")
    assert summary.rows == len(theirs) == len(mine) == 40
    for left, right in zip(mine, theirs, strict=True):
        for (j, p, cost, weight), (vj, vp, vcost, vweight) in zip(left, right, strict=True):
            assert j == vj and cost == vcost and weight == vweight
            assert p == pytest.approx(vp, rel=1e-7)  # VW keeps float32


def test_a_long_file_imports_in_bounded_batches_and_flat_memory(tmp_path):
    line = cb(1, -1.0, 0.5, n=2)
    peaks = {}
    for n_lines in (5_000, 50_000):
        source = tmp_path / f"long{n_lines}.json"
        source.write_text((line + "\n") * n_lines)
        tracemalloc.start()
        summary = import_dsjson(source, tmp_path / f"log{n_lines}.parquet", batch_bytes=2**20)
        peaks[n_lines] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert summary.rows == n_lines
        assert summary.largest_batch <= 2**20 // 16 // (4 + 2 + 2 * 3 + 4)  # row_bytes
        assert summary.batches >= n_lines // summary.largest_batch
    assert peaks[50_000] < 1.5 * peaks[5_000]  # ten times the lines, not ten times the memory


@pytest.mark.parametrize(
    ("context", "action", "message"),
    [
        (
            {"a.b": 1, "a": {"b": 2}},
            {},
            """feature 'a.b' is written two ways, c["a.b"] and c["a"]["b"]""",
        ),
        (
            {"u": {"x.y": 1, "x": {"y": 2}}},
            {},
            """feature 'u.x.y' is written two ways, c["u"]["x.y"] and c["u"]["x"]["y"]""",
        ),
        (
            {"k=v": 1, "k": "v"},
            {},
            """feature 'k=v' is written two ways, c["k=v"] and c["k"] = "v\"""",
        ),
        (
            {},
            {"i.f": 5},
            """feature 'i.f' is written two ways, c["_multi"][1]["i.f"] and """
            """c["_multi"][1]["i"]["f"]""",
        ),
    ],
)
def test_a_feature_spelled_two_ways_is_refused_not_summed(tmp_path, context, action, message):
    """VW's JSON parser makes a nested object a namespace and a dotted key a feature of the
    enclosing namespace: different features, which one column would have summed."""
    actions = multi(1, 2, 3)
    actions[1] = {**action, **actions[1]} if action else actions[1]
    line = cb(0, -1.0, 0.5, c={**context, "_multi": actions})
    source = write(tmp_path / "bad.json", [cb(0, -1.0, 0.5), line])
    with pytest.raises(InputValueError) as caught:
        import_dsjson(source, tmp_path / "log.parquet")
    assert str(caught.value).startswith(f"{source}, line 2: ")
    assert message in str(caught.value), caught.value
    summary = import_dsjson(source, tmp_path / "log.parquet", skip_malformed=True)
    assert (summary.rows, summary.skipped) == (1, {"malformed": 1})


def test_repeated_objects_of_one_array_are_still_summed(tmp_path):
    """VW adds the objects of an array to one namespace: the one case of a name given twice
    that is summed."""
    line = cb(0, -1.0, 0.5, c={"u": [{"x": 1.5}, {"x": 2.0}], "_multi": multi(1, 2, 3)})
    source = write(tmp_path / "ok.json", [line])
    import_dsjson(source, tmp_path / "log.parquet")
    assert read_log(tmp_path / "log.parquet").observation.context.tolist() == [[3.5]]
