"""Blocking rules as one SQL query, shared by the DuckDB and Spark engines (as Splink does).

:func:`plan` turns validated rules into a ``SELECT DISTINCT l, r`` over these tables:

- ``lm_left`` / ``lm_right``: ``pos`` (row position) and one column per key column of the
  rules, renamed ``k0, k1, ...`` so the SQL never quotes a user's column name;
- ``lm_left_tokens_<i>`` / ``lm_right_tokens_<i>`` for token rule ``i``: ``pos``, ``token``
  (built by :func:`token_table` with the in-memory path's own tokenizer, so words are
  the same in every engine).

The SQL uses only what DuckDB and Spark SQL share (equi-joins, ``GROUP BY ... HAVING``,
``dense_rank() OVER``, ``UNION ALL``), and every rule is an equi-join, so neither engine
falls back to a nested loop: a sorted-neighbourhood window joins ``rank + k`` for each
offset ``k``, as recordlinkage does. Missing keys are SQL NULLs, which never join.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lossmatch.blocking import _cap, record_tokens, token_columns, validate_rules

__all__ = ["LEFT", "RIGHT", "BlockingPlan", "key_table", "plan", "token_table"]

LEFT, RIGHT = "lm_left", "lm_right"


@dataclass
class BlockingPlan:
    """The query and the tables it reads.

    Attributes:
        sql: ``SELECT DISTINCT l, r`` (row positions) of the union of the rules.
        all_pairs_sql: ``SELECT l, r`` of every rule's pairs, a pair once per rule that finds it
            (for engines that remove repeats faster outside SQL).
        left_keys, right_keys: ``{alias: column}`` of the key columns in ``lm_left`` / ``lm_right``.
        tokens: ``{rule index: (left columns, right columns)}`` for the token tables.
    """

    sql: str
    all_pairs_sql: str = ""
    left_keys: dict[str, str] = field(default_factory=dict)
    right_keys: dict[str, str] = field(default_factory=dict)
    tokens: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)


def _alias(keys: dict[str, str], column: str) -> str:
    for alias, name in keys.items():
        if name == column:
            return alias
    alias = f"k{len(keys)}"
    keys[alias] = column
    return alias


def _block(i: int, left_aliases: list[str], right_aliases: list[str]) -> tuple[list[str], str]:
    on = " AND ".join(f"a.{a} = b.{b}" for a, b in zip(left_aliases, right_aliases))
    return [], f"SELECT a.pos AS l, b.pos AS r FROM {LEFT} a JOIN {RIGHT} b ON {on}"


def _sorted_neighbourhood(i: int, left_alias: str, right_alias: str, window: int) -> tuple[list[str], str]:
    half = (window - 1) // 2
    offsets = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(-half, half + 1))
    ctes = [
        (f"rank_{i} AS (SELECT v, dense_rank() OVER (ORDER BY v) AS rk FROM ("
         f"SELECT {left_alias} AS v FROM {LEFT} WHERE {left_alias} IS NOT NULL UNION "
         f"SELECT {right_alias} AS v FROM {RIGHT} WHERE {right_alias} IS NOT NULL) values_{i})"),
        f"offset_{i} AS ({offsets})",
        (f"left_{i} AS (SELECT a.pos, x.rk + o.k AS rk FROM {LEFT} a JOIN rank_{i} x ON a.{left_alias} = x.v "
         f"CROSS JOIN offset_{i} o)"),
        f"right_{i} AS (SELECT b.pos, x.rk FROM {RIGHT} b JOIN rank_{i} x ON b.{right_alias} = x.v)",
    ]
    return ctes, f"SELECT a.pos AS l, b.pos AS r FROM left_{i} a JOIN right_{i} b ON a.rk = b.rk"


def _token(i: int, cap_left: float, cap_right: float) -> tuple[list[str], str]:
    lt, rt = f"{LEFT}_tokens_{i}", f"{RIGHT}_tokens_{i}"
    ctes = [
        (f"words_{i} AS (SELECT x.token FROM (SELECT token FROM {lt} GROUP BY token HAVING count(*) <= {cap_left!r}) x "
         f"JOIN (SELECT token FROM {rt} GROUP BY token HAVING count(*) <= {cap_right!r}) y ON x.token = y.token)"),
    ]
    return ctes, (f"SELECT a.pos AS l, b.pos AS r FROM {lt} a JOIN words_{i} w ON a.token = w.token "
                  f"JOIN {rt} b ON b.token = w.token")


def plan(left: pd.DataFrame, right: pd.DataFrame, rules) -> BlockingPlan:
    """The SQL of ``rules`` (validated against the two tables) and the tables it needs."""
    rules = validate_rules(rules, left, right)
    out = BlockingPlan(sql="")
    ctes, selects = [], []
    for i, rule in enumerate(rules):
        method = rule["method"]
        if method == "full":
            rule_ctes, select = [], f"SELECT a.pos AS l, b.pos AS r FROM {LEFT} a CROSS JOIN {RIGHT} b"
        elif method == "token":
            out.tokens[i] = (token_columns(left, rule, "left"), token_columns(right, rule, "right"))
            rule_ctes, select = _token(i, _cap(rule["max_df"], len(left)), _cap(rule["max_df"], len(right)))
        else:
            la = [_alias(out.left_keys, c) for c in rule["left_on"]]
            ra = [_alias(out.right_keys, c) for c in rule["right_on"]]
            if method == "block":
                rule_ctes, select = _block(i, la, ra)
            else:
                rule_ctes, select = _sorted_neighbourhood(i, la[0], ra[0], rule["window"])
        ctes += rule_ctes
        selects.append(select)
    union = " UNION ALL ".join(f"({s})" for s in selects)
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    out.all_pairs_sql = f"{head}SELECT l, r FROM ({union}) pairs"
    out.sql = f"{head}SELECT DISTINCT l, r FROM ({union}) pairs"
    return out


def _sql_values(series: pd.Series) -> np.ndarray | pd.Series:
    """A key column as SQL should see it: missing values (None, NaN, NaT) become NULL."""
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        values = series.to_numpy(dtype=object).copy()
        values[pd.isna(values)] = None
        return values
    return series  # numeric NaN becomes NULL when the engines read pandas through Arrow


def key_table(frame: pd.DataFrame, keys: dict[str, str]) -> pd.DataFrame:
    """``pos`` and the aliased key columns of ``frame`` (the ``lm_left`` / ``lm_right`` table)."""
    table = pd.DataFrame({"pos": np.arange(len(frame), dtype=np.int64)})
    for alias, column in keys.items():
        table[alias] = _sql_values(frame[column].reset_index(drop=True))
    return table


def token_table(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``pos``, ``token``: the distinct words of each record (the token tables)."""
    tokens = record_tokens(frame, columns)
    return pd.DataFrame({"pos": tokens["row"].to_numpy(np.int64), "token": tokens["token"].astype(str)})
