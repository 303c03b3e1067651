"""The logged-data table and its parts: construction checks, concat, time splits, marginals."""

from __future__ import annotations

import numpy as np
import pytest
from factories import assert_logs_equal, random_log
from hypothesis import given, settings
from hypothesis import strategies as st

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit, time_split_mask
from bandits.observation import SlateObservation
from bandits.validation import InputTypeError, InputValueError


def _parts(seed=0, **shape):
    log = random_log(np.random.default_rng(seed), **shape)
    return log.observation, log.decision, log.feedback, log.policy_names


def _with(array, index, value):
    copy = np.array(array, dtype=float if isinstance(value, float) else array.dtype)
    copy[index] = value
    return copy


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda o, d, f: (o, d, SlateFeedback(_with(f.rewards, (3, 1), np.nan))),
            r"'rewards'.*finite; row 3, position 1 is nan",
        ),
        (
            lambda o, d, f: (o, d, SlateFeedback(_with(f.rewards, (2, 0), np.inf))),
            r"'rewards'.*finite; row 2, position 0 is inf",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(d.slates, _with(d.slate_probability, 4, 0.0), d.position_probability),
                f,
            ),
            r"'slate_probability'.*\(0, 1\]; row 4 is 0.0",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    d.slates, d.slate_probability, _with(d.position_probability, (1, 1), 1.5)
                ),
                f,
            ),
            r"'position_probability'.*\(0, 1\]; row 1, position 1 is 1.5",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    _with(d.slates, (5, 1), d.slates[5, 0]),
                    d.slate_probability,
                    d.position_probability,
                ),
                f,
            ),
            r"must not repeat an item within a slate; row 5",
        ),
        (
            lambda o, d, f: (
                o,
                SlateDecision(
                    _with(d.slates, (2, 0), o.n_candidates[2]),
                    d.slate_probability,
                    d.position_probability,
                ),
                f,
            ),
            r"must index the row's candidates.*row 2, position 0 is",
        ),
        (
            lambda o, d, f: (o, d, SlateFeedback(f.rewards[:, :1])),
            r"column 'rewards' must have shape \(6, 2\); got \(6, 1\)",
        ),
    ],
    ids=[
        "nan-reward",
        "inf-reward",
        "zero-probability",
        "probability-above-one",
        "duplicate",
        "outside-candidates",
        "reward-shape",
    ],
)
def test_bad_tables_are_rejected_naming_column_row_and_value(make, message):
    obs, decision, feedback, names = _parts(n_requests=6, max_candidates=4, slate_size=2)
    with pytest.raises(InputValueError, match=message):
        LoggedBandit(*make(obs, decision, feedback), names)


def test_observation_rejects_too_few_candidates_naming_the_row():
    obs, *_ = _parts(n_requests=4, slate_size=2)
    counts = obs.n_candidates.copy()
    counts[3] = 1
    values = obs.to_mapping() | {"n_candidates": counts}
    with pytest.raises(InputValueError, match=r"'n_candidates'.*row 3 is 1"):
        SlateObservation.from_mapping(values)


def test_concat_pads_candidates_and_history():
    rng = np.random.default_rng(6)
    narrow = random_log(rng, n_requests=3, max_candidates=3, history_length=1)
    wide = random_log(rng, n_requests=2, max_candidates=6, history_length=4)
    both = LoggedBandit.concat([narrow, wide])
    assert both.observation.candidate_ids.shape == (5, 6)
    assert both.observation.history.shape == (5, 4)
    np.testing.assert_array_equal(both.observation.candidate_ids[:3, 3:], -1)
    assert_logs_equal(both.take([3, 4]), LoggedBandit.concat([wide]))


def test_concat_refuses_tables_of_different_slate_size():
    rng = np.random.default_rng(7)
    with pytest.raises(
        InputValueError, match="share one slate_size; number 0 has 2, number 1 has 1"
    ):
        LoggedBandit.concat([random_log(rng, slate_size=2), random_log(rng, slate_size=1)])


def test_split_is_by_time():
    log = random_log(np.random.default_rng(8), n_requests=10)
    early, late = log.split(0.3)
    assert len(early) == 3 and len(late) == 7
    assert early.observation.times.max() <= late.observation.times.min()


def _observation_values():
    obs, *_ = _parts(n_requests=4, max_candidates=4, slate_size=2, history_length=3)
    return obs.to_mapping()


