"""Long text at the size of DeepMatcher's Company set: the faster paths give the same numbers, bit for bit.

Each check compares a fast path with the definition it replaces on random Unicode strings that
hit the edge cases (upper case that lower-cases to two characters, tabs and runs of spaces,
superscript and fraction digits, one-letter words).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from lossmatch.similarity import tfidf
from lossmatch.similarity import words as words_module
from lossmatch.similarity.functions import ColumnValues, get_similarity
from lossmatch.similarity.map import SimilarityMap
from lossmatch.similarity.record import record_text
from lossmatch.similarity.tokens import _binary_vectors, _codes, code_tokens
from lossmatch.similarity.words import _WORD, shared_word_sets
from lossmatch.similarity.words import words as _words

ALPHABET = list("abcdeé İIAB12 \t\n  .,-ß²½三ﬁ")


def _random_texts(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(ALPHABET, size=rng.integers(1, 40))).strip() for _ in range(n)]
    return np.array(list(dict.fromkeys(t for t in texts if t)), dtype=object)


@pytest.mark.parametrize("ngram_range", [(1, 1), (2, 4), (3, 5)])
@pytest.mark.parametrize("lowercase,sublinear_tf", [(True, False), (False, True)])
def test_char_tfidf_counted_per_word_is_scikit_learns_matrix_to_the_last_bit(ngram_range, lowercase, sublinear_tf):
    values = _random_texts(800)
    ours = tfidf.tfidf_vectors(values, analyzer="char_wb", ngram_range=ngram_range, lowercase=lowercase,
                               sublinear_tf=sublinear_tf)
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, lowercase=lowercase,
                             sublinear_tf=sublinear_tf, dtype=np.float64).fit_transform(values.tolist()).tocsr()
    # Same shape, same storage (entries in the same order within each row) and the same floats:
    # the L2 norm sums a row in storage order, so equal values alone would not prove equal cosines.
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    assert ours.data.tobytes() == theirs.data.tobytes()


def _same_storage(ours, theirs) -> bool:
    return (ours.shape == theirs.shape and np.array_equal(ours.indptr, theirs.indptr)
            and np.array_equal(ours.indices, theirs.indices) and ours.data.tobytes() == theirs.data.tobytes())


@pytest.mark.parametrize("ngram_range,sublinear_tf", [((1, 1), False), ((1, 2), True)])
def test_word_tfidf_counted_without_sklearns_loop_is_its_matrix_to_the_last_bit(ngram_range, sublinear_tf):
    values = _random_texts(800, seed=5)
    ours = tfidf.tfidf_vectors(values, analyzer="word", ngram_range=ngram_range, sublinear_tf=sublinear_tf)
    theirs = TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", ngram_range=ngram_range,
                             sublinear_tf=sublinear_tf, dtype=np.float64).fit_transform(values.tolist())
    assert _same_storage(ours, theirs.tocsr())


@pytest.mark.parametrize("underscores", [False, True])
def test_word_tfidf_from_the_shared_word_cache_is_sklearns_matrix_to_the_last_bit(underscores):
    # Word TF-IDF reads the cached words of words.py for values without "_" (there the two
    # tokenisers cut the same runs) and scikit-learn's pattern for values with one ("a_b" is one
    # \w run but two words): both kinds mixed in one vocabulary.
    values = _random_texts(800, seed=8)
    if underscores:
        values = np.array([v.replace("b", "_", 1) if i % 3 == 0 else v for i, v in enumerate(values)], dtype=object)
        values = np.array(list(dict.fromkeys(values.tolist())), dtype=object)
        assert sum("_" in v for v in values) > 100
    for v in values[:50]:
        _words(v)  # some values already in the cache (as the column profile leaves them), others not
    ours = tfidf.tfidf_vectors(values, analyzer="word", ngram_range=(1, 1))
    theirs = TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b", dtype=np.float64).fit_transform(values.tolist())
    assert _same_storage(ours, theirs.tocsr())
    # The word sets word TF-IDF leaves for token_overlap: only where no value has a "_", and then
    # the matrix token_overlap would count itself, storage and all.
    shared = shared_word_sets(values)
    if underscores:
        assert shared is None
    else:
        assert _same_storage(shared, _binary_vectors(values, _words))


def test_shared_word_sets_go_with_their_vocabulary():
    values = _random_texts(100, seed=9)
    tfidf.tfidf_vectors(values, analyzer="word", ngram_range=(1, 1))
    key = id(values)
    assert key in words_module._WORD_SETS
    # Other options than lower-cased unigrams are another analyzer: nothing left for token_overlap.
    other = _random_texts(100, seed=10)
    tfidf.tfidf_vectors(other, analyzer="word", ngram_range=(1, 2))
    assert shared_word_sets(other) is None
    del values
    assert key not in words_module._WORD_SETS


def test_token_overlap_after_word_tfidf_scores_as_on_its_own():
    texts = _random_texts(60, seed=11)
    half = len(texts) // 2
    left, right = pd.DataFrame({"text": texts[:half]}), pd.DataFrame({"text": texts[half:2 * half]})
    rng = np.random.default_rng(12)
    left_pos, right_pos = rng.integers(half, size=200), rng.integers(half, size=200)
    shared = SimilarityMap({"text": ["tfidf_word", "token_overlap"]}).transform(left, right, left_pos, right_pos)
    alone = SimilarityMap({"text": ["token_overlap"]}).transform(left, right, left_pos, right_pos)
    assert shared[:, 1].tobytes() == alone[:, 0].tobytes()
    assert 0 < alone[:, 0].mean() < 1  # a score that varies, not all zeros


@pytest.mark.parametrize("analyzer", [str.split, _words, _codes])
def test_token_sets_are_sklearns_binary_counts(analyzer):
    values = _random_texts(800, seed=6)
    theirs = CountVectorizer(analyzer=analyzer, lowercase=False, binary=True, dtype=np.float64)
    expected = theirs.fit_transform(values.tolist()).tocsr()
    ours = tfidf.binary_token_vectors(values) if analyzer is str.split else _binary_vectors(values, analyzer)
    assert _same_storage(ours, expected)
    counts, names = tfidf.count_vectors(map(analyzer, values.tolist()), len(values))
    assert names.tolist() == theirs.get_feature_names_out().tolist()


def test_char_tfidf_of_values_without_words_scores_nothing():
    # No value has a word: scikit-learn's "empty vocabulary", caught as before (one zero column).
    matrix = tfidf.tfidf_vectors(np.array(["", ""], dtype=object), analyzer="char_wb", ngram_range=(2, 4))
    assert matrix.shape == (2, 1) and matrix.nnz == 0


def test_code_tokens_are_the_words_with_a_digit_character():
    # The definition: words (runs of letters and digits, lower-cased) with any str.isdigit()
    # character; "²" is a digit to isdigit, "½" and "三" are numeric but not digits.
    # Texts without any digit (no code token, found by one scan) and with one only in a late word.
    for text in [*_random_texts(500, seed=1), "Canon EOS-5D mk2, 2008", "x² ½ 三 abc", "Alpha İBeta ﬁne",
                 "word " * 300 + "a7b"]:
        expected = [w for w in _WORD.findall(text.lower()) if any(ch.isdigit() for ch in w)]
        assert code_tokens(text) == expected
    assert code_tokens("x² ½ 三 abc") == ["x²"]


def test_pair_dot_products_do_not_depend_on_the_chunk(monkeypatch):
    rng = np.random.default_rng(3)
    matrix = sp.random(50, 400, density=0.3, format="csr", random_state=4)
    left, right = rng.integers(50, size=300), rng.integers(50, size=300)
    whole = tfidf.rowwise_dot(matrix, left, right)
    # About 120 entries per row: at most 2 pairs per chunk, so 150 chunks.
    monkeypatch.setattr(tfidf, "_CHUNK_ENTRIES", 250)
    assert tfidf.rowwise_dot(matrix, left, right).tobytes() == whole.tobytes()


def test_a_one_column_record_scores_as_its_record_text():
    # The record "*" of a one-column table reads that column (and reuses its scores): the same
    # numbers as scoring the record text the map used to build, for numbers with ".0", padded
    # text and missing values alike.
    left = pd.DataFrame({"id": range(4), "text": ["alpha beta 12", "  gamma ", None, "4223.0"]})
    right = pd.DataFrame({"id": range(4), "text": ["beta alpha 12", "gamma", "delta", 4223.0]})
    left_pos, right_pos = np.array([0, 1, 2, 3, 0]), np.array([0, 1, 2, 3, 3])
    names = ["tfidf_char", "token_overlap", "code_jaccard", "length_ratio"]
    # The column's scores computed first, then "*" with the same similarities and one of its own.
    both = SimilarityMap({"text": names, "*": [*names, "tfidf_word"]})
    X = both.transform(left, right, left_pos, right_pos)
    values = ColumnValues(record_text(left, ["text"]), record_text(right, ["text"]), left_pos, right_pos)
    for name in [*names, "tfidf_word"]:
        expected = get_similarity(name).compute(values, **get_similarity(name).resolve_params({}))
        expected[values.missing] = 0.0
        column = both.feature_names.index(f"*~*:{name}")
        assert X[:, column].tobytes() == expected.astype(np.float32).tobytes(), name
    assert (X[:, both.feature_names.index("*~*:missing")] == [0, 0, 1, 0, 0]).all()


def test_character_ngrams_read_a_long_value_up_to_the_cap_at_a_whole_word():
    values = np.array(["short text", "alpha beta gamma delta", "abcdefghij", "one two  three"], dtype=object)
    cut = tfidf.truncate(values, 12)
    # "alpha beta gamma delta"[:12] is "alpha beta g": the unfinished "g" goes; a value with no
    # space in its first 12 characters is cut at 12; one that ends a word at the cap keeps it.
    assert cut.tolist() == ["short text", "alpha beta", "abcdefghij", "one two"]
    assert cut[0] is values[0]
    assert tfidf.truncate(np.array(["abcdefghijklmnop"], dtype=object), 12).tolist() == ["abcdefghijkl"]
    assert tfidf.truncate(np.array(["one two three four"], dtype=object), 7).tolist() == ["one two"]


def test_a_long_values_character_tfidf_is_that_of_its_first_characters():
    rng = np.random.default_rng(7)
    words = np.array(["alpha", "beta", "gamma", "delta", "kappa", "omega", "sigma", "theta"], dtype=object)
    long_texts = [" ".join(rng.choice(words, size=800)) for _ in range(3)]  # about 4,800 characters
    values = np.array([*long_texts, "alpha beta", "gamma"], dtype=object)
    ours = tfidf.tfidf_vectors(values, analyzer="char_wb", ngram_range=(2, 4))
    cut = tfidf.truncate(values, tfidf.MAX_CHAR_NGRAM_CHARS)
    assert all(len(v) <= tfidf.MAX_CHAR_NGRAM_CHARS for v in cut) and cut[3] == "alpha beta"
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), dtype=np.float64).fit_transform(cut.tolist())
    assert _same_storage(ours, theirs.tocsr())


def test_tokens_numbered_chunk_by_chunk_are_numbered_as_in_one_go(monkeypatch):
    # Seven tokens per chunk: words first seen in a later chunk get the next numbers, so the
    # matrix (and its storage order) is the one scikit-learn builds from the whole corpus.
    monkeypatch.setattr(tfidf, "_COUNT_CHUNK_TOKENS", 7)
    values = _random_texts(400, seed=8)
    expected = CountVectorizer(analyzer=str.split, lowercase=False, binary=True, dtype=np.float64)
    assert _same_storage(tfidf.binary_token_vectors(values), expected.fit_transform(values.tolist()).tocsr())
