"""The similarity functions called directly on ColumnValues, below the similarity map.

test_functions.py checks each similarity through SimilarityMap.transform, which zeroes
missing pairs and casts to float32 on its own; here each ``compute`` keeps its own promise:
float32 scores, 0 (not NaN) for what it cannot compare, parameters that reach the
library, and no floating-point warnings (a user running with warnings as errors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import distance, fuzz
from sklearn.feature_extraction.text import TfidfVectorizer

from lossmatch.errors import InputError
from lossmatch.similarity.functions import (
    REQUIRED,
    ColumnValues,
    Similarity,
    _exact,
    _gaussian,
    _numeric_abs,
    _rapidfuzz,
    _tfidf,
    _to_number,
    _token_jaccard,
    get_similarity,
    register,
)
from lossmatch.similarity.tfidf import binary_token_vectors, rowwise_dot, tfidf_vectors


def values(left, right):
    """Aligned pairs (left[i], right[i]) as the map would prepare them."""
    return ColumnValues(pd.Series(left, dtype=object), pd.Series(right, dtype=object),
                        np.arange(len(left)), np.arange(len(right)))


def compute(fn, left, right, **params):
    # np.errstate(all="raise"): a division by zero or 0/0 inside must be handled, not warned.
    with np.errstate(all="raise"):
        out = fn(values(left, right), **params)
    assert out.dtype == np.float32 and out.shape == (len(left),)
    return out


def test_rapidfuzz_factory_passes_scorer_multiplier_and_parameters():
    ratio = _rapidfuzz(fuzz.ratio, 0.01)
    # fuzz.ratio("martha", "marhta") = 100 * 2 * 5 / 12, scaled by 0.01.
    np.testing.assert_allclose(compute(ratio, ["martha", "abc"], ["marhta", "abc"]), [10 / 12, 1.0], rtol=1e-6)
    jw = _rapidfuzz(distance.JaroWinkler.normalized_similarity, 1.0)
    # Jaro 17/18 with the common prefix "mar" (3): 17/18 + 3·p·(1 − 17/18), p = 0.1 by default, 0.25 given.
    np.testing.assert_allclose(compute(jw, ["martha"], ["marhta"]), [17 / 18 + 0.3 / 18], rtol=1e-6)
    np.testing.assert_allclose(compute(jw, ["martha"], ["marhta"], prefix_weight=0.25), [17 / 18 + 0.75 / 18],
                               rtol=1e-6)
    # workers=1 gives the same numbers as all cores.
    np.testing.assert_array_equal(compute(ratio, ["ab", "cd"], ["ab", "ce"], workers=1), [1.0, 0.5])


def test_exact_compares_whole_stripped_values():
    # " nsw " equals "nsw" (formatting noise); "NSW" does not (case is content); 4223.0 reads as 4223.
    assert compute(_exact, [" nsw ", "NSW", 4223.0], ["nsw", "nsw", "4223"]).tolist() == [1.0, 0.0, 1.0]


def test_numeric_abs_edges():
    # both 0 -> 1 (identical); "1,299" parses as 1299; unparsable or infinite -> 0, not NaN.
    out = compute(_numeric_abs, ["0", "1,299", "inf", "x", "10"], ["0", "1299", "inf", "1", "8"])
    np.testing.assert_allclose(out, [1.0, 1.0, 0.0, 0.0, 0.8], rtol=1e-6)


def test_number_parsing():
    assert _to_number("1,299") == 1299.0
    assert _to_number("$ 12.50") == 12.5 and _to_number("4.5 %") == 4.5 and _to_number("-3e2") == -300.0
    for text in ("", "inf", "-inf", "nan", "10-12", "abc"):
        assert np.isnan(_to_number(text)), text


def test_gaussian_edges():
    # exp(−((1 − 3) / 2)² / 2) = exp(−0.5); an unparsable value gives 0, not NaN.
    np.testing.assert_allclose(compute(_gaussian, ["1", "x"], ["3", "1"], scale=2.0), [np.exp(-0.5), 0.0],
                               rtol=1e-6)


def test_token_jaccard_edges():
    # Tokens are case-sensitive: {A, b} & {a, b} = {b} of {A, a, b}; an empty column gives 0.
    np.testing.assert_allclose(compute(_token_jaccard, ["A b", ""], ["a b", "x"]), [1 / 3, 0.0], rtol=1e-6)
    assert compute(_token_jaccard, ["", ""], ["", ""]).tolist() == [0.0, 0.0]


def _reference_cosine(left, right, **options):
    """Cosine of scikit-learn TF-IDF rows fitted on the distinct values of both columns."""
    vocabulary = list(dict.fromkeys([*left, *right]))
    vectors = TfidfVectorizer(**options).fit_transform(vocabulary)
    rows = {v: vectors[i] for i, v in enumerate(vocabulary)}
    return np.array([rows[a].multiply(rows[b]).sum() for a, b in zip(left, right)])


@pytest.mark.parametrize(
    ("ngram_range", "lowercase", "sublinear_tf"),
    [((2, 4), True, False), ((3, 3), True, False), ((2, 4), False, False), ((1, 2), True, True)],
)
def test_tfidf_char_parameters_reach_scikit_learn(ngram_range, lowercase, sublinear_tf):
    left, right = ["ABCD", "abcd abcd", "smith jon"], ["abcd", "abcd", "smyth john"]
    expected = _reference_cosine(left, right, analyzer="char_wb", ngram_range=ngram_range, lowercase=lowercase,
                                 sublinear_tf=sublinear_tf)
    out = compute(_tfidf("char_wb"), left, right, ngram_range=list(ngram_range), lowercase=lowercase,
                  sublinear_tf=sublinear_tf)
    np.testing.assert_allclose(out, np.minimum(expected, 1.0), rtol=1e-5)


def test_tfidf_word_counts_one_character_words():
    # "a b" and "a c" share the word "a": scikit-learn's default pattern would drop it.
    left, right = ["a b", "john smith smith"], ["a c", "john smith"]
    for sublinear_tf in (False, True):
        expected = _reference_cosine(left, right, analyzer="word", token_pattern=r"(?u)\b\w+\b",
                                     sublinear_tf=sublinear_tf)
        out = compute(_tfidf("word"), left, right, ngram_range=[1, 1], lowercase=True, sublinear_tf=sublinear_tf)
        np.testing.assert_allclose(out, expected, rtol=1e-5)
        assert out[0] > 0


def test_tfidf_vectors_edge_cases():
    empty = tfidf_vectors(np.array([], dtype=object), analyzer="char_wb", ngram_range=(2, 4))
    assert empty.shape == (0, 0) and empty.dtype == np.float64
    # Only punctuation: no word at all, so every row is empty (cosine 0) rather than an error.
    no_words = tfidf_vectors(np.array(["!!", "??"], dtype=object), analyzer="word", ngram_range=(1, 1))
    assert no_words.shape == (2, 1) and no_words.dtype == np.float64 and no_words.nnz == 0
    # Defaults: lowercase, raw term frequency.
    vectors = tfidf_vectors(np.array(["AB ab", "ab"], dtype=object), analyzer="word", ngram_range=(1, 1))
    assert vectors.shape == (2, 1) and vectors.dtype == np.float64
    np.testing.assert_allclose(vectors.toarray(), [[1.0], [1.0]])


def test_binary_token_vectors():
    assert binary_token_vectors(np.array([], dtype=object)).shape == (0, 0)
    # Case-sensitive sets of whitespace tokens, 0/1 (a repeated token counts once), float64.
    vectors = binary_token_vectors(np.array(["A a a", "a"], dtype=object))
    assert vectors.dtype == np.float64
    np.testing.assert_array_equal(vectors.toarray(), [[1.0, 1.0], [0.0, 1.0]])


def test_rowwise_dot_in_chunks(monkeypatch):
    import lossmatch.similarity.tfidf as tfidf

    matrix = tfidf_vectors(np.array(["ab", "abc", "xyz"], dtype=object), analyzer="char_wb", ngram_range=(2, 2))
    left, right = np.array([0, 1, 2, 0, 1]), np.array([1, 1, 2, 2, 0])
    expected = np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).reshape(-1)
    # Chunks of 2 pairs give the same dot products as one pass.
    monkeypatch.setattr(tfidf, "_CHUNK", 2)
    np.testing.assert_allclose(rowwise_dot(matrix, left, right), expected, rtol=1e-12)
    assert rowwise_dot(matrix[:0], np.array([0]), np.array([0])).tolist() == [0.0]


def test_register_and_get(monkeypatch):
    import lossmatch.similarity.functions as functions

    monkeypatch.setattr(functions, "_REGISTRY", dict(functions._REGISTRY))
    new = Similarity("always_one", lambda v, **_: np.ones(len(v), np.float32), doc="1")
    assert register(new) is new and get_similarity("always_one") is new
    with pytest.raises(ValueError, match=r"^similarity 'always_one' is already registered$"):
        register(Similarity("always_one", new.compute))
    assert get_similarity("always_one") is new


def test_parameters_resolved_and_checked():
    # Defaults filled in, given values kept.
    assert get_similarity("tfidf_char").resolve_params({"ngram_range": [3, 3]}) == {
        "ngram_range": [3, 3], "lowercase": True, "sublinear_tf": False}
    assert get_similarity("exact").resolve_params({}) == {}
    with pytest.raises(InputError, match=r"^Similarity 'exact' got unknown parameter\(s\) \['x'\]; accepted: none\.$"):
        get_similarity("exact").resolve_params({"x": 1})
    with pytest.raises(InputError, match=r"^Similarity 'jaro_winkler' got unknown parameter\(s\) \['a', 'b'\]; "
                                        r"accepted: prefix_weight\.$"):
        get_similarity("jaro_winkler").resolve_params({"b": 1, "a": 2})
    assert repr(REQUIRED) == "REQUIRED"
    for bad in (0.3, -0.1, "0.1", None):
        with pytest.raises(InputError, match=r"^jaro_winkler prefix_weight must be a number in \[0, 0\.25\], got "):
            get_similarity("jaro_winkler").resolve_params({"prefix_weight": bad})
    for good in (0, 0.25):
        assert get_similarity("jaro_winkler").resolve_params({"prefix_weight": good}) == {"prefix_weight": good}
    for bad in (True, 0, -1.0, float("inf"), "2"):
        with pytest.raises(InputError, match=r"^gaussian scale must be a positive number, got "):
            get_similarity("gaussian").resolve_params({"scale": bad})
    for key in ("lowercase", "sublinear_tf"):
        with pytest.raises(InputError, match=rf"^{key} must be true or false, got 1\.$"):
            get_similarity("tfidf_word").resolve_params({key: 1})
    for bad in ([1], [0, 1], [2, 1], [1.0, 2], [True, 2], "12", (1, 2, 3)):
        with pytest.raises(InputError, match=r"^ngram_range must be two integers \[low, high\] with 1 <= low <= high"):
            get_similarity("tfidf_char").resolve_params({"ngram_range": bad})
