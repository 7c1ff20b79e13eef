"""The registry of similarity functions: each one turns aligned pairs of values into scores in [0, 1].

Every similarity is one registered :class:`Similarity`: a name, the parameters it accepts and a
function ``compute(values, workers=..., **params) -> float32 array`` over aligned pairs.
Adding a similarity means one ``register(...)`` call here, with no ``if name == ...`` switch
elsewhere.

All scores are 1 for identical values and 0 for nothing in common. Pairs with a missing value
are *not* handled here: :class:`ColumnValues` marks them, and the similarity map sets their
scores to 0 and raises the pair's ``:missing`` indicator (see ``map.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import distance, fuzz, process

from lossmatch.errors import InputError
from lossmatch.similarity.formats import to_days, to_seconds
from lossmatch.similarity.tfidf import binary_token_vectors, rowwise_dot, tfidf_vectors

__all__ = ["ColumnValues", "Similarity", "available_similarities", "column_texts", "get_similarity", "register"]


# ----------------------------------------------------------------------------- column values


def _to_text(value: Any) -> str:
    """One cell as text; "" means missing (None, NaN, or blank after stripping)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        # A CSV integer column with gaps is read as float: 4223.0 must compare equal to "4223".
        if value.is_integer():
            return str(int(value))
    elif isinstance(value, np.floating):
        return _to_text(float(value))
    # Leading/trailing blanks are formatting noise, not content.
    return str(value).strip()


# One number, optionally wrapped in a unit or currency ("$ 12.50", "4.5 %", "1,299"); anything
# with two numbers ("10-12") is ambiguous and counts as unparsable.
_NUMBER = re.compile(r"^[^\d+\-.]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)[^\d]*$")


def _to_number(text: str) -> float:
    """Parse one number from text (see ``_NUMBER``); NaN when missing or unparsable."""
    if not text:
        return math.nan
    try:
        number = float(text)
    except ValueError:
        match = _NUMBER.match(text.replace(",", ""))
        if match is None:
            return math.nan
        number = float(match.group(1))
    return number if math.isfinite(number) else math.nan


# How the numeric similarities read a value as a number (their ``parse`` parameter).
PARSERS: dict[str, Callable[[str], float]] = {"number": _to_number, "duration": to_seconds, "date": to_days}


class _Side:
    """One column converted once per *distinct* value, then indexed by row (cheap for 1M pairs)."""

    def __init__(self, column: pd.Series):
        codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
        texts = np.array([_to_text(v) for v in uniques] + [""], dtype=object)
        # Code -1 (NaN/None) lands on the trailing "".
        self.unique_text = texts
        self.codes = np.where(codes < 0, len(texts) - 1, codes)
        self.text = texts[self.codes]
        self.missing = self.text == ""
        self._parsed: dict[str, np.ndarray] = {}

    def parsed(self, parse: str) -> np.ndarray:
        """Each row's value read by ``PARSERS[parse]`` (NaN when missing or unreadable), once per parser."""
        if parse not in self._parsed:
            per_unique = np.array([PARSERS[parse](t) for t in self.unique_text], dtype=np.float64)
            self._parsed[parse] = per_unique[self.codes]
        return self._parsed[parse]


def column_texts(column: pd.Series) -> np.ndarray:
    """Each cell of ``column`` as stripped text, "" where missing (object array, row order)."""
    return _Side(column).text


