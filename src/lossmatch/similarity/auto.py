"""``similarity=auto``: infer a similarity map from the two tables' columns, no hand-written map needed.

:func:`infer_map` profiles every column (on the non-missing values of both tables together)
and writes an ordinary map spec, a plain dict that is logged and saved like any map, so a user
can save it, edit it and pass it back as a hand-written map.

Columns are paired by name. What a column gets depends on its *kind*:

==========  =========================================================  ==================================
kind        detected by                                                similarities
==========  =========================================================  ==================================
numeric     >= 80 % of values are one number (units, currency and      exact, levenshtein (identifiers such
            thousands separators allowed, no letters), or >= 50 %      as postcodes), numeric_abs, gaussian
            and the rest at most 3 distinct words ("album only",       (scale: the values' spread)
            "n/a": placeholders, missing for the numeric similarities)
            or >= 80 % durations "m:ss" / "h:mm:ss" (parse: duration,  the same, parsed; plus a gaussian of
            in seconds) or >= 80 % dates that name their year, in any  scale 1 (a second, a day); dates get
            spelling (parse: date, in days; see ``formats.py``)        no numeric_abs (a date has no zero)
code        short values (<= 4 words) whose words mostly contain       exact, levenshtein, jaro_winkler,
            digits (phone numbers, model numbers)                      partial_ratio, code_jaccard,
                                                                       code_overlap, tfidf_char, length_ratio
long        >= 20 words on average (descriptions)                      TF-IDF, token and code sets,
                                                                       length_ratio (no O(n*m) edit
                                                                       distances on long text)
text        everything else                                            12 string similarities: edit, token
                                                                       and TF-IDF (word and char)
==========  =========================================================  ==================================

and every column also gets ``missing_left`` and ``missing_right``. Then:

- ``exact`` is dropped where the two sides share no value at all (it would be 0 on every pair,
  e.g. phone numbers formatted differently on each side).
- A *mostly missing* column (>= 80 % missing on either side) keeps a short list: its
  similarities mostly see "missing", and with few labelled pairs many of them only add noise.
- Cross-attribute entries ``X~*`` and ``*~X`` (``token_overlap``) find a value of X anywhere in
  the other record: in the dirty benchmark sets about half of each attribute's values were moved
  into another attribute, where a map that compares X only with X sees "missing".
- A column that cannot be compared attribute to attribute (present in one table only, or all
  missing in one table) gets no per-attribute entry; its values on the side that has them are
  compared with the other side's whole record and join that side's record. One warning line names
  these columns and why. A table with no column with values at all (its record would be empty)
  is an ``InputError``, before any training.
- The whole record ``*`` gets TF-IDF word and character cosines, token and code overlaps and,
  when both tables' distinct records multiply to at most ``max_context_cells`` (a fifth of it
  for character n-grams, whose table product costs more), the unsupervised table-context
  features of its TF-IDF cosines (see ``context.py``).

Every threshold is a constant below, chosen by reasoning about the kinds of columns, not tuned to
any data set. :func:`resolve_similarity_map` combines the inferred map with hand-written entries.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from lossmatch.errors import InputError
from lossmatch.similarity.functions import PARSERS, column_texts
from lossmatch.similarity.map import SimilarityMap, _parse_key, _to_plain
from lossmatch.similarity.record import RECORD
from lossmatch.similarity.tokens import code_tokens
from lossmatch.similarity.words import words

__all__ = ["ColumnProfile", "infer_map", "profile_columns", "resolve_similarity_map"]

log = logging.getLogger(__name__)

# A share of values at or above which a column is numeric / a mostly-missing column.
NUMERIC_SHARE = 0.8
MOSTLY_MISSING = 0.8
# Short values (at most this many words) whose words mostly contain digits are codes.
CODE_MAX_WORDS = 4
CODE_WORD_SHARE = 0.5
# From this many words on average a column is long text.
LONG_WORDS = 20
# rapidfuzz scorers on the whole record only while records stay this short (in words).
RECORD_FUZZ_MAX_WORDS = 40
# Table context needs distinct-left x distinct-right scores: skip it above this many cells
# (word TF-IDF), or above this many divided by CHAR_CONTEXT_COST (character n-grams).
MAX_CONTEXT_CELLS = 50_000_000
CHAR_CONTEXT_COST = 5

# One number with optional currency, unit or percent sign around it, and no letters.
_STRICT_NUMBER = re.compile(r"^[^\w]*[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?[^\w]*$")

_ENTRIES: dict[str, list[Any]] = {
    "text": ["exact", "jaro_winkler", "levenshtein", "token_sort_ratio", "token_set_ratio", "partial_ratio",
             "token_jaccard", "token_overlap", "tfidf_word", "tfidf_char", "length_ratio"],
    "code": ["exact", "levenshtein", "jaro_winkler", "partial_ratio", "code_jaccard", "code_overlap",
             "tfidf_char", "length_ratio"],
    "numeric": ["exact", "levenshtein", "numeric_abs"],  # + gaussian with the column's scale
    "long": ["tfidf_word", "tfidf_char", "token_jaccard", "token_overlap", "code_jaccard", "code_overlap",
             "code_disjoint", "length_ratio"],
}
_MOSTLY_MISSING_ENTRIES: dict[str, list[Any]] = {
    "text": ["exact", "jaro_winkler", "token_set_ratio"],
    "code": ["exact", "levenshtein", "code_overlap"],
    "numeric": ["exact", "numeric_abs"],
    "long": ["tfidf_word", "token_overlap"],
}
_SIDES = ["missing_left", "missing_right"]
_CROSS = ["token_overlap"]
_ONE_SIDED = ["token_overlap", "code_overlap"]

# Numbers among a few repeated words ("album only", "n/a"): still numeric from this share of
# numbers on, when the other values have at most this many distinct spellings (placeholders;
# many distinct words are text that happens to hold numbers).
PLACEHOLDER_NUMERIC_SHARE = 0.5
MAX_PLACEHOLDERS = 3
# Formats read by another parser than plain numbers, tried in this order on a column that is
# not numeric (a duration "3:45" is no date, a date "2013-10-21" no duration).
_OTHER_FORMATS = ("duration", "date")
# Durations and dates are a few words ("October 21, 2013", "Wed 21 Oct 2013 10:30"): a column
# longer than this on average is not tried. dateutil costs milliseconds on a long text with a
# digit, about a minute over a fifth of Company-size texts before the check gives up.
FORMAT_MAX_WORDS = 8


@dataclass(frozen=True)
class ColumnProfile:
    """What :func:`infer_map` measured on one column (shares are over non-missing values)."""

    column: str
    kind: str  # numeric | code | long | text | one-sided
    missing_left: float
    missing_right: float
    numeric_share: float
    distinct_share: float
    mean_words: float
    code_word_share: float
    shared_values: int  # distinct values found on both sides
    scale: float | None  # spread of the numbers (numeric kind), in the parser's unit
    parse: str | None = None  # how a numeric column's values are read: number | duration | date

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _strict_number(text: str) -> float:
    if not _STRICT_NUMBER.match(text) or not any(ch.isdigit() for ch in text):
        return math.nan
    return float(re.sub(r"[^\d.+-]", "", text))


def _spread(numbers: np.ndarray) -> float:
    """A robust scale for ``gaussian``: half the inter-quartile range, else the std, else 1."""
    if len(numbers) == 0:
        return 1.0
    q1, q3 = np.percentile(numbers, [25, 75])
    scale = (q3 - q1) / 2 or float(np.std(numbers)) or 1.0
    return float(f"{scale:.3g}")  # three significant digits: a readable map


def _profile(name: str, left: pd.Series | None, right: pd.Series | None) -> ColumnProfile:
    texts = {side: (column_texts(col) if col is not None else np.array([], dtype=object))
             for side, col in (("left", left), ("right", right))}
    missing = {side: (float(np.mean(t == "")) if len(t) else 1.0) for side, t in texts.items()}
    present = np.concatenate([t[t != ""] for t in texts.values()])
    # Profile each distinct value once, weighted by how often it occurs.
    # Sorted as Python strings: a fixed-width copy (astype(str)) is as wide as the longest value,
    # gigabytes for 56k long texts (DeepMatcher's Company); same values, same order.
    values, counts = np.unique(present, return_counts=True) if len(present) else ([], [])
    weights = np.asarray(counts, dtype=np.float64)
    total = weights.sum() or 1.0
    numbers = np.array([_strict_number(v) for v in values], dtype=np.float64)
    is_number = ~np.isnan(numbers)
    numeric_share = float(weights[is_number].sum() / total)
    # The cached word tuples themselves (no list copies): the features read the same cache later.
    value_words = [words(v) for v in values]
    n_words = np.array([len(w) for w in value_words], dtype=np.float64)
    code_share = np.array([len(code_tokens(v)) / len(w) if w else 0.0 for v, w in zip(values, value_words)])
    mean_words = float((n_words * weights).sum() / total)
    code_word_share = float((code_share * weights).sum() / total)
    distinct_share = float(len(values) / total) if len(present) else 0.0
    distinct = {side: set(t[t != ""].tolist()) for side, t in texts.items()}
    shared = len(distinct["left"] & distinct["right"])

    parse = None
    if left is None or right is None or missing["left"] == 1.0 or missing["right"] == 1.0:
        kind = "one-sided"
    elif numeric_share >= NUMERIC_SHARE:
        kind, parse = "numeric", "number"
    elif mean_words <= FORMAT_MAX_WORDS and (other := _other_format(values, weights)) is not None:
        (kind, parse), numbers = ("numeric", other[0]), other[1]
        is_number = ~np.isnan(numbers)
    elif numeric_share >= PLACEHOLDER_NUMERIC_SHARE and (~is_number).sum() <= MAX_PLACEHOLDERS:
        kind, parse = "numeric", "number"
    elif mean_words <= CODE_MAX_WORDS and code_word_share >= CODE_WORD_SHARE:
        kind = "code"
    elif mean_words >= LONG_WORDS:
        kind = "long"
    else:
        kind = "text"
    scale = _spread(numbers[is_number].repeat(weights[is_number].astype(int))) if kind == "numeric" else None
    return ColumnProfile(name, kind, round(missing["left"], 4), round(missing["right"], 4),
                         round(numeric_share, 4), round(distinct_share, 4), round(mean_words, 2),
                         round(code_word_share, 4), shared, scale, parse)


def _other_format(values: list[str] | np.ndarray, weights: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The first of ``_OTHER_FORMATS`` that reads >= ``NUMERIC_SHARE`` of the values, with the numbers read.

    The most frequent values are tried first and a format is given up as soon as more than
    1 - NUMERIC_SHARE of the weight fails: a column of titles costs a handful of parses, not one per value.
    """
    total = weights.sum()
    if not total:
        return None
    order = np.argsort(-weights, kind="stable")
    for parse in _OTHER_FORMATS:
        numbers = np.full(len(values), np.nan)
        failed = 0.0
        for i in order:
            numbers[i] = PARSERS[parse](values[i])
            if np.isnan(numbers[i]):
                failed += weights[i]
                if failed > (1 - NUMERIC_SHARE) * total:
                    break
        else:
            return parse, numbers
    return None


