"""Token-set similarities for long values and whole records, length ratios and per-side missing flags.

Registered on import (``lossmatch.similarity`` imports this module), like those of ``functions.py``:

- ``token_overlap``: |A & B| / min(|A|, |B|) over lower-cased words (runs of letters and digits).
  Unlike Jaccard it stays 1 when one value is a part of the other: a brand found in a title, a
  short name inside a long record.
- ``code_jaccard``, ``code_overlap``: the same over *code tokens*, words that contain a digit
  (model numbers, versions, phone number groups, years). Two product records that share a model
  number are very likely the same product even when the rest of the text differs.
- ``code_disjoint``: 1 when both values have code tokens and share none (two different model
  numbers), else 0: a flag, not a similarity, and strong evidence *against* a match. With
  ``code_jaccard`` it tells "different codes" from "no codes".
- ``length_ratio``: min / max of the two lengths in characters.
- ``missing_left``, ``missing_right``: 1 when that side's value is missing. These are indicators
  (their value is kept where a value is missing); the map's ``:missing`` only says "either side".
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import lru_cache
from itertools import compress

import numpy as np
import scipy.sparse as sp

from lossmatch.similarity.formats import has_digit
from lossmatch.similarity.functions import ColumnValues, Similarity, register
from lossmatch.similarity.tfidf import count_vectors, pair_scores, row_sizes, rowwise_dot
from lossmatch.similarity.words import shared_word_sets, words

__all__ = ["code_tokens", "word_tokens"]


@lru_cache(maxsize=1 << 17)
def _codes(text: str) -> tuple[str, ...]:
    # Words are cut from the lower-cased text: without a digit there, no word has one (one C scan,
    # where a test per word took seconds on long texts without digits).
    if not has_digit(text.lower()):
        return ()
    # A word of letters only has no digit (letters and digits are disjoint Unicode categories):
    # C calls rule most words out (compress keeps the order) before the per-character test.
    tokens = words(text)
    not_letters = compress(tokens, map(operator.not_, map(str.isalpha, tokens)))
    return tuple(token for token in not_letters if any(map(str.isdigit, token)))


def word_tokens(text: str) -> list[str]:
    """Lower-cased runs of letters and digits."""
    return list(words(text))


def code_tokens(text: str) -> list[str]:
    """Words that contain a digit: "Canon EOS-5D mk2, 2008" -> ["5d", "mk2", "2008"]."""
    return list(_codes(text))


def _binary_vectors(vocabulary: np.ndarray, analyzer: Callable[[str], list[str]]) -> sp.csr_matrix:
    """0/1 rows marking each value's set of tokens (one row per vocabulary entry)."""
    if len(vocabulary) == 0:
        return sp.csr_matrix((0, 0), dtype=np.float64)
    try:
        return count_vectors(map(analyzer, vocabulary.tolist()), len(vocabulary), binary=True)[0]
    except ValueError:
        # No value has a single token (no digits anywhere, for codes): every score is 0.
        return sp.csr_matrix((len(vocabulary), 1), dtype=np.float64)


def _word_vectors(values: ColumnValues, **_) -> tuple[sp.csr_matrix, str]:
    # Left by word TF-IDF on the same values when it ran first (the same matrix, not counted twice).
    shared = shared_word_sets(values.vocabulary)
    return (shared if shared is not None else _binary_vectors(values.vocabulary, words)), "overlap"


def _code_vectors(measure: str) -> Callable[..., tuple[sp.csr_matrix, str]]:
    def vectors(values: ColumnValues, **_) -> tuple[sp.csr_matrix, str]:
        return _binary_vectors(values.vocabulary, _codes), measure

    return vectors


def _vector_similarity(vectors: Callable[..., tuple[sp.csr_matrix, str]]) -> Callable[..., np.ndarray]:
    """The pair scores of a ``vectors`` function (missing pairs read row 0; the map zeroes them)."""

    def compute(values: ColumnValues, *, workers: int = -1, **params) -> np.ndarray:
        matrix, measure = vectors(values, **params)
        left, right = np.maximum(values.left_codes, 0), np.maximum(values.right_codes, 0)
        return pair_scores(matrix, measure, left, right).astype(np.float32)

    return compute


def _code_disjoint(values: ColumnValues, **_) -> np.ndarray:
    matrix, _measure = _code_vectors("jaccard")(values)
    if matrix.shape[0] == 0:
        return np.zeros(len(values), dtype=np.float32)
    left, right = np.maximum(values.left_codes, 0), np.maximum(values.right_codes, 0)
    shared = rowwise_dot(matrix, left, right)
    sizes = row_sizes(matrix)
    return ((sizes[left] > 0) & (sizes[right] > 0) & (shared == 0)).astype(np.float32)


def _length_ratio(values: ColumnValues, **_) -> np.ndarray:
    left = np.fromiter(map(len, values.left_texts), dtype=np.float64, count=len(values))
    right = np.fromiter(map(len, values.right_texts), dtype=np.float64, count=len(values))
    longer = np.maximum(left, right)
    return np.where(longer > 0, np.minimum(left, right) / np.where(longer > 0, longer, 1.0), 0.0).astype(np.float32)


def _missing(side: str) -> Callable[..., np.ndarray]:
    def compute(values: ColumnValues, **_) -> np.ndarray:
        return getattr(values, f"{side}_missing").astype(np.float32)

    return compute


register(Similarity("token_overlap", _vector_similarity(_word_vectors), vectors=_word_vectors,
                    doc="|A & B| / min(|A|, |B|) over lower-cased words"))
register(Similarity("code_jaccard", _vector_similarity(_code_vectors("jaccard")), vectors=_code_vectors("jaccard"),
                    doc="|A & B| / |A | B| over words that contain a digit (0 if either has none)"))
register(Similarity("code_overlap", _vector_similarity(_code_vectors("overlap")), vectors=_code_vectors("overlap"),
                    doc="|A & B| / min(|A|, |B|) over words that contain a digit (0 if either has none)"))
register(Similarity("code_disjoint", _code_disjoint,
                    doc="1 if both values have words with digits and share none, else 0"))
register(Similarity("length_ratio", _length_ratio, doc="min / max of the lengths in characters"))
register(Similarity("missing_left", _missing("left"), indicator=True, doc="1 if the left value is missing"))
register(Similarity("missing_right", _missing("right"), indicator=True, doc="1 if the right value is missing"))
