"""Each similarity against values worked out by hand, through SimilarityMap.transform."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap, available_similarities


def score(name, left, right, **params):
    """Scores of one similarity on aligned lists, plus the missing indicator."""
    entry = {"name": name, **params} if params else name
    sm = SimilarityMap({"a~b": [entry]})
    out = sm.transform(pd.DataFrame({"a": left}), pd.DataFrame({"b": right}),
                       np.arange(len(left)), np.arange(len(right)))
    return out[:, 0], out[:, 1]


# (similarity, left, right, expected score, the arithmetic)
HAND_CHECKED = [
    ("levenshtein", "kitten", "sitting", 1 - 3 / 7),  # k->s, e->i, +g: 3 edits over max length 7
    ("damerau_levenshtein", "ca", "abc", 1 - 2 / 3),  # ca -> ac (transposition) -> abc (insert): 2 / 3
    ("osa", "ca", "abc", 0.0),  # no edits on a transposed substring: 3 edits / 3
    ("indel", "kitten", "sitting", 1 - 5 / 13),  # 5 insertions/deletions over 6 + 7 characters
    ("lcsseq", "kitten", "sitting", 4 / 7),  # longest common subsequence "ittn": 4 / max length 7
    ("jaro", "martha", "marhta", (6 / 6 + 6 / 6 + (6 - 1) / 6) / 3),  # m=6, one transposition
    ("jaro_winkler", "martha", "marhta", 17 / 18 + 3 * 0.1 * (1 - 17 / 18)),  # jaro + prefix "mar" l=3, p=0.1
    ("hamming", "karolin", "kathrin", 1 - 3 / 7),  # 3 differing positions of 7
    ("prefix", "abcd", "abxy", 2 / 4),  # common prefix "ab"
    ("postfix", "xycd", "abcd", 2 / 4),  # common suffix "cd"
    ("ratio", "this is a test", "this is a test!", 2 * 14 / 29),  # indel: 2 * 14 matches / (14 + 15)
    ("QRatio", "this is a test", "this is a test!", 2 * 14 / 29),  # same as ratio on non-empty strings
    ("partial_ratio", "abc", "xxabcxx", 1.0),  # "abc" occurs in full
    ("token_sort_ratio", "new york mets", "mets new york", 1.0),  # same sorted tokens
    ("token_set_ratio", "fuzzy was a bear", "fuzzy fuzzy was a bear", 1.0),  # same token set
    ("partial_token_sort_ratio", "b a", "a b c", 1.0),  # "a b" is a part of "a b c"
    ("partial_token_set_ratio", "a b", "a b c d", 1.0),  # a shared token gives 100
    ("WRatio", "new york mets", "new york mets", 1.0),  # identical
    ("exact", "nsw", "nsw", 1.0),
    ("exact", "nsw", "vic", 0.0),
    ("token_jaccard", "a b c", "b c d", 2 / 4),  # {b, c} / {a, b, c, d}
    ("token_jaccard", "a a b", "a b", 1.0),  # sets, not counts
    ("numeric_abs", "10", "8", 1 - 2 / 10),  # 1 - |10 - 8| / max(10, 8)
    ("numeric_abs", "$12.50", "12.5", 1.0),  # a currency sign around one number still parses
    ("numeric_abs", "4", "-4", 0.0),  # 1 - 8 / 4 = -1, clipped to 0
]


@pytest.mark.parametrize(("name", "left", "right", "expected"), HAND_CHECKED)
def test_hand_checked_value(name, left, right, expected):
    scores, missing = score(name, [left], [right])
    # The value matches the hand arithmetic and nothing is flagged missing.
    assert scores[0] == pytest.approx(expected, abs=1e-6)
    assert missing[0] == 0.0


def test_numeric_abs_both_zero_is_identical():
    # 0 vs 0 would be 0/0; the documented choice is 1.
    assert score("numeric_abs", [0], [0.0])[0][0] == 1.0


def test_gaussian():
    scores, _ = score("gaussian", [10, 3], [12, 3], scale=2.0)
    # exp(-((10 - 12) / 2)^2 / 2) = exp(-0.5); equal values give exp(0) = 1.
    assert scores == pytest.approx([math.exp(-0.5), 1.0])


def test_gaussian_needs_positive_scale():
    # No default scale exists for arbitrary units, and it must be positive.
    missing = "In similarity map key 'x': Similarity 'gaussian' needs parameter(s) ['scale'], e.g. {name: gaussian, scale: ...}."
    with pytest.raises(InputError, match=f"^{re.escape(missing)}$"):
        SimilarityMap({"x": ["gaussian"]})
    with pytest.raises(InputError, match=r"^In similarity map key 'x': gaussian scale must be a positive number, got 0\.$"):
        SimilarityMap({"x": [{"name": "gaussian", "scale": 0}]})


def test_numbers_become_text_for_string_similarities():
    # 4223.0 (a float from a CSV column with gaps) is "4223", equal to the int and the string.
    scores, missing = score("exact", [4223.0, 4223, " 4223 "], ["4223", 4223.0, 4223])
    assert scores.tolist() == [1.0, 1.0, 1.0]
    assert missing.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["levenshtein", "jaro_winkler", "exact", "token_set_ratio", "token_jaccard",
                                  "tfidf_char", "tfidf_word", "numeric_abs"])
def test_missing_values_score_zero_and_raise_the_indicator(name):
    left = ["1", None, "1", np.nan, "   ", ""]
    right = ["1", "1", None, "1", "1", "1"]
    scores, missing = score(name, left, right)
    # The complete pair is identical; every pair with None, NaN, blank or "" is 0 and flagged.
    assert scores.tolist() == [1.0, 0, 0, 0, 0, 0]
    assert missing.tolist() == [0.0, 1, 1, 1, 1, 1]


def test_unparsable_number_counts_as_missing():
    scores, missing = score("numeric_abs", ["5", "n/a", "10-12", "4.5 %"], ["5", "5", "11", "4.5"])
    # "n/a" has no number and "10-12" has two: both missing; "4.5 %" is 4.5.
    assert scores.tolist() == [1.0, 0.0, 0.0, 1.0]
    assert missing.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_tfidf_is_cosine_in_unit_range():
    scores, _ = score("tfidf_word", ["acme corp", "acme corp", "acme corp"], ["acme corp", "corp acme", "zeta inc"])
    # Same words (in any order) give cosine 1; no shared word gives 0.
    assert scores == pytest.approx([1.0, 1.0, 0.0])


def test_tfidf_word_hand_value():
    # Vocabulary over the union {"a b", "a c"}: idf(a) = 1 + ln(3/3) = 1, idf(b) = idf(c) = 1 + ln(3/2).
    # cos = 1 / (1 + idf_b^2), since both vectors are (1, idf) in their own 2-dim subspace.
    idf = 1 + math.log(3 / 2)
    scores, _ = score("tfidf_word", ["a b"], ["a c"])
    assert scores[0] == pytest.approx(1 / (1 + idf**2), abs=1e-6)


def test_tfidf_char_params():
    scores, _ = score("tfidf_char", ["abcd"], ["abce"], ngram_range=[3, 3])
    # char_wb 3-grams of " abcd ": " ab", "abc", "bcd", "cd " -> share " ab", "abc" with " abce ".
    assert 0 < scores[0] < 1
    expected = "ngram_range must be two integers [low, high] with 1 <= low <= high, got [3, 2]."
    with pytest.raises(InputError, match=f"^In similarity map key 'x': {re.escape(expected)}$"):
        SimilarityMap({"x": [{"name": "tfidf_char", "ngram_range": [3, 2]}]})


def test_available_similarities_lists_the_spec():
    expected = {
        "levenshtein", "damerau_levenshtein", "indel", "jaro", "jaro_winkler", "hamming", "lcsseq", "osa",
        "prefix", "postfix", "ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio",
        "partial_token_sort_ratio", "partial_token_set_ratio", "WRatio", "QRatio", "exact", "numeric_abs",
        "gaussian", "token_jaccard", "tfidf_char", "tfidf_word",
        # tokens.py
        "token_overlap", "code_jaccard", "code_overlap", "code_disjoint", "length_ratio", "missing_left",
        "missing_right",
    }
    assert set(available_similarities()) == expected


@pytest.mark.parametrize("name", sorted(set(available_similarities()) - {"gaussian"}))
def test_every_similarity_is_in_unit_range(name):
    left = ["anna smith", "12", "x", "bob", "1.5"]
    right = ["smith anna", "13", "xyz", "robert", "-2"]
    scores, _ = score(name, left, right)
    # Scaled to [0, 1] and float32, whatever the scorer's native range.
    assert scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()
