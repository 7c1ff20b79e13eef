"""Sparse vectors of distinct column values, and row-wise dot products over aligned pairs.

Vectors are built once per *distinct* value (the union of both tables' non-missing values),
so TF-IDF weights are deterministic given the tables and a value found only in the right table
still gets its own vector. A pair's score is the dot product of two rows, computed in chunks
as a sparse element-wise product: never a dense ``n x vocabulary`` matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["binary_token_vectors", "rowwise_dot", "tfidf_vectors"]

# Pairs per chunk: bounds the temporary sparse matrices to a few tens of MB.
_CHUNK = 200_000


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

    # sklearn's default word pattern drops 1-character words; initials and single digits matter here.
    word_options = {"token_pattern": r"(?u)\b\w+\b"} if analyzer == "word" else {}
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase,
                                 sublinear_tf=sublinear_tf, dtype=np.float64, **word_options)
    try:
        return vectorizer.fit_transform(values.tolist()).tocsr()
    except ValueError:
        # No value has a single token (e.g. only punctuation): every cosine is 0.
        return sp.csr_matrix((len(values), 1), dtype=np.float64)


def binary_token_vectors(values: np.ndarray) -> sp.csr_matrix:
    """0/1 rows marking the set of whitespace-separated tokens of each value."""
    if len(values) == 0:
        return sp.csr_matrix((0, 0), dtype=np.float64)
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer=str.split, lowercase=False, binary=True, dtype=np.float64)
    return vectorizer.fit_transform(values.tolist()).tocsr()


def rowwise_dot(matrix: sp.csr_matrix, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """``matrix[left_rows[i]] . matrix[right_rows[i]]`` for every i, as a float64 array."""
    out = np.zeros(len(left_rows), dtype=np.float64)
    if matrix.shape[0] == 0:
        return out
    for start in range(0, len(left_rows), _CHUNK):
        stop = start + _CHUNK
        product = matrix[left_rows[start:stop]].multiply(matrix[right_rows[start:stop]])
        out[start:stop] = np.asarray(product.sum(axis=1)).reshape(-1)
    return out