class ColumnValues:
    """One left and one right column, prepared once and shared by all similarities of the pair.

    Conversions (to text, to numbers, to codes) run once per distinct value, then are indexed
    with the aligned pair positions ``left_pos`` / ``right_pos`` (iloc positions).

    Attributes (arrays aligned with the pairs unless said otherwise; all but the first are lazy):
        missing: bool, either side is missing (None, NaN, blank).
        left_texts, right_texts: lists of stripped strings ("" when missing).
        left_numbers, right_numbers: floats, NaN when missing or unparsable.
        left_codes, right_codes: codes into ``vocabulary`` (-1 when missing).
        vocabulary: the distinct non-missing strings of *both full columns*.
        left_table_codes, right_table_codes: the same codes for every row of the full columns.
    """

    def __init__(self, left: pd.Series, right: pd.Series, left_pos: np.ndarray, right_pos: np.ndarray):
        self._left, self._right = _Side(left), _Side(right)
        self.left_pos, self.right_pos = left_pos, right_pos
        self.missing = self._left.missing[left_pos] | self._right.missing[right_pos]

    def __len__(self) -> int:
        return len(self.left_pos)

    @property
    def left_missing(self) -> np.ndarray:
        """bool per pair: the left value is missing."""
        return self._left.missing[self.left_pos]

    @property
    def right_missing(self) -> np.ndarray:
        """bool per pair: the right value is missing."""
        return self._right.missing[self.right_pos]

    @cached_property
    def left_texts(self) -> list[str]:
        # Lists are faster for rapidfuzz.cpdist than object arrays.
        return self._left.text[self.left_pos].tolist()

    @cached_property
    def right_texts(self) -> list[str]:
        return self._right.text[self.right_pos].tolist()

    @cached_property
    def left_numbers(self) -> np.ndarray:
        return self._left.parsed("number")[self.left_pos]

    @cached_property
    def right_numbers(self) -> np.ndarray:
        return self._right.parsed("number")[self.right_pos]

    def numbers(self, parse: str = "number") -> tuple[np.ndarray, np.ndarray]:
        """Left and right values per pair read by ``PARSERS[parse]`` (NaN when missing or unreadable)."""
        if parse == "number":
            return self.left_numbers, self.right_numbers
        return self._left.parsed(parse)[self.left_pos], self._right.parsed(parse)[self.right_pos]

    @cached_property
    def _unique_codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Factorise the distinct values of both sides together, so equal strings share a code.
        both = np.concatenate([self._left.unique_text, self._right.unique_text])
        codes, vocabulary = pd.factorize(both)
        vocabulary = np.asarray(vocabulary, dtype=object)
        present = vocabulary != ""
        # Renumber without "" so that TF-IDF is fitted on present values only; "" -> -1.
        renumber = np.where(present, np.cumsum(present) - 1, -1)
        codes = renumber[codes]
        n_left = len(self._left.unique_text)
        return codes[:n_left], codes[n_left:], vocabulary[present]

    @cached_property
    def _union_codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        left_unique, right_unique, vocabulary = self._unique_codes
        left = left_unique[self._left.codes[self.left_pos]]
        right = right_unique[self._right.codes[self.right_pos]]
        return left, right, vocabulary

    @property
    def left_table_codes(self) -> np.ndarray:
        """Codes into ``vocabulary`` of every row of the *whole* left column (-1 when missing)."""
        return self._unique_codes[0][self._left.codes]

    @property
    def right_table_codes(self) -> np.ndarray:
        """Codes into ``vocabulary`` of every row of the *whole* right column (-1 when missing)."""
        return self._unique_codes[1][self._right.codes]

    @property
    def left_codes(self) -> np.ndarray:
        return self._union_codes[0]

    @property
    def right_codes(self) -> np.ndarray:
        return self._union_codes[1]

    @property
    def vocabulary(self) -> np.ndarray:
        return self._union_codes[2]


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Similarity:
    """A registered similarity.

    Args:
        name: the name used in similarity maps.
        compute: ``compute(values: ColumnValues, *, workers, **params)`` -> float32 scores per pair.
        defaults: accepted parameters and their defaults; ``REQUIRED`` marks ones without default.
        check: validates the full parameter dict, raising ``InputError``.
        numeric: True if it parses numbers (an unparsable value then counts as missing).
        doc: one line shown in error messages and docs.
        vectors: for similarities that compare sparse vectors of the values:
            ``vectors(values, **params) -> (matrix, measure)``, one row per entry of
            ``values.vocabulary`` and a measure of ``lossmatch.similarity.tfidf.MEASURES``. It is
            what lets a map entry score a record against the whole other table (``context``).
        indicator: True for flags about the values themselves (``missing_left``): the map keeps
            their score where a value is missing instead of setting it to 0.
    """

    name: str
    compute: Callable[..., np.ndarray]
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    numeric: bool = False
    doc: str = ""
    vectors: Callable[..., tuple[Any, str]] | None = None
    indicator: bool = False

    def resolve_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in, unknown or missing parameters rejected, values checked."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            accepted = ", ".join(sorted(self.defaults)) or "none"
            raise InputError(f"Similarity {self.name!r} got unknown parameter(s) {unknown}; accepted: {accepted}.")
        full = {**self.defaults, **params}
        absent = sorted(k for k, v in full.items() if v is REQUIRED)
        if absent:
            raise InputError(f"Similarity {self.name!r} needs parameter(s) {absent}, e.g. {{name: {self.name}, {absent[0]}: ...}}.")
        if self.check is not None:
            self.check(full)
        return full


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
_REGISTRY: dict[str, Similarity] = {}


