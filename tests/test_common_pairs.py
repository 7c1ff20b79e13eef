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
