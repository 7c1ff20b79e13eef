"""Tests for lossmatch.listwise: padded lists of candidate pairs and back."""

import numpy as np
import pytest

from lossmatch.listwise import from_lists, to_lists

# Six pairs of three left records: 5 -> rows 0, 2, 4; 2 -> rows 1, 3; 9 -> row 5.
GROUP = np.array([5, 2, 5, 2, 5, 9])
X = np.arange(12, dtype="float32").reshape(6, 2)  # row r holds [2r, 2r + 1]
Y = np.array([1, 0, 0, 1, 0, 1])


def test_to_lists_groups_and_pads():
    X_lists, y_lists, index = to_lists(GROUP, X, Y)
    # Lists in sorted group order (2, 5, 9), rows in their original order, L = 3.
    np.testing.assert_array_equal(index, [[1, 3, -1], [0, 2, 4], [5, -1, -1]])
    np.testing.assert_array_equal(y_lists, [[0, 1, -1], [1, 0, 0], [1, -1, -1]])
    assert X_lists.shape == (3, 3, 2)
    np.testing.assert_array_equal(X_lists[0], [[2, 3], [6, 7], [0, 0]])  # rows 1, 3, padding
    np.testing.assert_array_equal(X_lists[2, 1:], 0)  # padding is zeros


def test_list_size_splits_large_groups():
    X_lists, y_lists, index = to_lists(GROUP, X, Y, list_size=2)
    # Group 5 (3 rows) becomes two lists: [0, 2] and [4, pad].
    np.testing.assert_array_equal(index, [[1, 3], [0, 2], [4, -1], [5, -1]])
    np.testing.assert_array_equal(y_lists, [[0, 1], [1, 0], [0, -1], [1, -1]])
    assert X_lists.shape == (4, 2, 2)


def test_list_size_larger_than_groups_pads():
    _, y_lists, index = to_lists(GROUP, X, Y, list_size=4)
    assert index.shape == (3, 4) and (y_lists == -1).sum() == 12 - 6


def test_round_trip_through_from_lists():
    X_lists, y_lists, index = to_lists(GROUP, X, Y, list_size=2)
    # Per-item values go back to their original rows.
    np.testing.assert_array_equal(from_lists(y_lists, index, 6), Y)
    np.testing.assert_array_equal(from_lists(X_lists, index, 6), X)


def test_random_round_trip():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 50, size=1000)
    values = rng.normal(size=1000)
    for list_size in (None, 3):
        lists, _, index = to_lists(group, values[:, None], None, list_size=list_size)
        np.testing.assert_array_equal(from_lists(lists[..., 0], index, 1000), values)


def test_y_none_and_dtypes():
    X_lists, y_lists, _ = to_lists(GROUP, X, None)
    assert y_lists is None and X_lists.dtype == np.float32
    # Booleans cannot hold the -1 padding, so they become float32.
    _, y_lists, _ = to_lists(GROUP, X, Y.astype(bool))
    assert y_lists.dtype == np.float32 and y_lists.min() == -1


def test_from_lists_leaves_missing_rows_nan():
    out = from_lists(np.array([[0.5, 0.7]]), np.array([[2, -1]]), 4)
    np.testing.assert_array_equal(out, [np.nan, np.nan, 0.5, np.nan])


def test_empty_input():
    X_lists, y_lists, index = to_lists(np.array([], int), np.zeros((0, 2)), np.array([], int))
    assert X_lists.shape == (0, 0, 2) and index.shape == (0, 0)


@pytest.mark.parametrize("list_size", [0, -1, 2.5, True])
def test_bad_list_size(list_size):
    with pytest.raises(ValueError, match=rf"^to_lists: list_size must be None or a positive int, got {list_size!r}$"):
        to_lists(GROUP, X, Y, list_size=list_size)


def test_mismatched_lengths_and_bad_index():
    with pytest.raises(ValueError, match=r"^to_lists: group, X and y must have the same number of rows, got 5, 6 and 6$"):
        to_lists(GROUP[:5], X, Y)
    with pytest.raises(ValueError, match=r"^from_lists: index refers to row 7 but n_rows is 4$"):
        from_lists(np.ones((1, 2)), np.array([[0, 7]]), 4)