def register(similarity: Similarity) -> Similarity:
    """Add a similarity to the registry (names are unique)."""
    if similarity.name in _REGISTRY:
        raise ValueError(f"similarity {similarity.name!r} is already registered")
    _REGISTRY[similarity.name] = similarity
    return similarity


def available_similarities() -> list[str]:
    """Names of all registered similarities, sorted."""
    return sorted(_REGISTRY)


def get_similarity(name: str) -> Similarity:
    """The registered similarity called ``name``; ``InputError`` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        import difflib

        known = available_similarities()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(f"Unknown similarity {name!r}{hint}; known similarities: {', '.join(known)}.") from None


# ----------------------------------------------------------------------------- rapidfuzz scorers


def _rapidfuzz(scorer: Callable, multiplier: float) -> Callable[..., np.ndarray]:
    def compute(values: ColumnValues, *, workers: int = -1, **kwargs) -> np.ndarray:
        return process.cpdist(
            values.left_texts, values.right_texts, scorer=scorer, dtype=np.float32, workers=workers,
            score_multiplier=multiplier, scorer_kwargs=kwargs or None,
        ).reshape(-1)

    return compute


def _check_prefix_weight(params: dict[str, Any]) -> None:
    weight = params["prefix_weight"]
    # Above 0.25 the Jaro-Winkler score can exceed 1 for a 4-character common prefix.
    if not isinstance(weight, (int, float)) or not 0 <= weight <= 0.25:
        raise InputError(f"jaro_winkler prefix_weight must be a number in [0, 0.25], got {weight!r}.")


_DISTANCES = {
    "levenshtein": distance.Levenshtein,
    "damerau_levenshtein": distance.DamerauLevenshtein,
    "indel": distance.Indel,
    "jaro": distance.Jaro,
    "hamming": distance.Hamming,
    "lcsseq": distance.LCSseq,
    "osa": distance.OSA,
    "prefix": distance.Prefix,
    "postfix": distance.Postfix,
}
for _name, _metric in _DISTANCES.items():
    register(Similarity(_name, _rapidfuzz(_metric.normalized_similarity, 1.0),
                        doc=f"rapidfuzz {_metric.__name__}.normalized_similarity"))
register(Similarity("jaro_winkler", _rapidfuzz(distance.JaroWinkler.normalized_similarity, 1.0),
                    defaults={"prefix_weight": 0.1}, check=_check_prefix_weight,
                    doc="rapidfuzz JaroWinkler.normalized_similarity"))

_FUZZ = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "partial_token_sort_ratio": fuzz.partial_token_sort_ratio,
    "partial_token_set_ratio": fuzz.partial_token_set_ratio,
    "WRatio": fuzz.WRatio,
    "QRatio": fuzz.QRatio,
}
for _name, _scorer in _FUZZ.items():
    # fuzz scorers return 0..100; the multiplier is applied inside cpdist's C loop.
    register(Similarity(_name, _rapidfuzz(_scorer, 0.01), doc=f"rapidfuzz fuzz.{_name} / 100"))


# ----------------------------------------------------------------------------- exact and numeric


def _exact(values: ColumnValues, **_) -> np.ndarray:
    # Integer codes over both columns compare in numpy, no string comparison per pair.
    return (values.left_codes == values.right_codes).astype(np.float32)


def _numeric_abs(values: ColumnValues, *, parse: str = "number", **_) -> np.ndarray:
    a, b = values.numbers(parse)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = 1.0 - np.abs(a - b) / scale
    # 0/0 (both zero) is identical; opposite signs can go below 0, which we clip.
    score = np.where(scale == 0, 1.0, score)
    return np.nan_to_num(np.clip(score, 0.0, 1.0), nan=0.0).astype(np.float32)


def _gaussian(values: ColumnValues, *, scale: float, parse: str = "number", **_) -> np.ndarray:
    a, b = values.numbers(parse)
    diff = (a - b) / scale
    return np.nan_to_num(np.exp(-0.5 * diff * diff), nan=0.0).astype(np.float32)


def _check_parse(name: str) -> Callable[[dict[str, Any]], None]:
    def check(params: dict[str, Any]) -> None:
        if not isinstance(params["parse"], str) or params["parse"] not in PARSERS:
            raise InputError(f"{name} parse must be one of {', '.join(PARSERS)}, got {params['parse']!r}.")

    return check


def _check_scale(params: dict[str, Any]) -> None:
    scale = params["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0 or not math.isfinite(scale):
        raise InputError(f"gaussian scale must be a positive number, got {scale!r}.")
    _check_parse("gaussian")(params)


register(Similarity("exact", _exact, doc="1 if the stripped strings are equal, else 0"))
register(Similarity("numeric_abs", _numeric_abs, defaults={"parse": "number"}, check=_check_parse("numeric_abs"),
                    numeric=True, doc="1 - |a-b| / max(|a|,|b|), clipped to [0, 1]; 1 when both are 0 "
                    "(parse: number, duration in seconds or date in days)"))
register(Similarity("gaussian", _gaussian, defaults={"scale": REQUIRED, "parse": "number"}, check=_check_scale,
                    numeric=True, doc="exp(-((a-b)/scale)^2 / 2) (parse: number, duration in seconds or date in days)"))


# ----------------------------------------------------------------------------- token sets and TF-IDF


def _token_jaccard(values: ColumnValues, **_) -> np.ndarray:
    if len(values.vocabulary) == 0:
        return np.zeros(len(values), dtype=np.float32)
    vectors = binary_token_vectors(values.vocabulary)
    # Missing pairs (code -1) read row 0 here; the map zeroes them afterwards.
    lc, rc = np.maximum(values.left_codes, 0), np.maximum(values.right_codes, 0)
    inter = rowwise_dot(vectors, lc, rc)
    sizes = np.asarray(vectors.sum(axis=1)).reshape(-1)
    union = sizes[lc] + sizes[rc] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(union > 0, inter / union, 0.0)
    return score.astype(np.float32)


def _tfidf_vectors(analyzer: str) -> Callable[..., tuple[Any, str]]:
    def vectors(values: ColumnValues, *, ngram_range, lowercase, sublinear_tf, **_):
        return tfidf_vectors(values.vocabulary, analyzer=analyzer, ngram_range=tuple(ngram_range),
                             lowercase=lowercase, sublinear_tf=sublinear_tf), "cosine"

    return vectors


def _token_vectors(values: ColumnValues, **_) -> tuple[Any, str]:
    return binary_token_vectors(values.vocabulary), "jaccard"


def _tfidf(analyzer: str) -> Callable[..., np.ndarray]:
    def compute(values: ColumnValues, *, ngram_range, lowercase, sublinear_tf, **_):
        vectors = tfidf_vectors(values.vocabulary, analyzer=analyzer, ngram_range=tuple(ngram_range),
                                lowercase=lowercase, sublinear_tf=sublinear_tf)
        lc, rc = np.maximum(values.left_codes, 0), np.maximum(values.right_codes, 0)
        # Rows are L2-normalised, so the dot product is the cosine; clip float error above 1.
        return np.minimum(rowwise_dot(vectors, lc, rc), 1.0).astype(np.float32)

    return compute


def _check_tfidf(params: dict[str, Any]) -> None:
    ngram = params["ngram_range"]
    if (not isinstance(ngram, (list, tuple)) or len(ngram) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in ngram)
            or not 1 <= ngram[0] <= ngram[1]):
        raise InputError(f"ngram_range must be two integers [low, high] with 1 <= low <= high, got {ngram!r}.")
    for key in ("lowercase", "sublinear_tf"):
        if not isinstance(params[key], bool):
            raise InputError(f"{key} must be true or false, got {params[key]!r}.")


register(Similarity("token_jaccard", _token_jaccard, vectors=_token_vectors,
                    doc="|A & B| / |A | B| over sets of whitespace-separated tokens"))
register(Similarity("tfidf_char", _tfidf("char_wb"), vectors=_tfidf_vectors("char_wb"),
                    defaults={"ngram_range": [2, 4], "lowercase": True, "sublinear_tf": False},
                    check=_check_tfidf,
                    doc="TF-IDF cosine over character n-grams (of a value's first 2,000 characters)"))
register(Similarity("tfidf_word", _tfidf("word"), vectors=_tfidf_vectors("word"),
                    defaults={"ngram_range": [1, 1], "lowercase": True, "sublinear_tf": False},
                    check=_check_tfidf, doc="TF-IDF cosine over words"))
