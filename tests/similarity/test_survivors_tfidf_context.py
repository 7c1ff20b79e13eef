"""Behaviours of TF-IDF vectors, pair/table scores and table-context features that the mutation run
showed untested: defaults, chunk and block boundaries, empty sets, one-candidate tables, a side
with no value at all, and the dense/sparse split of table scores."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lossmatch.similarity import SimilarityMap
from lossmatch.similarity import context as context_module
from lossmatch.similarity import tfidf as tfidf_module
from lossmatch.similarity.tfidf import TableScores, pair_scores, rowwise_dot, tfidf_vectors

CONTEXT_MAP = {"t": [{"name": "token_overlap", "context": True}]}
CONTEXT_NAMES = ("t~t:token_overlap:margin_left", "t~t:token_overlap:margin_right", "t~t:token_overlap:mutual_best")


def features(sm, left, right, lp, rp):
    out = sm.transform(left, right, np.asarray(lp), np.asarray(rp))
    return dict(zip(sm.feature_names, out.T))


# ----------------------------------------------------------------------------- tfidf.py


def test_tfidf_default_weights_raw_term_counts():
    # One document "aa aa b": idf = ln((1 + 1) / (1 + 1)) + 1 = 1 for both words, so the row is the
    # term counts (aa: 2, b: 1) L2-normalised: (2, 1) / sqrt(5). Sublinear tf would give 1 + ln 2 for aa.
    row = tfidf_vectors(np.array(["aa aa b"]), analyzer="word", ngram_range=(1, 1)).toarray()[0]
    assert sorted(row) == pytest.approx([1 / math.sqrt(5), 2 / math.sqrt(5)])


def test_char_tfidf_emits_no_warning():
    # The word pattern is for the word analyzer only; passed to char_wb, scikit-learn warns that it
    # is unused, once per similarity column: noise in every run's log.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        matrix = tfidf_vectors(np.array(["sony a100", "sony"]), analyzer="char_wb", ngram_range=(2, 3))
    assert matrix.shape[0] == 2


def test_rowwise_dot_across_chunk_boundaries(monkeypatch):
    # Rows of the identity: row k . row k = 1, row k . row k+1 = 0. Five pairs in chunks of 2
    # (0-1, 2-3, 4) must give every pair's own dot product: [1, 0, 1, 0, 1].
    monkeypatch.setattr(tfidf_module, "_CHUNK", 2)
    matrix = sp.identity(3, format="csr", dtype=np.float64)
    left = np.array([0, 0, 1, 1, 2])
    right = np.array([0, 1, 1, 2, 2])
    assert rowwise_dot(matrix, left, right).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_cosine_of_a_value_with_itself_is_at_most_one():
    # Character n-gram rows are L2-normalised, but their self dot product can round above 1
    # (1.0000000000000002 for "sony a100"): a cosine must stay in [0, 1].
    values = np.array(["sony a100", "canon 5d mk2", "apple ipod nano 8gb", "red", "x", "acme ltd", "abc abd",
                       "the the the", "aaaa", "hello world", "nikon d40 kit lens", "samsung galaxy s3"])
    matrix = tfidf_vectors(values, analyzer="char_wb", ngram_range=(2, 4))
    rows = np.arange(len(values))
    assert rowwise_dot(matrix, rows, rows).max() > 1.0  # the float error this guards against
    scores = pair_scores(matrix, "cosine", rows, rows)
    assert scores.max() <= 1.0
    assert scores == pytest.approx(np.ones(len(values)))


@pytest.mark.parametrize("measure", ["jaccard", "overlap"])
def test_empty_token_sets_score_zero(measure):
    # Rows 0 and 1 are empty sets (e.g. values without any code), row 2 is {x}.
    # jaccard(empty, empty) = 0 / 0 and overlap(empty, {x}) = 0 / min(0, 1): no evidence, score 0.
    matrix = sp.csr_matrix(np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    scores = pair_scores(matrix, measure, np.array([0, 0, 2]), np.array([1, 2, 2]))
    # (2, 2): {x} with itself, 1 / 1.
    assert scores.tolist() == [0.0, 0.0, 1.0]


def test_set_scores_of_an_all_missing_column_are_zero():
    # No value at all: the vectors are a 0 x 0 matrix and every pair reads row 0 of it.
    empty = sp.csr_matrix((0, 0), dtype=np.float64)
    assert pair_scores(empty, "jaccard", np.array([0, 0]), np.array([0, 0])).tolist() == [0.0, 0.0]
    sm = SimilarityMap({"t": [{"name": "token_jaccard", "context": True}]})
    f = features(sm, pd.DataFrame({"t": [None, None]}), pd.DataFrame({"t": [None]}), [0, 1], [0, 0])
    assert f["t~t:token_jaccard"].tolist() == [0.0, 0.0]
    assert f["t~t:missing"].tolist() == [1.0, 1.0]


# Sets as 0/1 rows over tokens (a, b, c, d): R0 {a, b}, R1 {a, c}, R2 {d}; L0 {a, b}, L1 {c, d}.
# Jaccard |A & B| / |A | B|:
#            R0      R1      R2
#   L0 {a,b}  1      1/3     0
#   L1 {c,d}  0      1/3     1/2
SETS = sp.csr_matrix(np.array([
    [1, 1, 0, 0],  # R0
    [1, 0, 1, 0],  # R1
    [0, 0, 0, 1],  # R2
    [1, 1, 0, 0],  # L0
    [0, 0, 1, 1],  # L1
], dtype=np.float64))
SETS_JACCARD = np.array([[1.0, 1 / 3, 0.0], [0.0, 1 / 3, 0.5]])


@pytest.mark.parametrize("options", [
    {},  # every feature is in more than 5 % of 3 candidates: all dense
    {"dense_share": 1.0},  # no feature is in more than all candidates: all sparse
    {"max_dense_cells": 4},  # budget 4 // 3 = 1 dense feature, the rest sparse
])
def test_table_scores_do_not_depend_on_the_dense_split(options):
    table = TableScores(SETS, "jaccard", np.array([0, 1, 2]), **options)
    assert table.scores(np.array([3, 4])) == pytest.approx(SETS_JACCARD)


# ----------------------------------------------------------------------------- context.py


def test_context_features_scored_one_row_per_block(monkeypatch):
    # Same tables and hand-derived values as test_context_features_by_hand (test_record_context.py),
    # with blocks of one row (4M cells -> 1 cell): every row of both tables is scored.
    monkeypatch.setattr(context_module, "_BLOCK_CELLS", 1)
    left = pd.DataFrame({"t": ["a b", "c d"]})
    right = pd.DataFrame({"t": ["a b", "a c", "x"]})
    f = features(SimilarityMap(CONTEXT_MAP), left, right, [0, 0, 1, 1], [0, 1, 1, 2])
    assert f["t~t:token_overlap:margin_left"] == pytest.approx([0.5, -0.5, 0.5, -0.5])
    assert f["t~t:token_overlap:margin_right"] == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert f["t~t:token_overlap:mutual_best"].tolist() == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("swap", [False, True])
def test_context_against_a_table_of_one_value(swap):
    # Left "a b", "c d"; right only "a c". token_overlap: (L0, R0) = (L1, R0) = 1 / min(2, 2) = 1/2.
    # Left side: R0 is each left record's best and there is no other right record, so the
    #   runner-up is 0: margin_left = 1/2 - 0 for both pairs.
    # Right side: R0 ties L0 and L1 at 1/2; the first, L0, is its best and the runner-up is 1/2:
    #   margin_right = 1/2 - 1/2 = 0 for both. Only (L0, R0) are each other's best.
    many, one = pd.DataFrame({"t": ["a b", "c d"]}), pd.DataFrame({"t": ["a c"]})
    sm = SimilarityMap(CONTEXT_MAP)
    if swap:  # the same pairs seen from the other side: left and right margins trade places
        f = features(sm, one, many, [0, 0], [0, 1])
        margin_many, margin_one = f[CONTEXT_NAMES[1]], f[CONTEXT_NAMES[0]]
    else:
        f = features(sm, many, one, [0, 1], [0, 0])
        margin_many, margin_one = f[CONTEXT_NAMES[0]], f[CONTEXT_NAMES[1]]
    assert margin_many == pytest.approx([0.5, 0.5])
    assert margin_one == pytest.approx([0.0, 0.0])
    assert f[CONTEXT_NAMES[2]].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("missing_side", ["left", "right"])
def test_context_is_zero_when_one_table_has_no_value(missing_side):
    # Every value of one column is missing: there is no candidate to compare with, every context
    # feature is 0 and ':missing' flags the pairs (no error).
    full, empty = pd.DataFrame({"t": ["a b", "c d"]}), pd.DataFrame({"t": [None, None]})
    left, right = (empty, full) if missing_side == "left" else (full, empty)
    f = features(SimilarityMap(CONTEXT_MAP), left, right, [0, 1], [1, 0])
    for name in CONTEXT_NAMES:
        assert f[name].tolist() == [0.0, 0.0], name
    assert f["t~t:missing"].tolist() == [1.0, 1.0]
