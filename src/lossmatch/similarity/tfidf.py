"""Sparse vectors of distinct column values, and row-wise dot products over aligned pairs.

Vectors are built once per *distinct* value (the union of both tables' non-missing values),
so TF-IDF weights are deterministic given the tables and a value found only in the right table
still gets its own vector. A pair's score is the dot product of two rows, computed in chunks
as a sparse element-wise product: never a dense ``n x vocabulary`` matrix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain

import numpy as np
import scipy.sparse as sp

from lossmatch.similarity.words import SKLEARN_WORD_PATTERN, remember_word_sets, tfidf_word_tokens

__all__ = ["MEASURES", "TableScores", "binary_token_vectors", "count_vectors", "pair_scores", "rowwise_dot",
           "tfidf_vectors"]

# Pairs per chunk, and stored entries of the rows of one chunk: bound the temporary sparse
# matrices to a few tens of MB (long texts have thousands of n-grams per row).
_CHUNK = 200_000
_CHUNK_ENTRIES = 20_000_000
# Tokens numbered at a time when counting (bounds the token strings alive at once).
_COUNT_CHUNK_TOKENS = 2_000_000
# Character n-grams read at most this many characters of a value (its start, cut at the last whole
# word). Past a paragraph they add little to word TF-IDF, which reads the whole text, and cost about
# 20 n-grams per word: on 2 x 28k texts of 600 words (the shape of DeepMatcher's Company set) they
# took a third of the 3-minute budget and most of the memory. Values of the four development sets
# are at most 416 characters long, far from it.
MAX_CHAR_NGRAM_CHARS = 2_000
# scikit-learn's whitespace normalisation before character n-grams (VectorizerMixin._white_spaces).
_WHITE_SPACES = re.compile(r"\s\s+")

# How two rows u, v of a vector matrix are scored, from their dot product u.v and row sums:
# "cosine" for L2-normalised rows (u.v itself), "jaccard" and "overlap" for 0/1 rows (sets):
# |A & B| / |A | B| and |A & B| / min(|A|, |B|).
MEASURES = ("cosine", "jaccard", "overlap")


def tfidf_vectors(values: np.ndarray, *, analyzer: str, ngram_range: tuple[int, int],
                  lowercase: bool = True, sublinear_tf: bool = False) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows, one per entry of ``values``, fitted on ``values`` themselves.

    Args:
        values: distinct non-missing strings of both columns.
        analyzer: ``"char_wb"`` (n-grams inside word boundaries, robust to word order) or ``"word"``.
        ngram_range: ``(low, high)`` n-gram lengths.
    """
    if len(values) == 0:
        return sp.csr_matrix((0, 0), dtype=np.float64)
    # Imported here: scikit-learn takes seconds to import, and checking a map needs none of it.
    from sklearn.feature_extraction.text import TfidfVectorizer

    word_options = {"token_pattern": SKLEARN_WORD_PATTERN} if analyzer == "word" else {}
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase,
                                 sublinear_tf=sublinear_tf, dtype=np.float64, **word_options)
    try:
        from sklearn.feature_extraction.text import TfidfTransformer

        if analyzer == "char_wb":
            counts = char_wb_counts(truncate(values, MAX_CHAR_NGRAM_CHARS), ngram_range=ngram_range,
                                    lowercase=lowercase)
        elif analyzer == "word" and tuple(ngram_range) == (1, 1) and lowercase:
            # scikit-learn's analyzer for these options is lower-case + its word pattern: the words
            # the column profile already tokenised (cached), and their count pattern is token_overlap's.
            counts, _ = count_vectors(map(tfidf_word_tokens, values.tolist()), len(values))
            remember_word_sets(values, counts)
        else:
            # scikit-learn's own analyzer (preprocessing, tokens, n-grams), counted without its Python loop.
            counts, _ = count_vectors(map(vectorizer.build_analyzer(), values.tolist()), len(values))
        # What TfidfVectorizer does after counting (in place: no copy of a matrix of long texts).
        transformer = TfidfTransformer(sublinear_tf=sublinear_tf).fit(counts)
        return sp.csr_matrix(transformer.transform(counts, copy=False))
    except ValueError:
        # No value has a single token (e.g. only punctuation): every cosine is 0.
        return sp.csr_matrix((len(values), 1), dtype=np.float64)


def truncate(values: np.ndarray, max_chars: int) -> np.ndarray:
    """``values`` with each one longer than ``max_chars`` cut there, and back to its last whole word
    (a value without a space in its first ``max_chars`` is cut there). Shorter values are the same objects."""
    out = values.copy()
    for i in np.flatnonzero(np.fromiter(map(len, values), dtype=np.int64, count=len(values)) > max_chars):
        text = values[i]
        head = text[:max_chars]
        if not text[max_chars].isspace():
            head = head.rsplit(None, 1)[0] if len(head.split(None, 1)) > 1 else head
        out[i] = head.rstrip()
    return out


