"""The whole record of one side: the values of several columns joined into one text.

A map key ``*`` (or ``column~*``) compares records, not attributes, so values that sit in
another attribute on the other side (a brand moved into the title, an empty attribute whose
value went elsewhere) still count. The record is built over the *whole* table, once per
transform, so it does not depend on which pairs are transformed.
"""

from __future__ import annotations

import pandas as pd

from lossmatch.similarity.functions import column_texts

__all__ = ["RECORD", "record_text"]

# The key that stands for the whole record (a table column of this name cannot be mapped).
RECORD = "*"


def record_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One string per row: the non-missing values of ``columns``, in that order, joined by spaces."""
    parts = [column_texts(frame[column]) for column in columns]
    joined = [" ".join(value for value in row if value) for row in zip(*parts)]
    return pd.Series(joined, index=frame.index, dtype=object)
