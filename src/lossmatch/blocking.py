"""Candidate pairs from blocking rules, as sorted int64 pair keys.

Comparing every left record with every right record is quadratic (25M pairs for
FEBRL4); blocking keeps only pairs that agree on some key. Rules come from the
``data.blocking`` list of the config, one dict each:

- ``{method: block, on: col}`` (or ``on: [c1, c2]``, or ``left_on``/``right_on``):
  pairs whose key values are equal; records with a missing key are skipped.
- ``{method: sortedneighbourhood, on: col, window: 5}``: pairs whose key values are
  within ``(window - 1) / 2`` distinct values of each other in sorted order (catches
  typos that exact blocks miss); ``window`` must be odd. Same pairs as recordlinkage's
  ``SortedNeighbourhood``.
- ``{method: token, on: title, max_df: 50}``: pairs of records that share a word
  (lower-cased runs of letters and digits) in the listed columns, counting only words
  found in at most ``max_df`` records of each table (an integer, or a fraction of the
  table's records), so that stop-words such as "the" or "inc" do not pair everything
  with everything: each word adds at most ``max_df ** 2`` pairs. Without ``on`` the
  words come from the whole record: every column except those in ``exclude`` (list
  the id columns there, or equal ids would pair records).
- ``{method: full}``: all pairs, for small tables only.

The candidate set is the union over rules. Every rule produces the int64 keys
``left_pos * n_right + right_pos`` (:func:`lossmatch.common.pair_keys`), and the union
is one sort of those keys: linear in the number of pairs, where recordlinkage's
``Index`` (a pandas MultiIndex union per rule) grew with exponent 1.5. Measure the
result with :func:`pair_completeness`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lossmatch.common import contains_pairs, split_keys
from lossmatch.data.checks import check_columns
from lossmatch.errors import InputError

__all__ = [
    "candidate_keys",
    "candidate_pairs",
    "equi_join",
    "pair_completeness",
    "record_tokens",
    "recordlinkage_pairs",
    "rule_keys",
    "unique_sorted",
    "validate_rules",
]

_KEYS = {
    "block": {"method", "on", "left_on", "right_on"},
    "sortedneighbourhood": {"method", "on", "left_on", "right_on", "window"},
    "token": {"method", "on", "left_on", "right_on", "max_df", "exclude"},
    "full": {"method"},
}
# Default word cap of token rules: a word shared by 50 x 50 records adds 2,500 pairs at most.
DEFAULT_MAX_DF = 50
# Pairs built per slice of left rows: bounds the temporary arrays of a join to ~0.3 GB.
_JOIN_SLICE = 8_000_000
# A word: a run of letters and digits (Unicode), after lower-casing.
_WORD = re.compile(r"[^\W_]+")


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_max_df(value, here: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{here}.max_df: expected a positive integer or a fraction in (0, 1], got {value!r}")
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise InputError(f"{here}.max_df: expected a positive integer or a fraction in (0, 1], got {value!r}")
        return int(value)
    if not 0.0 < value <= 1.0:
        raise InputError(f"{here}.max_df: expected a positive integer or a fraction in (0, 1], got {value!r}")
    return float(value)


def validate_rules(
    rules: Iterable[Mapping] | None,
    left: pd.DataFrame | None = None,
    right: pd.DataFrame | None = None,
    where: str = "data.blocking",
) -> list[dict]:
    """Return the rules as plain dicts with ``left_on``/``right_on`` lists, or raise InputError.

    With ``left`` and ``right`` given, also checks that every key column exists,
    which is cheap and lets sources reject a bad rule before any pairwise work.
    Token rules without ``on`` keep ``left_on``/``right_on`` as ``None`` (whole record)
    and get ``exclude`` (a list) and ``max_df`` filled in.
    """
    if rules is None or isinstance(rules, (str, Mapping)) or len(list(rules)) == 0:
        raise InputError(
            f"{where}: expected a non-empty list of rules like [{{method: block, on: col}}] "
            f"(use [{{method: full}}] for all pairs), got {rules!r}"
        )
    out = []
    for i, rule in enumerate(rules):
        here = f"{where}[{i}]"
        if not isinstance(rule, Mapping) or "method" not in rule:
            raise InputError(f"{here}: expected a dict with a 'method' key, got {rule!r}")
        # YAML 1.1 (used by OmegaConf) reads a bare `on:` key as the boolean true.
        rule = {("on" if k is True else k): rule[k] for k in rule}
        method = str(rule["method"]).lower()
        if method not in _KEYS:
            raise InputError(
                f"{here}: unknown method {rule['method']!r}; expected one of {sorted(_KEYS)}"
            )
        unknown = set(rule) - _KEYS[method]
        if unknown:
            raise InputError(
                f"{here}: unknown keys {sorted(unknown)} for method {method!r}; "
                f"expected {sorted(_KEYS[method] - {'method'})}"
            )
        clean = {"method": method}
        whole_record = method == "token" and not ({"on", "left_on", "right_on"} & set(rule))
        if method != "full" and not whole_record:
            if "on" in rule and ("left_on" in rule or "right_on" in rule):
                raise InputError(f"{here}: give either 'on' or 'left_on'/'right_on', not both")
            if "on" in rule:
                left_on = right_on = _as_list(rule["on"])
            elif "left_on" in rule and "right_on" in rule:
                left_on, right_on = _as_list(rule["left_on"]), _as_list(rule["right_on"])
            else:
                raise InputError(f"{here}: method {method!r} needs 'on' (or 'left_on' and 'right_on')")
            if not left_on or (method != "token" and len(left_on) != len(right_on)) or not right_on:
                raise InputError(
                    f"{here}: expected as many left_on as right_on columns (at least one), "
                    f"got {left_on} and {right_on}"
                )
            if method == "sortedneighbourhood" and len(left_on) != 1:
                raise InputError(f"{here}: sortedneighbourhood sorts on one column, got {left_on}")
            if left is not None:
                check_columns(left, left_on, f"{here} (left table)")
            if right is not None:
                check_columns(right, right_on, f"{here} (right table)")
            clean.update(left_on=left_on, right_on=right_on)
        if method == "sortedneighbourhood":
            window = rule.get("window", 3)
            if not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
                raise InputError(f"{here}.window: expected an odd positive integer, got {window!r}")
            clean["window"] = int(window)
        if method == "token":
            if not whole_record and "exclude" in rule:
                raise InputError(f"{here}: 'exclude' is for whole-record token rules (without 'on')")
            if whole_record:
                exclude = _as_list(rule.get("exclude") or [])
                for column in exclude:
                    in_left = left is None or column in left.columns
                    in_right = right is None or column in right.columns
                    if not (in_left or in_right):
                        raise InputError(f"{here}.exclude: column {column!r} is in neither table")
                clean.update(left_on=None, right_on=None, exclude=exclude)
            clean["max_df"] = _check_max_df(rule.get("max_df", DEFAULT_MAX_DF), here)
        out.append(clean)
    return out


# ----------------------------------------------------------------------------- joins on int64 codes


def unique_sorted(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array.

    Written out (sort, then drop repeats) because ``np.unique`` in NumPy 2.4 took 44 s
    for 20 M int64 keys on this machine, where this takes 0.5 s.
    """
    keys = np.sort(np.asarray(keys, dtype=np.int64))
    if len(keys) < 2:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def equi_join(left_codes: np.ndarray, left_rows: np.ndarray, right_codes: np.ndarray, right_rows: np.ndarray,
              n_right: int) -> np.ndarray:
    """Pair keys ``left_row * n_right + right_row`` of every pair with equal codes.

    Codes are non-negative ints (one per distinct key value; drop missing keys before).
    A counting sort of the right side, then each left row is repeated once per right row
    of its code: vectorised and linear in the output, with no hash table of objects
    (10x faster than the pandas merge inside recordlinkage's ``Block`` on FEBRL4 x 10).
    """
    left_codes = np.asarray(left_codes, dtype=np.int64)
    right_codes = np.asarray(right_codes, dtype=np.int64)
    if len(left_codes) == 0 or len(right_codes) == 0:
        return np.zeros(0, dtype=np.int64)
    n_codes = int(max(left_codes.max(), right_codes.max())) + 1
    order = np.argsort(right_codes, kind="stable")
    right_sorted = np.asarray(right_rows, dtype=np.int64)[order]
    count = np.bincount(right_codes, minlength=n_codes)
    start = np.cumsum(count) - count
    reps = count[left_codes]
    left_rows = np.asarray(left_rows, dtype=np.int64)
    # Slices of left rows whose pairs fit in _JOIN_SLICE keep the temporaries bounded.
    ends = np.cumsum(reps)
    cuts = np.searchsorted(ends, np.arange(_JOIN_SLICE, int(ends[-1]), _JOIN_SLICE), side="right")
    pieces = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(reps)]):
        r = reps[lo:hi]
        total = int(r.sum())
        if total == 0:
            continue
        offsets = np.cumsum(r) - r
        # For output slot t of left row i: right_sorted[start[code_i] + (t - offsets[i])].
        where = np.arange(total, dtype=np.int64) + np.repeat(start[left_codes[lo:hi]] - offsets, r)
        pieces.append(np.repeat(left_rows[lo:hi] * np.int64(n_right), r) + right_sorted[where])
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)


