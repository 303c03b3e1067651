"""Observations that reuse checked candidates: ``with_requests`` (new requests over the same
candidates) and the candidate checks an item table remembers, which must never let a bad
candidate array through."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.items import ItemTable
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputTypeError, InputValueError


def table(valid_until=None):
    return ItemTable(np.array([3, 5, 8, 13]), np.arange(8.0).reshape(4, 2), None, valid_until)


def observation(items, ids=((5, 13, PAD_ID), (3, 8, 5)), counts=(2, 3), times=(0, 1)):
    n = len(counts)
    return SlateObservation(
        context=np.arange(2.0 * n).reshape(n, 2),
        candidate_ids=np.array(ids),
        n_candidates=np.array(counts),
        slate_size=1,
        history=np.full((n, 2), PAD_ID),
        request_ids=np.arange(n),
        user_ids=np.arange(n),
        times=np.array(times),
        items=items,
    )


def test_with_requests_equals_the_constructor():
    items = table()
    template = observation(items)
    context = np.array([[0.5, -1.0], [2.0, 3.0]])
    history = np.array([[8, PAD_ID], [PAD_ID, PAD_ID]])
    new = template.with_requests(
        context, request_ids=[7, 9], user_ids=[1, PAD_ID], times=[4, 6], history=history
    )
    built = SlateObservation(
        context=context,
        candidate_ids=template.candidate_ids,
        n_candidates=template.n_candidates,
        slate_size=1,
        history=history,
        request_ids=np.array([7, 9]),
        user_ids=np.array([1, PAD_ID]),
        times=np.array([4, 6]),
        items=items,
    )
    for name in ("context", "candidate_ids", "n_candidates", "history", "request_ids",
                 "user_ids", "times", "candidate_mask", "candidate_rows", "candidate_features",
                 "context_with_intercept"):  # fmt: skip
        np.testing.assert_array_equal(getattr(new, name), getattr(built, name), err_msg=name)
        assert getattr(new, name).dtype == getattr(built, name).dtype, name
    assert new.slate_size == 1 and new.items is items
    np.testing.assert_array_equal(template.context, np.arange(4.0).reshape(2, 2))  # untouched
    kept = template.with_requests(context, request_ids=[1, 2], user_ids=[1, 2], times=[1, 2])
    np.testing.assert_array_equal(kept.history, template.history)


def test_with_requests_checks_what_is_new():
    template = observation(table())
    ids = {"request_ids": [0, 1], "user_ids": [0, 1], "times": [0, 1]}
    with pytest.raises(InputValueError, match=r"'context' of SlateObservation.with_requests.*"
                                              r"finite; row 1, position 0 is nan"):  # fmt: skip
        template.with_requests(np.array([[0.0, 1.0], [np.nan, 0.0]]), **ids)
    with pytest.raises(InputValueError, match=r"'context' .* shape \(2, \*\); got \(1, 2\)"):
        template.with_requests(np.zeros((1, 2)), **ids)
    with pytest.raises(InputValueError, match=r"'times' .* shape \(2\); got \(3,\)"):
        template.with_requests(np.zeros((2, 2)), **{**ids, "times": [0, 1, 2]})
    with pytest.raises(InputTypeError, match=r"'user_ids' .* integers"):
        template.with_requests(np.zeros((2, 2)), **{**ids, "user_ids": [0.5, 1.0]})
    with pytest.raises(InputValueError, match=r"'history' .* row 0, entry 1 is 8"):
        template.with_requests(np.zeros((2, 2)), **ids, history=[[PAD_ID, 8], [3, PAD_ID]])


def test_with_requests_checks_availability_at_the_new_times():
    items = table(valid_until=np.array([100, 100, 100, 10]))  # item 13 retires at 10
    template = observation(items)
    template.with_requests(np.zeros((2, 2)), request_ids=[2, 3], user_ids=[2, 3], times=[9, 99])
    with pytest.raises(InputValueError, match=r"row 0, candidate 1 is item 13, .* time 10"):
        template.with_requests(np.zeros((2, 2)), request_ids=[2, 3], user_ids=[2, 3], times=[10, 0])


def test_remembered_candidate_checks_are_shared_only_by_equal_candidates():
    items = table()
    first = observation(items)
    again = observation(items)
    assert again.candidate_rows is first.candidate_rows  # remembered, read-only
    assert not again.candidate_rows.flags.writeable
    np.testing.assert_array_equal(again.candidate_rows, [[1, 3, 0], [0, 2, 1]])
    bad = [
        (((5, 13, PAD_ID), (3, 8, 7)), (2, 3), r"names item 7 at row 1, candidate 2"),
        (((5, 13, PAD_ID), (3, 8, 3)), (2, 3), r"must not repeat .* row 1 has item 3"),
        (((5, 13, PAD_ID), (3, 8, 5)), (3, 3), r"row 0, candidate 2 is -1"),
        (((5, 13, PAD_ID), (3, 8, 5)), (2, 4), r"n_candidates.* row 1 is 4"),
    ]
    for ids, counts, message in bad:  # each after a valid observation was remembered
        observation(items)
        with pytest.raises(InputValueError, match=message):
            observation(items, ids, counts)
    other = table()  # an equal table remembers its own checks
    assert observation(other).candidate_rows is not first.candidate_rows


def test_an_item_table_pickles_without_what_it_remembers():
    import pickle

    items = table()
    observation(items)
    assert items._remembered is not None
    copy = pickle.loads(pickle.dumps(items))
    assert copy._remembered is None and copy.same_as(items)