def char_wb_counts(values: np.ndarray, *, ngram_range: tuple[int, int], lowercase: bool = True) -> sp.csr_matrix:
    """``CountVectorizer(analyzer="char_wb")``'s count matrix, stored alike to the last entry, per distinct word.

    ``char_wb`` cuts each whitespace-separated word into n-grams on its own, so a value's counts are
    the sum over its words of (times the word occurs) x (the word's n-gram counts): values x words
    counts times words x n-grams counts. scikit-learn's analyzer is a Python loop over every n-gram
    of every value (about 20 per word: minutes, and gigabytes of Python lists, on 2 x 28k texts of
    600 words as in DeepMatcher's Company set); here it runs once per distinct word and a sparse
    product does the rest. Counts are whole numbers, exact in float64.

    Same to the last bit as scikit-learn's TF-IDF needs the same *storage order* too (the L2 norm
    sums a row in that order): scikit-learn stores each row's n-grams in the order it first met
    them in the whole corpus (then renumbers the columns alphabetically without re-sorting). The
    words' first-seen order is read from the word counts the same way, and the n-grams of the
    distinct words, taken in that order, are first met in the corpus's order.

    Raises:
        ValueError: no value has a word (scikit-learn's "empty vocabulary").
    """
    from sklearn.feature_extraction.text import CountVectorizer

    def words(text: str) -> list[str]:
        # scikit-learn's preprocessing for char_wb: lowercase, normalise whitespace, split.
        return _WHITE_SPACES.sub(" ", text.lower() if lowercase else text).split()

    by_word, word_names = count_vectors(map(words, values.tolist()), len(values))
    word_order = _first_seen_columns(by_word)  # word columns in the order the corpus first shows them
    names = word_names[word_order]
    grams = sp.csr_matrix(CountVectorizer(analyzer="char_wb", ngram_range=tuple(ngram_range), lowercase=False,
                                          dtype=np.float64).fit_transform(names.tolist()))
    gram_order = _first_seen_columns(grams)
    rank = np.empty_like(gram_order)
    rank[gram_order] = np.arange(len(gram_order), dtype=gram_order.dtype)
    counts = sp.csr_matrix(by_word[:, word_order] @ grams)
    # Sort each row by first-seen rank, then name the columns alphabetically again, as scikit-learn does.
    counts.indices = rank[counts.indices]
    counts.has_sorted_indices = False
    counts.sort_indices()
    counts.indices = gram_order[counts.indices]
    counts.has_sorted_indices = False
    return counts


def count_vectors(tokens: Iterable[list[str]], n: int, *, binary: bool = False) -> tuple[sp.csr_matrix, np.ndarray]:
    """``CountVectorizer(analyzer=...).fit_transform``'s matrix (float64) and its sorted feature names, for
    the ``n`` token lists ``tokens`` (one per value), stored alike to the last entry.

    scikit-learn counts in a Python loop over every token (a minute for the 34 M words of
    DeepMatcher's Company set on a loaded core); here ``pandas.factorize`` numbers the tokens in
    the order they first occur, which is the order scikit-learn stores each row in before it
    renumbers the columns alphabetically (without re-sorting the rows), as done here too.

    Raises:
        ValueError: no token at all (scikit-learn's "empty vocabulary").
    """
    import pandas as pd

    # Numbered a few million tokens at a time, so that only one chunk's token strings are alive
    # (all 85 M words of 2 x 28k texts of 1,500 words held at once took about 5 GB).
    lengths = np.zeros(n, dtype=np.int64)
    parts, known = [], {}
    chunk: list[list[str]] = []

    def number(chunk_lists: list[list[str]]) -> None:
        flat = np.fromiter(chain.from_iterable(chunk_lists), dtype=object, count=sum(map(len, chunk_lists)))
        local, uniques = pd.factorize(flat)
        # Tokens new to the corpus get the next numbers, in the order they first occur.
        ids = np.fromiter((known.setdefault(u, len(known)) for u in uniques), dtype=np.int64, count=len(uniques))
        parts.append(ids[local])

    size = 0
    for row, token_list in enumerate(tokens):
        lengths[row] = len(token_list)
        chunk.append(token_list)
        size += len(token_list)
        if size >= _COUNT_CHUNK_TOKENS:
            number(chunk)
            chunk, size = [], 0
    if chunk:
        number(chunk)
    codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(codes) == 0:
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    uniques = np.empty(len(known), dtype=object)
    uniques[:] = list(known)  # numbered in insertion order
    index = np.int32 if len(codes) < np.iinfo(np.int32).max else np.int64  # as scikit-learn chooses
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(index)
    counts = sp.csr_matrix((np.ones(len(codes)), codes.astype(index, copy=False), indptr),
                           shape=(n, len(uniques)), dtype=np.float64)
    del codes
    counts.sum_duplicates()  # sorts each row by first occurrence in the corpus, then adds repeats
    counts.sort_indices()
    if binary:
        counts.data.fill(1.0)
    names = np.asarray(uniques, dtype=object)
    order = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
    alphabetical = np.empty(len(order), dtype=counts.indices.dtype)
    alphabetical[order] = np.arange(len(order), dtype=counts.indices.dtype)
    counts.indices = alphabetical[counts.indices]
    counts.has_sorted_indices = False
    return counts, names[order]