def test_repeated_candidate_ids_are_rejected_naming_row_and_item():
    values = _observation_values()
    ids = values["candidate_ids"].copy()
    ids[1, 1] = ids[1, 0]
    with pytest.raises(
        InputValueError, match=rf"row 1 has item {ids[1, 0]} as candidates \[0, 1\]"
    ):
        SlateObservation.from_mapping(values | {"candidate_ids": ids})


def test_nonzero_feature_padding_is_rejected():
    values = _observation_values()
    features = values["candidate_features"].copy()
    row = int(np.flatnonzero(values["n_candidates"] < 4)[0])
    features[row, 3, 0] = np.nan
    with pytest.raises(
        InputValueError, match=rf"must be 0 after.*row {row}, candidate 3 \(padding\)"
    ):
        SlateObservation.from_mapping(values | {"candidate_features": features})


def test_history_error_names_the_entry_after_the_gap():
    values = _observation_values()
    history = np.array([[5, -1, 7]] * 4)
    with pytest.raises(InputValueError, match=r"'history'.*row 0, entry 2 is 7"):
        SlateObservation.from_mapping(values | {"history": history})


def test_fractional_slate_size_is_not_truncated():
    values = _observation_values()
    with pytest.raises(InputTypeError, match=r"'slate_size' parameter of SlateObservation.*2.7"):
        SlateObservation.from_mapping(values | {"slate_size": np.asarray(2.7)})


def test_slate_probability_cannot_exceed_a_position_probability():
    with pytest.raises(InputValueError, match=r"row 1 has 0.9 > min\(position_probability\) = 0.1"):
        SlateDecision([[0, 1], [1, 0]], [0.5, 0.9], [[0.5, 0.6], [0.1, 0.95]])


@pytest.mark.parametrize("fraction", [-0.3, 1.5, float("nan")])
def test_split_rejects_fractions_outside_zero_one(fraction):
    log = random_log(np.random.default_rng(9), n_requests=5)
    with pytest.raises(InputValueError, match=r"'fraction' parameter of LoggedBandit\.split"):
        log.split(fraction)


def test_split_keeps_row_order_and_breaks_time_ties_by_row():
    log = random_log(np.random.default_rng(8), n_requests=6)
    times = np.array([5, 1, 5, 3, 1, 5])
    object.__setattr__(log.observation, "times", times)
    train = time_split_mask(times, 0.5)  # the three oldest: rows 1, 4 (time 1), 3 (time 3)
    np.testing.assert_array_equal(train, [False, True, False, True, True, False])
    train = time_split_mask(times, 4 / 6)  # one of the three rows at time 5: the first, row 0
    np.testing.assert_array_equal(train, [True, True, False, True, True, False])
    early, late = log.split(0.5)
    np.testing.assert_array_equal(
        early.observation.request_ids, log.observation.request_ids[[1, 3, 4]]
    )
    np.testing.assert_array_equal(
        late.observation.request_ids, log.observation.request_ids[[0, 2, 5]]
    )


@settings(max_examples=50, deadline=None)
@given(times=st.lists(st.integers(0, 5), max_size=30), fraction=st.floats(0, 1))
def test_time_split_takes_the_oldest_rows(times, fraction):
    times = np.asarray(times, dtype=np.int64)
    train = time_split_mask(times, fraction)
    assert train.sum() == round(fraction * len(times))
    if train.any() and (~train).any():
        assert times[train].max() <= times[~train].min()


ROW_FIELDS = ("context", "candidate_ids", "n_candidates", "history", "request_ids", "user_ids",
              "times")  # fmt: skip


def _rebuild(obs, items):
    """The same requests with another item table."""
    values = {name: getattr(obs, name) for name in ROW_FIELDS}
    return SlateObservation(slate_size=obs.slate_size, items=items, **values)


def test_candidates_must_be_in_the_item_table():
    obs, *_ = _parts(n_requests=4, slate_size=2)
    missing = int(obs.candidate_ids[2, 1])
    keep = obs.items.ids != missing
    with pytest.raises(InputValueError, match=rf"names item {missing} at row 2, candidate 1"):
        _rebuild(obs, ItemTable(obs.items.ids[keep], obs.items.features[keep]))


def test_candidate_features_are_looked_up_in_the_item_table():
    obs, *_ = _parts(n_requests=5, slate_size=2, n_item=3)
    for row in range(5):
        for column in range(obs.max_candidates):
            item = obs.candidate_ids[row, column]
            expected = (
                obs.items.features[np.flatnonzero(obs.items.ids == item)[0]]
                if column < obs.n_candidates[row]
                else np.zeros(3)
            )
            np.testing.assert_array_equal(obs.candidate_features[row, column], expected)
    taken = obs.take([3, 1])
    assert taken.items is obs.items
    np.testing.assert_array_equal(taken.candidate_features, obs.candidate_features[[3, 1]])