def profile_columns(left_df: pd.DataFrame, right_df: pd.DataFrame, *, ignore: Iterable[str] = ()) -> list[ColumnProfile]:
    """One profile per column of either table (left's order, then right-only ones), ``ignore`` left out."""
    ignored = set(ignore)
    for frame, name in ((left_df, "left"), (right_df, "right")):
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        if duplicated:
            raise InputError(f"similarity=auto: the {name} table has duplicate column(s) {duplicated}.")
        if RECORD in frame.columns and RECORD not in ignored:
            raise InputError(f"similarity=auto: the {name} table has a column named {RECORD!r}, which a map "
                             "uses for the whole record; rename it.")
    names = [c for c in dict.fromkeys([*left_df.columns, *right_df.columns]) if c not in ignored]
    if not names:
        raise InputError("similarity=auto: the tables have no column to compare besides the ignored ones "
                         f"{sorted(map(str, ignored))}.")
    return [_profile(str(c), left_df[c] if c in left_df.columns else None,
                     right_df[c] if c in right_df.columns else None) for c in names]


def _entries(profile: ColumnProfile) -> list[Any]:
    mostly_missing = max(profile.missing_left, profile.missing_right) >= MOSTLY_MISSING
    entries = list((_MOSTLY_MISSING_ENTRIES if mostly_missing else _ENTRIES)[profile.kind])
    if profile.kind == "numeric" and not mostly_missing:
        entries.append({"name": "gaussian", "scale": profile.scale})
    if profile.parse in _OTHER_FORMATS:
        entries = _parsed_entries(entries, profile.parse)
    if profile.shared_values == 0:
        # No value occurs on both sides: exact would be 0 on every pair.
        entries = [e for e in entries if e != "exact"]
    return entries + _SIDES