def _first_seen_columns(matrix: sp.csr_matrix) -> np.ndarray:
    """Column ids in the order they first occur in ``matrix``'s storage (rows in order, each row as stored)."""
    columns, first = np.unique(matrix.indices, return_index=True)
    return columns[np.argsort(first, kind="stable")].astype(matrix.indices.dtype)


def binary_token_vectors(values: np.ndarray) -> sp.csr_matrix:
    """0/1 rows marking the set of whitespace-separated tokens of each value."""
    if len(values) == 0:
        return sp.csr_matrix((0, 0), dtype=np.float64)
    return count_vectors(map(str.split, values.tolist()), len(values), binary=True)[0]


def rowwise_dot(matrix: sp.csr_matrix, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """``matrix[left_rows[i]] . matrix[right_rows[i]]`` for every i, as a float64 array."""
    out = np.zeros(len(left_rows), dtype=np.float64)
    if matrix.shape[0] == 0:
        return out
    # Fewer pairs per chunk when rows are long; a row's sum does not depend on the chunk.
    per_row = matrix.nnz / matrix.shape[0]
    chunk = int(max(1, min(_CHUNK, _CHUNK_ENTRIES // max(1.0, per_row))))
    for start in range(0, len(left_rows), chunk):
        stop = start + chunk
        product = matrix[left_rows[start:stop]].multiply(matrix[right_rows[start:stop]])
        out[start:stop] = np.asarray(product.sum(axis=1)).reshape(-1)
    return out


def _from_dot(dot: np.ndarray, left_sizes: np.ndarray, right_sizes: np.ndarray, measure: str) -> np.ndarray:
    """Turn dot products into the scores of ``measure`` (sizes are row sums, used for sets)."""
    if measure == "cosine":
        # Rows are L2-normalised; clip float error above 1.
        return np.minimum(dot, 1.0)
    if measure == "jaccard":
        denominator = left_sizes + right_sizes - dot
    elif measure == "overlap":
        denominator = np.minimum(left_sizes, right_sizes)
    else:
        raise ValueError(f"unknown measure {measure!r}; known: {MEASURES}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, dot / np.where(denominator > 0, denominator, 1.0), 0.0)


def row_sizes(matrix: sp.csr_matrix) -> np.ndarray:
    """Row sums (set sizes for 0/1 rows)."""
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).reshape(-1)


def pair_scores(matrix: sp.csr_matrix, measure: str, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """Scores of ``measure`` between ``matrix[left_rows[i]]`` and ``matrix[right_rows[i]]``, float64."""
    # Blocking repeats value pairs (every pair of a block on a name shares that name, a state
    # column has a few values): score each distinct (left, right) row pair once.
    keys = left_rows.astype(np.int64) * max(1, matrix.shape[0]) + right_rows
    distinct, back = np.unique(keys, return_inverse=True)
    if len(distinct) < len(keys):
        width = max(1, matrix.shape[0])
        return pair_scores(matrix, measure, distinct // width, distinct % width)[back.reshape(-1)]
    dot = rowwise_dot(matrix, left_rows, right_rows)
    if measure == "cosine" or matrix.shape[0] == 0:
        return _from_dot(dot, None, None, "cosine")  # an empty matrix gives dot products of 0
    sizes = row_sizes(matrix)
    return _from_dot(dot, sizes[left_rows], sizes[right_rows], measure)


class TableScores:
    """Scores of any rows of ``matrix`` against a fixed set of candidate rows (a table), block by block.

    Records share many frequent features (character n-grams such as "th" or "on "), which makes a
    sparse product nearly dense and slow. So the frequent features (in more than ``dense_share`` of
    the candidates) are multiplied as dense arrays (BLAS), and only the rare ones sparsely: the
    same dot products (up to float rounding), about twice as fast on TF-IDF character n-grams.
    """

    def __init__(self, matrix: sp.csr_matrix, measure: str, candidates: np.ndarray, *,
                 dense_share: float = 0.05, max_dense_cells: int = 20_000_000):
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}; known: {MEASURES}")
        self.matrix, self.measure = matrix, measure
        table = matrix[candidates]
        frequency = np.bincount(table.indices, minlength=matrix.shape[1])
        # The most frequent features, as many as fit the dense budget.
        order = np.argsort(-frequency, kind="stable")
        n_dense = min(int((frequency > dense_share * len(candidates)).sum()),
                      max_dense_cells // max(1, len(candidates)))
        self.frequent, rare = np.sort(order[:n_dense]), np.sort(order[n_dense:])
        self.dense = table[:, self.frequent].T.toarray()
        self.sparse = table[:, rare].T.tocsr()
        self.rare = rare
        self.sizes = row_sizes(matrix)
        self.candidate_sizes = self.sizes[candidates]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Dense ``len(rows) x len(candidates)`` scores (the caller bounds the block size)."""
        block = self.matrix[rows]
        dot = block[:, self.frequent].toarray() @ self.dense
        dot += (block[:, self.rare] @ self.sparse).toarray()
        if self.measure == "cosine":
            return _from_dot(dot, None, None, self.measure)
        return _from_dot(dot, self.sizes[rows][:, None], self.candidate_sizes[None, :], self.measure)
