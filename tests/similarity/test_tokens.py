"""The token-set similarities (tokens.py) against values worked out by hand, through SimilarityMap.transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lossmatch.similarity import SimilarityMap
from lossmatch.similarity.tokens import code_tokens, word_tokens


def scores(name, left, right):
    """One similarity over aligned lists: its scores and the pair's ':missing' column."""
    sm = SimilarityMap({"a~b": [name]})
    out = sm.transform(pd.DataFrame({"a": left}), pd.DataFrame({"b": right}),
                       np.arange(len(left)), np.arange(len(right)))
    return out[:, 0], out[:, 1]


def test_tokens():
    # Words are lower-cased runs of letters and digits; codes are the words with a digit.
    assert word_tokens("Canon EOS-5D mk2, 2008") == ["canon", "eos", "5d", "mk2", "2008"]
    assert code_tokens("Canon EOS-5D mk2, 2008") == ["5d", "mk2", "2008"]
    # Phone numbers formatted differently give the same digit groups.
    assert code_tokens("415/989 -7154") == code_tokens("415-989-7154") == ["415", "989", "7154"]


# (similarity, left, right, expected, the arithmetic)
HAND_CHECKED = [
    ("token_overlap", "Sony", "sony dslr-a100", 1.0),  # {sony} inside {sony, dslr, a100}: 1 / min(1, 3)
    ("token_overlap", "a b c d", "c d e", 2 / 3),  # {c, d} shared / min(4, 3)
    ("token_overlap", "sony", "sony", 1.0),  # the same value on both sides (a vocabulary of one)
    ("code_jaccard", "eos-5d mk2 2008", "eos 5d", 1 / 3),  # codes {5d, mk2, 2008} vs {5d}: 1 / 3
    ("code_overlap", "eos-5d mk2 2008", "eos 5d", 1.0),  # 1 / min(3, 1)
    ("code_jaccard", "ipod nano", "ipod nano 8gb", 0.0),  # no code on the left: 0
    ("code_disjoint", "dslr-a100", "dslr-a200", 1.0),  # both have codes, none shared
    ("code_disjoint", "dslr-a100", "dslr a100", 0.0),  # "a100" shared
    ("code_disjoint", "dslr-a100", "dslr", 0.0),  # the right has no code: no evidence
    ("code_disjoint", "dslr", "dslr-a100", 0.0),  # nor when the left has none
    ("code_jaccard", "ipod nano", "ipod mini", 0.0),  # no code on either side: no code vocabulary at all
    ("code_disjoint", "ipod nano", "ipod mini", 0.0),  # ... and no evidence against a match
    ("length_ratio", "abc", "abcdef", 0.5),  # 3 / 6 characters
    ("length_ratio", "a", "b", 1.0),  # 1 / 1: a one-character value is not "empty"
]


@pytest.mark.parametrize(("name", "left", "right", "expected"), HAND_CHECKED)
def test_hand_checked_value(name, left, right, expected):
    score, missing = scores(name, [left], [right])
    # The score matches the arithmetic; nothing is missing.
    assert score[0] == pytest.approx(expected, abs=1e-6)
    assert missing[0] == 0.0


def test_per_side_missing_flags_are_kept_where_values_are_missing():
    left, right = ["x", None, "", "y"], ["z", "w", None, None]
    left_flag, either = scores("missing_left", left, right)
    right_flag, _ = scores("missing_right", left, right)
    # Unlike similarities, the indicators are not zeroed on missing pairs: they say which side.
    assert left_flag.tolist() == [0, 1, 1, 0]
    assert right_flag.tolist() == [0, 0, 1, 1]
    # The map's ':missing' is "either side".
    assert either.tolist() == [0, 1, 1, 1]


def test_similarities_are_zero_on_missing_values():
    score, missing = scores("token_overlap", ["a b", None], [None, "a"])
    # A missing value scores 0 and raises ':missing', as for every similarity.
    assert score.tolist() == [0.0, 0.0]
    assert missing.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["token_overlap", "code_jaccard", "code_disjoint", "length_ratio"])
def test_a_column_missing_everywhere_scores_zero(name):
    # No value on either side: an empty vocabulary; every pair scores 0 and is flagged missing.
    score, missing = scores(name, [None, ""], [None, None])
    assert score.tolist() == [0.0, 0.0]
    assert missing.tolist() == [1.0, 1.0]