def _parsed_entries(entries: list[Any], parse: str) -> list[Any]:
    """A numeric column's entries for values read as durations or dates.

    The numeric similarities read the values with ``parse``; a gaussian of scale 1 (one second,
    one day) says "the same, give or take one unit", which the spread's gaussian cannot tell on
    values that spread over years. A date has no natural zero, so no relative difference
    (``numeric_abs``) for it.
    """
    parsed: list[Any] = []
    for entry in entries:
        if entry == "numeric_abs" and parse == "date":
            continue
        if entry == "numeric_abs":
            parsed.append({"name": "numeric_abs", "parse": parse})
        elif isinstance(entry, dict) and entry["name"] == "gaussian":
            parsed.append({**entry, "parse": parse})
        else:
            parsed.append(entry)
    unit = {"name": "gaussian", "scale": 1, "parse": parse}
    return parsed + ([unit] if unit not in parsed else [])


def _why_not_compared(profile: ColumnProfile, left_df: pd.DataFrame, right_df: pd.DataFrame,
                      names: tuple[str, str]) -> str:
    """Why a one-sided column cannot be compared attribute to attribute, for a message."""
    in_left, in_right = profile.column in left_df.columns, profile.column in right_df.columns
    if not in_right or not in_left:
        side = names[0] if in_left else names[1]
        empty = (profile.missing_left if in_left else profile.missing_right) == 1.0
        return f"is only in the {side}" + (", and empty there" if empty else "")
    if profile.missing_left == profile.missing_right == 1.0:
        return "is empty in both tables"
    return f"is empty in the {names[0] if profile.missing_left == 1.0 else names[1]}"


