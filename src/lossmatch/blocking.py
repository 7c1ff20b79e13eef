"""Candidate pairs from blocking rules, built on recordlinkage's indexers.

Comparing every left record with every right record is quadratic (25M pairs for
FEBRL4); blocking keeps only pairs that agree on some key. Rules come from the
``data.blocking`` list of the config, one dict each:

- ``{method: block, on: col}`` (or ``on: [c1, c2]``, or ``left_on``/``right_on``):
  pairs whose key values are equal; records with a missing key are skipped.
- ``{method: sortedneighbourhood, on: col, window: 5}``: pairs whose key values are
  within ``window`` positions of each other in sorted order (catches typos that
  exact blocks miss); ``window`` must be odd.
- ``{method: full}``: all pairs, for small tables only.

The candidate set is the union over rules. Measure it with :func:`pair_completeness`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from lossmatch.data.checks import check_columns
from lossmatch.errors import InputError

_KEYS = {
    "block": {"method", "on", "left_on", "right_on"},
    "sortedneighbourhood": {"method", "on", "left_on", "right_on", "window"},
    "full": {"method"},
}


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def validate_rules(
    rules: Iterable[Mapping] | None,
    left: pd.DataFrame | None = None,
    right: pd.DataFrame | None = None,
    where: str = "data.blocking",
) -> list[dict]:
    """Return the rules as plain dicts with ``left_on``/``right_on`` lists, or raise InputError.

    With ``left`` and ``right`` given, also checks that every key column exists,
    which is cheap and lets sources reject a bad rule before any pairwise work.
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
        if method != "full":
            if "on" in rule and ("left_on" in rule or "right_on" in rule):
                raise InputError(f"{here}: give either 'on' or 'left_on'/'right_on', not both")
            if "on" in rule:
                left_on = right_on = _as_list(rule["on"])
            elif "left_on" in rule and "right_on" in rule:
                left_on, right_on = _as_list(rule["left_on"]), _as_list(rule["right_on"])
            else:
                raise InputError(f"{here}: method {method!r} needs 'on' (or 'left_on' and 'right_on')")
            if not left_on or len(left_on) != len(right_on):
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
        out.append(clean)
    return out


def _indexer(rule: dict):
    # recordlinkage takes a second or two to import: only when pairs are really built.
    from recordlinkage.index import Block, Full, SortedNeighbourhood

    if rule["method"] == "full":
        return Full()
    if rule["method"] == "block":
        return Block(left_on=rule["left_on"], right_on=rule["right_on"])
    return SortedNeighbourhood(
        left_on=rule["left_on"][0], right_on=rule["right_on"][0], window=rule["window"]
    )


def candidate_pairs(left: pd.DataFrame, right: pd.DataFrame, rules) -> pd.DataFrame:
    """Union of the pairs produced by ``rules``.

    Returns a DataFrame with int64 columns ``left`` and ``right`` holding row
    positions in ``left`` and ``right``; pairs are unique and sorted.
    """
    rules = validate_rules(rules, left, right)
    import recordlinkage

    indexer = recordlinkage.Index()
    for rule in rules:
        indexer.add(_indexer(rule))
    # A RangeIndex makes the returned MultiIndex hold row positions, not labels.
    pairs = indexer.index(left.reset_index(drop=True), right.reset_index(drop=True))
    out = pd.DataFrame(
        {
            "left": pairs.get_level_values(0).to_numpy(dtype=np.int64),
            "right": pairs.get_level_values(1).to_numpy(dtype=np.int64),
        }
    )
    return out.drop_duplicates().sort_values(["left", "right"]).reset_index(drop=True)


def pair_completeness(candidates: pd.DataFrame, matches: pd.DataFrame) -> float:
    """Fraction of the true matches that are among the candidates (1.0 if no matches)."""
    true = matches[["left", "right"]].drop_duplicates()
    if len(true) == 0:
        return 1.0
    found = true.merge(candidates[["left", "right"]].drop_duplicates(), on=["left", "right"])
    return len(found) / len(true)
