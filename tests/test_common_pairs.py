"""lossmatch.common: pair keys, their inverse, and membership by binary search."""

import numpy as np
import pandas as pd

from lossmatch.common import contains_pairs, pair_keys, sorted_membership, split_keys


def test_pair_keys_round_trip():
    pairs = pd.DataFrame({"left": [0, 2, 2, 4], "right": [6, 0, 5, 6]})
    # n_right = 7: keys are left * 7 + right = 6, 14, 19, 34.
    keys = pair_keys(pairs, 7)
    assert keys.tolist() == [6, 14, 19, 34]
    pd.testing.assert_frame_equal(split_keys(keys, 7), pairs.astype(np.int64))


def test_sorted_membership_by_hand_and_against_isin():
    reference = np.array([3, 5, 9])
    # 9 is the last entry, 10 lies beyond every entry (searchsorted gives len), 0 before.
    assert sorted_membership(np.array([0, 3, 4, 9, 10]), reference).tolist() == [False, True, False, True, False]
    assert sorted_membership(np.array([1, 2]), np.array([], dtype=np.int64)).tolist() == [False, False]
    rng = np.random.default_rng(0)
    values, ref = rng.integers(0, 300, 1000), np.unique(rng.integers(0, 300, 100))
    assert np.array_equal(sorted_membership(values, ref), np.isin(values, ref))


def test_contains_pairs_sorts_an_unsorted_reference():
    pairs = pd.DataFrame({"left": [0, 1, 2], "right": [1, 1, 0]})
    # Reference given out of order: (2, 0) then (0, 1).
    reference = pd.DataFrame({"left": [2, 0], "right": [0, 1]})
    assert contains_pairs(pairs, reference, 3).tolist() == [True, False, True]
    # Sorted keys work the same: keys of the reference with n_right = 3 are 1 and 6.
    assert contains_pairs(pairs, np.array([1, 6]), 3).tolist() == [True, False, True]


def test_sorted_membership_of_many_sorted_values_searches_the_other_way():
    # 40 sorted values with repeats against 3 reference values: the reverse search path.
    values = np.repeat(np.arange(20), 2)
    reference = np.array([-1, 3, 19])
    got = sorted_membership(values, reference)
    # 3 and 19 appear twice each (both copies marked); -1 is absent.
    assert got.sum() == 4 and got[6] and got[7] and got[38] and got[39]
    assert np.array_equal(got, np.isin(values, reference))
    rng = np.random.default_rng(1)
    many, few = np.sort(rng.integers(0, 10_000, 5_000)), np.unique(rng.integers(0, 10_000, 200))
    assert np.array_equal(sorted_membership(many, few), np.isin(many, few))


def test_sorted_membership_of_sorted_distinct_values():
    # Candidate keys are sorted and distinct: 0..9 against {2, 9, 12}; 12 lies beyond every value.
    got = sorted_membership(np.arange(10), np.array([2, 9, 12]))
    assert np.flatnonzero(got).tolist() == [2, 9]
