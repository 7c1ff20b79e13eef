"""Behaviours that the mutation run showed untested in similarity/auto, functions, map and record.

Each test pins a rule a user of ``similarity=auto`` or of a hand-written map relies on, with
small values worked out by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap
from lossmatch.similarity.auto import infer_map, profile_columns, resolve_similarity_map
from lossmatch.similarity.functions import _to_text, column_texts, get_similarity
from lossmatch.similarity.record import record_text

ONE_SIDED = ["token_overlap", "code_overlap"]


def words(n: int) -> str:
    """A text of ``n`` plain words (no digits: no code words)."""
    return " ".join(["word"] * n)


# ----------------------------------------------------------------------------- auto: profiles


def test_missing_shares_are_rounded_to_four_decimals():
    # 1 missing of 7 rows on each side: 1/7 = 0.142857... -> 0.1429 (4 decimals, as the other shares).
    left = pd.DataFrame({"t": ["a", "b", "c", "d", "e", "f", None]})
    right = pd.DataFrame({"t": [None, "a", "b", "c", "d", "e", "f"]})
    (profile,) = profile_columns(left, right)
    assert (profile.missing_left, profile.missing_right) == (0.1429, 0.1429)


@pytest.mark.parametrize("side", ["left", "right"])
def test_duplicate_columns_name_the_table_that_has_them(side):
    plain = pd.DataFrame({"a": ["x"]})
    doubled = pd.DataFrame([["x", "y"]], columns=["a", "a"])
    tables = (doubled, plain) if side == "left" else (plain, doubled)
    with pytest.raises(InputError, match=rf"the {side} table has duplicate column\(s\) \['a'\]"):
        profile_columns(*tables)


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_record_named_column_names_its_table_and_the_fix(side):
    plain = pd.DataFrame({"a": ["x"]})
    starred = pd.DataFrame({"a": ["x"], "*": ["y"]})
    tables = (starred, plain) if side == "left" else (plain, starred)
    with pytest.raises(InputError, match=rf"the {side} table has a column named '\*'.*; rename it\.$"):
        profile_columns(*tables)


# ----------------------------------------------------------------------------- auto: the inferred keys


def test_two_compared_columns_get_cross_entries_but_long_text_does_not():
    # Exactly two compared columns (the smallest count that gets cross entries): "title" is text,
    # "desc" is long (25 words >= 20), and long text is already the bulk of the record.
    left = pd.DataFrame({"title": ["red pen", "blue ink"], "desc": [words(25), words(25)]})
    right = pd.DataFrame({"title": ["red pen", "ink blue"], "desc": [words(25), words(25)]})
    spec = infer_map(left, right)
    assert spec["title~*"] == ["token_overlap"] and spec["*~title"] == ["token_overlap"]
    assert "desc~*" not in spec and "*~desc" not in spec


def test_a_right_only_column_is_compared_with_the_left_record():
    left = pd.DataFrame({"title": ["red pen", "blue ink"]})
    right = pd.DataFrame({"title": ["red pen", "ink blue"], "extra": ["pen 2", "ink 7"]})
    spec = infer_map(left, right)
    assert spec["*~extra"] == ONE_SIDED
    assert "extra~*" not in spec and "extra" not in spec


@pytest.mark.parametrize("side", ["left", "right"])
def test_no_map_when_one_table_has_no_column_with_values(side):
    # Only one table has a column with values: "*~b" (or "b~*") alone would compare it with a record
    # of no column, which SimilarityMap refuses later with a confusing message (issue 11). The
    # inference says itself that nothing can be compared, naming the column and its table.
    empty, full = pd.DataFrame({"a": [None, None]}), pd.DataFrame({"b": ["x", "y"]})
    left, right = (empty, full) if side == "left" else (full, empty)
    full_side = "right" if side == "left" else "left"
    with pytest.raises(InputError, match=f"nothing can be compared, the {side} table has no column with values") as err:
        infer_map(left, right)
    assert f"'a' is only in the {side} table, and empty there" in str(err.value)
    assert f"'b' is only in the {full_side} table" in str(err.value)


@pytest.mark.parametrize(("n_words", "left_missing", "right_missing", "fuzzy"), [
    # Present values of 80 words; left 1 of 4 missing, right 3 of 4: a record holds on average
    # 80 * (1 - (0.25 + 0.75) / 2) = 40 words <= 40 (the inclusive bound): token_set_ratio stays.
    (80, 1, 3, True),
    # 60 words, 1 of 4 missing per side: 60 * (1 - (0.25 + 0.25) / 2) = 45 > 40: no rapidfuzz scorer.
    (60, 1, 1, False),
])
def test_record_fuzz_scorer_follows_the_expected_record_length(n_words, left_missing, right_missing, fuzzy):
    left = pd.DataFrame({"t": [words(n_words)] * (4 - left_missing) + [None] * left_missing})
    right = pd.DataFrame({"t": [None] * right_missing + [words(n_words)] * (4 - right_missing)})
    assert ("token_set_ratio" in infer_map(left, right)["*"]) is fuzzy


def test_context_budget_counts_left_times_right_records_inclusively():
    # 2 distinct left records x 3 distinct right records = 6 cells <= max_context_cells 6: word
    # TF-IDF gets context; characters get 6 // 5 = 1 cell, less than 6: none.
    left = pd.DataFrame({"t": ["red pen", "blue ink", "red pen"]})
    right = pd.DataFrame({"t": ["red pen", "ink blue", "green cap"]})
    spec = infer_map(left, right, max_context_cells=6)
    assert spec["*"][:2] == [{"name": "tfidf_word", "context": True}, "tfidf_char"]


def test_auto_options_and_ignore_reach_the_inferred_map():
    left = pd.DataFrame({"id": [1, 2], "t": ["red pen", "blue ink"]})
    right = pd.DataFrame({"id": [3, 4], "t": ["red pen", "ink blue"]})
    config = {"auto": True, "map": None, "auto_options": {"context": False, "max_context_cells": 10}}
    spec = resolve_similarity_map(config, left, right, ignore=["id"]).to_dict()
    assert "id" not in spec  # the ignored id column is not profiled
    # context: false -> the whole record's TF-IDF cosines come without context features.
    assert spec["*"][:2] == ["tfidf_word", "tfidf_char"]


# ----------------------------------------------------------------------------- functions


def test_cell_text_contract():
    # "" is missing; a whole float (also a numpy one in an object column) reads as an integer.
    assert _to_text(None) == "" and _to_text(math.nan) == ""
    assert _to_text(np.float32(4223.0)) == "4223" and _to_text(np.float64(1.5)) == "1.5"


def test_numpy_floats_in_an_object_column_compare_as_their_text():
    left = pd.Series([np.float32(4223.0), np.float32(2.5)], dtype=object)
    assert column_texts(left).tolist() == ["4223", "2.5"]
    sm = SimilarityMap({"a~b": ["exact"]})
    out = sm.transform(pd.DataFrame({"a": left}), pd.DataFrame({"b": ["4223", "2.5"]}), [0, 1], [0, 1])
    # exact = 1 on both pairs, missing indicator 0.
    assert out.tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_unknown_parameter_lists_the_accepted_ones():
    with pytest.raises(InputError, match=r"accepted: lowercase, ngram_range, sublinear_tf\.$"):
        get_similarity("tfidf_word").resolve_params({"bogus": 1})


def test_token_jaccard_context_features_by_hand():
    # Left "x y", "z"; right "x y", "x". Token Jaccard: L0-R0 = 1, L0-R1 = |{x}| / |{x,y}| = 0.5,
    # L1-R0 = L1-R1 = 0.
    # Pair (L0, R0): score 1; L0's best is R0, runner-up R1 (0.5): margin_left = 1 - 0.5 = 0.5;
    #   R0's best is L0, runner-up L1 (0): margin_right = 1; mutual best: 1.
    # Pair (L0, R1): score 0.5; L0's best other is R0 (1): margin_left = -0.5; R1's best is L0,
    #   runner-up L1 (0): margin_right = 0.5; mutual best 0 (L0 prefers R0).
    sm = SimilarityMap({"a~b": [{"name": "token_jaccard", "context": True}]})
    out = sm.transform(pd.DataFrame({"a": ["x y", "z"]}), pd.DataFrame({"b": ["x y", "x"]}), [0, 0], [0, 1])
    # columns: score, margin_left, margin_right, mutual_best, missing
    np.testing.assert_allclose(out, [[1.0, 0.5, 1.0, 1.0, 0.0], [0.5, -0.5, 0.5, 0.0, 0.0]])


# ----------------------------------------------------------------------------- map and record


@pytest.mark.parametrize(("key", "side"), [("*~b", "left"), ("a~*", "right")])
def test_record_without_columns_names_the_side(key, side):
    with pytest.raises(InputError, match=rf"stands for the {side} record.*no key names a {side} column"):
        SimilarityMap({key: ["token_overlap"]})


def test_validate_checks_the_pairs_after_a_record_pair():
    # The pair "*~b" (left record) comes first; "x" after it must still be looked up in the left table.
    sm = SimilarityMap({"*~b": ["token_overlap"], "x": ["exact"]})
    with pytest.raises(InputError, match=r"Column 'x' .* is not in the left table"):
        sm.validate(pd.DataFrame({"a": ["p"]}), pd.DataFrame({"b": ["q"], "x": ["r"]}))


def test_context_on_a_plain_similarity_lists_the_vector_ones():
    with pytest.raises(InputError, match=r"context needs a vector similarity \(([a-z0-9_]+, )+[a-z0-9_]+\), not 'exact'"):
        SimilarityMap({"a": [{"name": "exact", "context": True}]})


def test_record_text_keeps_the_table_index():
    frame = pd.DataFrame({"a": ["red", None], "b": ["pen", "ink"]}, index=[10, 11])
    record = record_text(frame, ["a", "b"])
    assert record.index.tolist() == [10, 11] and record.tolist() == ["red pen", "ink"]
