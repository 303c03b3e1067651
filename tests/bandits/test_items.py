"""The item table: sorting, lookups, unions, errors that name the item."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.items import ItemTable
from bandits.validation import InputValueError


def test_rows_are_sorted_by_id_and_read_only():
    table = ItemTable([7, 2, 5], [[7.0], [2.0], [5.0]], valid_from=[0, 1, 2])
    np.testing.assert_array_equal(table.ids, [2, 5, 7])
    np.testing.assert_array_equal(table.features[:, 0], [2.0, 5.0, 7.0])
    np.testing.assert_array_equal(table.valid_from, [1, 2, 0])
    with pytest.raises(ValueError, match="read-only"):  # numpy refuses the write
        table.features[0, 0] = 1.0


def test_positions_find_ids_and_name_a_missing_one():
    table = ItemTable([10, 20, 30], np.zeros((3, 0)))
    ids = np.array([[30, 10, -1], [20, 99, 10]])
    mask = np.array([[True, True, False], [True, False, True]])
    np.testing.assert_array_equal(table.positions(ids, mask, "ids"), [[2, 0, 0], [1, 0, 0]])
    with pytest.raises(InputValueError, match=r"names item 99 at row 1, candidate 1"):
        table.positions(ids, ids >= 0, "ids")
    with pytest.raises(InputValueError, match=r"names item 30 at row 0, candidate 0.*\(0 items\)"):
        ItemTable.empty(0).positions(ids[:1, :1], mask[:1, :1], "ids")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1, 1], [[0.0], [1.0]]), "must be distinct; item 1 appears twice"),
        (([1, -2], [[0.0], [1.0]]), r"'ids' of ItemTable must be >= 0; row 1 is -2"),
        (([1, 2], [[0.0], [np.nan]]), r"'features' of ItemTable must be finite; row 1"),
        (([1, 2], [[0.0]]), r"'features' of ItemTable must have shape \(2, \*\)"),
        (([1], [[0.0]], [5], [5]), r"row 0 \(item 1\) is available from 5 until 5"),
    ],
)
def test_bad_tables_are_refused(args, message):
    with pytest.raises(InputValueError, match=message):
        ItemTable(*args)


def test_union_keeps_every_item_once_and_refuses_conflicts():
    left = ItemTable([1, 3], [[1.0], [3.0]])
    right = ItemTable([3, 4], [[3.0], [4.0]])
    both = left.union(right)
    np.testing.assert_array_equal(both.ids, [1, 3, 4])
    np.testing.assert_array_equal(both.features[:, 0], [1.0, 3.0, 4.0])
    assert left.union(left) is left and left.union(ItemTable([1], [[1.0]])) is left
    with pytest.raises(
        ValueError, match=r"disagree on the features of item 3: \[3.0\] and \[9.0\]"
    ):
        left.union(ItemTable([3], [[9.0]]))
    with pytest.raises(InputValueError, match="1 and 2 features"):
        left.union(ItemTable([5], [[1.0, 2.0]]))


def test_fingerprint_changes_with_any_value():
    table = ItemTable([1, 2], [[0.5], [0.25]])
    assert table.fingerprint() == ItemTable([2, 1], [[0.25], [0.5]]).fingerprint()
    assert table.fingerprint() != ItemTable([1, 2], [[0.5], [0.26]]).fingerprint()
    assert table.fingerprint() != ItemTable([1, 2], [[0.5], [0.25]], [0, 0]).fingerprint()
    assert table.same_as(ItemTable([1, 2], [[0.5], [0.25]]))


def test_from_candidates_collects_the_shown_items():
    ids = np.array([[4, 2, -1], [2, 9, 4]])
    features = np.zeros((2, 3, 1))
    features[:, :, 0] = [[4.0, 2.0, 0.0], [2.0, 9.0, 4.0]]
    mask = ids >= 0
    table = ItemTable.from_candidates(ids, features, mask)
    np.testing.assert_array_equal(table.ids, [2, 4, 9])
    np.testing.assert_array_equal(table.features[:, 0], [2.0, 4.0, 9.0])