def _column_codes(left: pd.DataFrame, right: pd.DataFrame, left_column: str, right_column: str,
                  memo: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Codes of one left column and one right column factorised together (equal values, equal
    codes; -1 for None/NaN, as recordlinkage's ``dropna``), and the distinct values.

    ``memo`` keeps them for the other rules of the same call (names often recur in rules).
    """
    if memo is not None and (left_column, right_column) in memo:
        return memo[left_column, right_column]
    both = np.concatenate([left[left_column].to_numpy(dtype=object), right[right_column].to_numpy(dtype=object)])
    codes, uniques = pd.factorize(both)
    result = codes.astype(np.int64), np.asarray(uniques, dtype=object)
    if memo is not None:
        memo[left_column, right_column] = result
    return result


def _codes(left: pd.DataFrame, right: pd.DataFrame, left_on: list[str], right_on: list[str],
           memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One int64 code per row for a (multi-column) key, equal across tables for equal values;
    -1 where any key column is missing."""
    combined = None
    for lc, rc in zip(left_on, right_on):
        codes, uniques = _column_codes(left, right, lc, rc, memo)
        if combined is None:
            combined = codes
        else:
            missing = (combined < 0) | (codes < 0)
            # Mixed radix, then renumber, so codes stay below the number of rows.
            combined = pd.factorize(combined * np.int64(len(uniques) + 1) + codes)[0].astype(np.int64)
            combined[missing] = -1
    return combined[: len(left)], combined[len(left):]


def _join_present(left_codes: np.ndarray, right_codes: np.ndarray, n_right: int) -> np.ndarray:
    lk, rk = left_codes >= 0, right_codes >= 0
    return equi_join(left_codes[lk], np.flatnonzero(lk), right_codes[rk], np.flatnonzero(rk), n_right)


def _block_keys(left: pd.DataFrame, right: pd.DataFrame, rule: dict, memo: dict | None = None) -> np.ndarray:
    lc, rc = _codes(left, right, rule["left_on"], rule["right_on"], memo)
    return _join_present(lc, rc, len(right))


def _sort_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort`` of distinct values, in Python's order (strings by code point).

    Strings are sorted as fixed-width NumPy strings when that takes under 256 MB: 5x faster
    than comparing Python objects (0.3 s instead of 1.5 s for 400,000 ids)."""
    if len(values) and all(isinstance(v, str) for v in values):
        if len(values) * max(map(len, values)) * 4 <= 256 * 2**20:
            return np.argsort(values.astype(str), kind="stable")
        return np.argsort(values.astype(np.dtypes.StringDType()), kind="stable")
    return np.argsort(values, kind="stable")


def _sorted_ranks(left: pd.DataFrame, right: pd.DataFrame, left_column: str, right_column: str,
                  memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each value among the sorted distinct non-missing values of both columns (-1: missing)."""
    codes, uniques = _column_codes(left, right, left_column, right_column, memo)
    # Sorted as recordlinkage sorts them (np.unique of the values); rank = position.
    rank_of_code = np.empty(len(uniques), dtype=np.int64)
    rank_of_code[_sort_order(uniques)] = np.arange(len(uniques))
    ranks = np.where(codes >= 0, rank_of_code[np.maximum(codes, 0)], -1)
    return ranks[: len(left)], ranks[len(left):]


def _sorted_neighbourhood_keys(left: pd.DataFrame, right: pd.DataFrame, rule: dict, memo: dict | None = None
                               ) -> np.ndarray:
    lr, rr = _sorted_ranks(left, right, rule["left_on"][0], rule["right_on"][0], memo)
    half = (rule["window"] - 1) // 2
    # Within the window: rank_l == rank_r + k for k in [-half, half]; one equi-join per k,
    # codes shifted by `half` so they stay non-negative. Each k gives distinct pairs.
    lr = np.where(lr >= 0, lr + half, -1)
    pieces = [_join_present(lr, np.where(rr >= 0, rr + half + k, -1), len(right)) for k in range(-half, half + 1)]
    return np.concatenate(pieces)


def record_tokens(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Distinct (row position, word) pairs of ``frame``'s ``columns``: the documents of token rules.

    Words are lower-cased runs of letters and digits of each cell's text (as the similarity
    map reads it: "4223.0" from a gappy integer column is "4223"). Each distinct cell value
    is split once. Returns int64 ``row`` and object ``token`` columns.
    """
    from lossmatch.similarity.functions import _to_text  # the map's own text of a cell

    rows, tokens = [], []
    for column in columns:
        codes, uniques = pd.factorize(frame[column].to_numpy(dtype=object))
        words = [_WORD.findall(_to_text(v).lower()) for v in uniques]
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        flat = np.array([t for w in words for t in w], dtype=object)
        present = codes >= 0
        row = np.flatnonzero(present).astype(np.int64)
        code = codes[present].astype(np.int64)
        reps = lengths[code]
        starts = np.cumsum(lengths) - lengths
        within = np.arange(int(reps.sum()), dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
        rows.append(np.repeat(row, reps))
        tokens.append(flat[np.repeat(starts[code], reps) + within] if len(flat) else np.zeros(0, dtype=object))
    out = pd.DataFrame({"row": np.concatenate(rows) if rows else np.zeros(0, np.int64),
                        "token": np.concatenate(tokens) if tokens else np.zeros(0, object)})
    return out.drop_duplicates(ignore_index=True)


def token_columns(frame: pd.DataFrame, rule: dict, side: str) -> list[str]:
    """The columns a token rule reads on ``side`` ("left" or "right")."""
    named = rule[f"{side}_on"]
    if named is not None:
        return list(named)
    return [c for c in frame.columns if c not in set(rule["exclude"])]


def _cap(max_df: float, n_records: int) -> float:
    return float(max_df) if isinstance(max_df, int) else max_df * n_records


def _token_keys(left: pd.DataFrame, right: pd.DataFrame, rule: dict) -> np.ndarray:
    lt = record_tokens(left, token_columns(left, rule, "left"))
    rt = record_tokens(right, token_columns(right, rule, "right"))
    codes, _ = pd.factorize(np.concatenate([lt["token"].to_numpy(), rt["token"].to_numpy()]))
    lc, rc = codes[: len(lt)].astype(np.int64), codes[len(lt):].astype(np.int64)
    n = int(codes.max()) + 1 if len(codes) else 0
    # Document frequency per side: (row, word) pairs are distinct, so a count is a record count.
    common = (np.bincount(lc, minlength=n) <= _cap(rule["max_df"], len(left))) & (
        np.bincount(rc, minlength=n) <= _cap(rule["max_df"], len(right)))
    lk, rk = common[lc], common[rc]
    return equi_join(lc[lk], lt["row"].to_numpy()[lk], rc[rk], rt["row"].to_numpy()[rk], len(right))


def rule_keys(left: pd.DataFrame, right: pd.DataFrame, rule: dict, memo: dict | None = None) -> np.ndarray:
    """Pair keys of one validated rule (may hold repeats for token rules; unsorted).

    ``memo``: a dict shared by the rules of one call, so a column is factorised once.
    """
    method = rule["method"]
    if method == "full":
        return np.arange(len(left) * len(right), dtype=np.int64)
    if method == "block":
        return _block_keys(left, right, rule, memo)
    if method == "sortedneighbourhood":
        return _sorted_neighbourhood_keys(left, right, rule, memo)
    return _token_keys(left, right, rule)


def candidate_keys(left: pd.DataFrame, right: pd.DataFrame, rules, *, progress: bool | None = None) -> np.ndarray:
    """Sorted, distinct int64 pair keys (``left_pos * len(right) + right_pos``) of the union of ``rules``.

    ``progress``: one tqdm step per rule on stderr; ``None`` shows it from 100,000 records.
    """
    rules = validate_rules(rules, left, right)
    show = (len(left) + len(right) >= 100_000) if progress is None else bool(progress)
    pieces, memo = [], {}
    for rule in tqdm(rules, desc="blocking", unit="rule", disable=not show, file=sys.stderr):
        pieces.append(rule_keys(left, right, rule, memo))
    return unique_sorted(np.concatenate(pieces))


def candidate_pairs(left: pd.DataFrame, right: pd.DataFrame, rules, *, progress: bool | None = None) -> pd.DataFrame:
    """Union of the pairs produced by ``rules``.

    Returns a DataFrame with int64 columns ``left`` and ``right`` holding row
    positions in ``left`` and ``right``; pairs are unique and sorted.
    """
    return split_keys(candidate_keys(left, right, rules, progress=progress), len(right))


def recordlinkage_pairs(left: pd.DataFrame, right: pd.DataFrame, rules) -> pd.DataFrame:
    """The same pairs computed by recordlinkage's indexers and their MultiIndex union.

    This was lossmatch's blocking before int64 keys; it stays as the reference that the
    tests and ``bench/blocking_speed.py`` compare with. Token rules have no recordlinkage
    counterpart and are refused.
    """
    import recordlinkage
    from recordlinkage.index import Block, Full, SortedNeighbourhood

    indexer = recordlinkage.Index()
    for rule in validate_rules(rules, left, right):
        if rule["method"] == "token":
            raise ValueError("recordlinkage_pairs: recordlinkage has no token indexer")
        if rule["method"] == "full":
            indexer.add(Full())
        elif rule["method"] == "block":
            indexer.add(Block(left_on=rule["left_on"], right_on=rule["right_on"]))
        else:
            indexer.add(SortedNeighbourhood(left_on=rule["left_on"][0], right_on=rule["right_on"][0],
                                            window=rule["window"]))
    # A RangeIndex makes the MultiIndex codes row positions.
    index = indexer.index(left.reset_index(drop=True), right.reset_index(drop=True))
    out = pd.DataFrame({"left": index.codes[0].astype(np.int64), "right": index.codes[1].astype(np.int64)})
    return out.drop_duplicates().sort_values(["left", "right"]).reset_index(drop=True)


def pair_completeness(candidates: pd.DataFrame | np.ndarray, matches: pd.DataFrame, n_right: int | None = None) -> float:
    """Fraction of the true matches that are among the candidates (1.0 if no matches).

    ``candidates``: a pairs frame, or the sorted keys of :func:`candidate_keys` (then give
    ``n_right``). Membership is a binary search on sorted int64 keys.
    """
    true = matches[["left", "right"]].drop_duplicates()
    if len(true) == 0:
        return 1.0
    if isinstance(candidates, pd.DataFrame):
        # Any n_right above every right position gives distinct keys for both frames.
        n_right = int(max(candidates["right"].to_numpy().max(initial=-1), true["right"].max())) + 1
    elif n_right is None:
        raise ValueError("pair_completeness: pass n_right with candidate keys")
    return float(contains_pairs(true, candidates, n_right).mean())