def _reasons_text(reasons: Mapping[str, str]) -> str:
    return ", ".join(f"{column!r} {why}" for column, why in reasons.items())


def infer_map(left_df: pd.DataFrame, right_df: pd.DataFrame, *, ignore: Iterable[str] = (),
              context: bool = True, max_context_cells: int = MAX_CONTEXT_CELLS,
              names: tuple[str, str] = ("left table", "right table")) -> dict[str, list[Any]]:
    """A similarity map spec (plain dict) for the two tables, inferred from their columns.

    Args:
        left_df, right_df: the two tables (all rows: the profile and the table context use them).
        ignore: columns that are not attributes (the id columns).
        context: add table-context features to the whole-record TF-IDF cosines, when affordable.
        max_context_cells: skip context when distinct left records x distinct right records exceed this.
        names: how messages name the two tables (e.g. with their files).

    Returns:
        ``{key: [similarity, ...]}`` for :class:`SimilarityMap`; see the module docstring for the rules.

    Raises:
        InputError: a table has no column with values (nothing of it can be compared).
    """
    profiles = profile_columns(left_df, right_df, ignore=ignore)
    compared = [p for p in profiles if p.kind != "one-sided"]
    one_sided = [p for p in profiles if p.kind == "one-sided"]
    reasons = {p.column: _why_not_compared(p, left_df, right_df, names) for p in one_sided}
    filled = [any(getattr(p, f"missing_{side}") < 1.0 for p in profiles) for side in ("left", "right")]
    if not all(filled):
        # Its record would be empty: entries like "*~b" with no left column, which no map can compute.
        empty = " and the ".join(name for name, has in zip(names, filled) if not has)
        raise InputError(f"similarity=auto: nothing can be compared, the {empty} "
                         f"{'has' if sum(filled) else 'have'} no column with values ({_reasons_text(reasons)}); "
                         "expected at least one column with values in each table, best one of the same name in both.")
    if one_sided:
        # Pairing by name failed for every column: say how to pair them by hand.
        hint = "" if compared else (" No column is compared by name: pair columns in similarity.map, e.g. "
                                    f"'{_first_filled(one_sided, 'left')}~{_first_filled(one_sided, 'right')}: "
                                    "[token_set_ratio]'.")
        log.warning("similarity=auto: left out of the per-attribute features, as they cannot be compared: %s; "
                    "the values they have still count in the whole-record features.%s", _reasons_text(reasons), hint)
    spec: dict[str, list[Any]] = {}
    for profile in compared:
        spec[profile.column] = _entries(profile)
    if len(compared) >= 2:
        # A value misplaced into another attribute is still found in the other side's record.
        for profile in compared:
            if profile.kind != "long":
                spec[f"{profile.column}~{RECORD}"] = list(_CROSS)
                spec[f"{RECORD}~{profile.column}"] = list(_CROSS)
    for profile in one_sided:
        # Its values are looked up in the other side's record, and join their own side's record.
        if profile.missing_left < 1.0:
            spec[f"{profile.column}~{RECORD}"] = list(_ONE_SIDED)
        if profile.missing_right < 1.0:
            spec[f"{RECORD}~{profile.column}"] = list(_ONE_SIDED)
    # Each table has a column with values, so each side's record has a column.
    spec[RECORD] = _record_entries(left_df, right_df, profiles, context, max_context_cells)
    return spec


