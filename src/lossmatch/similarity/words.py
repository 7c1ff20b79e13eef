"""The word tokeniser shared by the profile of ``similarity=auto``, the token sets and word TF-IDF.

A word is a run of letters and digits of the lower-cased text: "st." and "st" agree, and
"dsc-w55" gives "dsc", "w55". Long texts (DeepMatcher's Company: 2 x 28k texts of hundreds to
thousands of words) cost seconds per pass over their words, so each distinct text is tokenised
once (cached) and its words serve every consumer whose tokeniser gives the same tokens:

- ``token_overlap`` and the column profile read :func:`words` itself;
- word TF-IDF tokenises with scikit-learn's pattern ``\\b\\w+\\b``, runs of ``\\w``: the same runs
  as :func:`words` on a text without "_" (``\\w`` is letters, digits and "_"), so
  :func:`tfidf_word_tokens` reads :func:`words` there and scikit-learn's pattern elsewhere.
- ``token_jaccard`` splits on whitespace without lower-casing, and character n-grams cut words on
  whitespace: other tokenisers, nothing to share.
"""

from __future__ import annotations

import re
import sys
import weakref
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

__all__ = ["SKLEARN_WORD_PATTERN", "shared_word_sets", "tfidf_word_tokens", "words"]

_WORD = re.compile(r"[^\W_]+")
# scikit-learn's default word pattern drops 1-character words; initials and single digits matter here.
SKLEARN_WORD_PATTERN = r"(?u)\b\w+\b"
_SKLEARN_WORD = re.compile(SKLEARN_WORD_PATTERN)


# Whole records are tokenised once per key that reads them (X~* for every attribute X): a cache
# turns the repeats into lookups. Tuples, so a cached value cannot be changed by a caller.
# Words are interned: a cache of long texts (company descriptions of hundreds of words, 2 x 28k
# of them in DeepMatcher's Company set) then holds one pointer per word, not a string per word
# (about 2 GB of 34 M short strings otherwise).
@lru_cache(maxsize=1 << 17)
def words(text: str) -> tuple[str, ...]:
    """Lower-cased runs of letters and digits, as a (cached) tuple."""
    return tuple(map(sys.intern, _WORD.findall(text.lower())))


def tfidf_word_tokens(text: str) -> tuple[str, ...] | list[str]:
    """scikit-learn's word analyzer (lower-case, ``\\b\\w+\\b``, unigrams) of ``text``, from the cache of
    :func:`words` when the text has no "_" (the only character of ``\\w`` that :func:`words` splits on)."""
    if "_" in text:
        return _SKLEARN_WORD.findall(text.lower())
    return words(text)


# 0/1 word-set rows per vocabulary array, left by word TF-IDF for token_overlap: both count the
# same token lists when no value has a "_", so the count matrix's pattern (its indices and indptr,
# which TF-IDF weighting leaves alone) is the word-set matrix. Keyed by the array's id and dropped
# with the array (a key's ColumnValues owns it), so no matrix outlives the key's similarities.
_WORD_SETS: dict[int, tuple[np.ndarray, np.ndarray, tuple[int, int]]] = {}


def remember_word_sets(vocabulary: np.ndarray, counts: sp.csr_matrix) -> None:
    """Keep ``counts``'s pattern (counts of :func:`tfidf_word_tokens` over ``vocabulary``) for
    :func:`shared_word_sets`, when those tokens are :func:`words`'s for every value."""
    if any("_" in text for text in vocabulary.tolist()) or id(vocabulary) in _WORD_SETS:
        return
    key = id(vocabulary)
    _WORD_SETS[key] = (counts.indices, counts.indptr, counts.shape)
    weakref.finalize(vocabulary, _WORD_SETS.pop, key, None)


def shared_word_sets(vocabulary: np.ndarray) -> sp.csr_matrix | None:
    """0/1 rows of each value's set of :func:`words`, if word TF-IDF left them for ``vocabulary``; else None."""
    found = _WORD_SETS.get(id(vocabulary))
    if found is None:
        return None
    indices, indptr, shape = found
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=shape, dtype=np.float64)