def test_candidates_outside_their_items_window_are_rejected():
    obs, *_ = _parts(n_requests=3, slate_size=1, max_candidates=2)
    item = int(obs.candidate_ids[1, 0])
    valid_until = np.where(obs.items.ids == item, obs.times[1], np.iinfo(np.int64).max)
    items = ItemTable(obs.items.ids, obs.items.features, valid_until=valid_until)
    with pytest.raises(InputValueError, match=rf"row 1, candidate 0 is item {item}, available"):
        _rebuild(obs, items)


def test_one_item_with_two_feature_vectors_in_a_batch_is_refused():
    values = _observation_values()
    ids = values["candidate_ids"].copy()
    ids[1, 0] = ids[0, 0]
    ids[1, 1:] = np.where(ids[1, 1:] == ids[0, 0], 999_999, ids[1, 1:])
    with pytest.raises(InputValueError, match=rf"item {ids[0, 0]} has .* at row 0 and .* at row 1"):
        SlateObservation.from_mapping(values | {"candidate_ids": ids})


def _marginal_decision(obs, slates, marginals):
    shown = np.take_along_axis(marginals, slates[:, None, :], axis=1)[:, 0, :]
    return SlateDecision(slates, shown.prod(axis=1) * 0 + shown.min(axis=1) / 2, shown, marginals)


def test_logging_marginals_are_checked_against_the_candidates():
    obs, decision, feedback, names = _parts(n_requests=4, max_candidates=4, slate_size=2)
    uniform = obs.candidate_mask[:, :, None] / obs.n_candidates[:, None, None]
    marginals = np.repeat(uniform, 2, axis=2)
    good = _marginal_decision(obs, decision.slates, marginals)
    LoggedBandit(obs, good, feedback, names)

    skewed = marginals.copy()
    skewed[1, 0, 1] += 0.1
    with pytest.raises(InputValueError, match=r"sum to 1 .* row 1, position 1 sums to"):
        LoggedBandit(obs, _marginal_decision(obs, decision.slates, skewed), feedback, names)

    row = int(np.flatnonzero(obs.n_candidates < 4)[0])
    padded = marginals.copy()
    padded[row, 3, 0] = 0.01
    padded[row, 0, 0] -= 0.01
    with pytest.raises(InputValueError, match=rf"padding candidates; row {row}, candidate 3"):
        LoggedBandit(obs, _marginal_decision(obs, decision.slates, padded), feedback, names)

    disagreeing = SlateDecision(decision.slates, np.full(4, 0.01), np.full((4, 2), 0.2), marginals)
    with pytest.raises(
        InputValueError, match=r"agree with 'position_probability'.*row 0, position 0"
    ):
        LoggedBandit(obs, disagreeing, feedback, names)


def test_a_decision_remembers_the_observation_it_was_checked_against():
    obs, decision, *_ = _parts(n_requests=4, slate_size=2)
    decision.check_against(obs)
    decision.slates[0, 0] = 99  # corrupted after the check
    decision.check_against(obs)  # the same observation: not checked again
    with pytest.raises(InputValueError, match=r"row 0, position 0 is 99"):
        decision.check_against(obs.take(np.arange(4)))


def test_one_policy_name_is_given_to_every_row_whole():
    obs, decision, feedback, _ = _parts(n_requests=3)
    log = LoggedBandit(obs, decision, feedback, "epsilon-greedy:epsilon=0.1")
    assert log.policy_names.tolist() == ["epsilon-greedy:epsilon=0.1"] * 3


@pytest.mark.parametrize("signals", [None, [1, 2], "click"])
def test_signals_must_be_a_mapping(signals):
    with pytest.raises(InputTypeError, match="'signals' of SlateFeedback"):
        SlateFeedback(np.zeros((2, 1)), signals)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (np.array([2**64 - 1], dtype=np.uint64), "within int64; row 0 is 18446744073709551615"),
        (np.array([1e19]), r"within int64; row 0 is 1e\+19"),
        (np.array([2.5]), "within int64; row 0 is 2.5"),
        (np.array([True]), "must hold numbers; got dtype bool"),
        (np.array(["7"]), "must hold numbers; got dtype <U1"),
    ],
)
def test_integer_arrays_never_wrap_truncate_or_take_other_kinds(ids, message):
    with pytest.raises(InputTypeError, match=message):
        ItemTable(ids, np.zeros((1, 0)))
