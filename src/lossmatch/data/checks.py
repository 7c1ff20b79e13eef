"""Validation helpers for user tables, shared by the data sources and the Training API.

Each helper raises :class:`lossmatch.errors.InputError` with one line that starts
with ``where`` (the config key and file, e.g. ``"data.left (/x/left.csv)"``), names
the offending column or values and says what was expected. They are cheap (no
pairwise work), so sources call them before anything expensive.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from lossmatch.errors import InputError

# How many offending values a message shows; the total count is always given too.
_SHOW = 5


def _examples(values: Iterable) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:_SHOW])
    return shown + (", ..." if len(values) > _SHOW else "")


def check_columns(df: pd.DataFrame, columns: str | Iterable[str], where: str) -> None:
    """Raise unless every name in ``columns`` is a column of ``df``.

    The message lists the available columns with ``repr`` so that stray spaces or a
    byte-order mark in a header are visible.
    """
    if isinstance(columns, str):
        columns = [columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise InputError(
            f"{where}: {noun} {_examples(missing)} not found; "
            f"available columns: {_examples_all(df.columns)}"
        )


def _examples_all(columns: Iterable) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


def check_unique_ids(df: pd.DataFrame, col: str, where: str) -> None:
    """Raise if id column ``col`` has missing or duplicated values.

    Ids are how matches refer to records, so an ambiguous id would silently attach
    a match to the wrong record.
    """
    check_columns(df, col, where)
    ids = df[col]
    n_missing = int(ids.isna().sum())
    if n_missing:
        rows = ids.index[ids.isna()].tolist()
        raise InputError(
            f"{where}: id column {col!r} has {n_missing} missing values "
            f"(rows {_examples(rows)}); every record needs an id"
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        values = pd.unique(dup)
        raise InputError(
            f"{where}: id column {col!r} has {len(values)} duplicated values, "
            f"e.g. {_examples(values)}; ids must be unique"
        )


def check_not_empty(df: pd.DataFrame, where: str) -> None:
    """Raise if ``df`` has no rows."""
    if len(df) == 0:
        raise InputError(f"{where}: table has no rows; expected at least one record")


def check_matches_known(
    matches_df: pd.DataFrame,
    col_left: str,
    col_right: str,
    left_ids: Iterable,
    right_ids: Iterable,
    where: str,
) -> None:
    """Raise if a match refers to an id that is not in the left or right table.

    Ids are compared as they are (strings when read by lossmatch), so ``"007"``
    and ``"7"`` are different ids.
    """
    check_columns(matches_df, [col_left, col_right], where)
    for col, ids, side in ((col_left, left_ids, "left"), (col_right, right_ids, "right")):
        values = matches_df[col]
        unknown = values[~values.isin(pd.Index(ids))]
        if len(unknown):
            shown = pd.unique(unknown)
            raise InputError(
                f"{where}: {len(unknown)} values in column {col!r} are not ids of the "
                f"{side} table, e.g. {_examples(shown)}"
            )