def _first_filled(profiles: list[ColumnProfile], side: str) -> str:
    return next(p.column for p in profiles if getattr(p, f"missing_{side}") < 1.0)


def _record_entries(left_df: pd.DataFrame, right_df: pd.DataFrame, profiles: list[ColumnProfile],
                    context: bool, max_context_cells: int) -> list[Any]:
    record_words = sum(p.mean_words * (1 - (p.missing_left + p.missing_right) / 2) for p in profiles)
    columns = [p.column for p in profiles]
    distinct = [len(frame[[c for c in columns if c in frame.columns]].drop_duplicates())
                for frame in (left_df, right_df)]
    cells = distinct[0] * distinct[1]
    # Character n-grams make the table product nearly dense: about 5 to 20 times the cost of words.
    budgets = {"tfidf_word": max_context_cells, "tfidf_char": max_context_cells // CHAR_CONTEXT_COST}
    tfidf = [{"name": name, "context": True} if context and cells <= budget else name
             for name, budget in budgets.items()]
    entries = [*tfidf, "token_jaccard", "token_overlap", "code_jaccard", "code_overlap", "code_disjoint",
               "length_ratio"]
    if record_words <= RECORD_FUZZ_MAX_WORDS:
        entries.insert(2, "token_set_ratio")
    return entries


def resolve_similarity_map(config: Mapping[str, Any] | Any, left_df: pd.DataFrame, right_df: pd.DataFrame, *,
                           ignore: Iterable[str] = (),
                           names: tuple[str, str] = ("left table", "right table")) -> SimilarityMap:
    """The run's map from the ``similarity`` config: hand-written, inferred, or both.

    ``config`` holds ``map`` (hand-written entries, may be null) and ``auto`` (infer a map from
    the tables; ``auto_options`` passes ``context`` / ``max_context_cells`` to :func:`infer_map`).
    With both, a hand-written key replaces the inferred entries of that key and new keys are added.
    ``names`` name the two tables in messages.
    """
    config = _to_plain(config) or {}
    if not isinstance(config, Mapping):
        raise InputError(f"similarity config must be a mapping with 'map' and 'auto', got {config!r}.")
    auto = config.get("auto", False)
    if not isinstance(auto, bool):
        raise InputError(f"similarity.auto must be true or false, got {auto!r}.")
    hand = config.get("map")
    if not auto:
        return SimilarityMap({"map": hand})
    if hand is not None and not isinstance(hand, Mapping):
        raise InputError(f"similarity.map must be a mapping of column pairs to similarities, got {hand!r}.")
    options = config.get("auto_options") or {}
    unknown = sorted(set(options) - {"context", "max_context_cells"})
    if unknown:
        raise InputError(f"similarity.auto_options: unknown option(s) {unknown}; accepted: context, max_context_cells.")
    spec = infer_map(left_df, right_df, ignore=ignore, names=names, **options)
    # A hand-written key replaces the inferred one of the same column pair ("a" and "a~a" are one pair).
    by_pair = {_parse_key(key): key for key in spec}
    for key, entries in (hand or {}).items():
        spec.pop(by_pair.get(_parse_key(key), key), None)
        spec[key] = entries
    return SimilarityMap(spec)
