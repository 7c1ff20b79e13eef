"""Grouping candidate pairs into padded lists for listwise losses, and back.

A ranking loss such as ``PairwiseSoftZeroOneLoss`` compares the candidates of
one group (e.g. all right records paired with one left record), so the flat
pair table is reshaped to (n_lists, L, ...) with padding, and per-item outputs
are mapped back to the flat rows with the index this module returns.
"""

from __future__ import annotations

import numpy as np

PAD_LABEL = -1  # PairwiseSoftZeroOneLoss ignores items with a negative label.
PAD_INDEX = -1


def to_lists(group, X, y=None, list_size=None):
    """Groups rows by ``group`` into zero-padded lists.

    Lists follow the sorted group values; rows keep their original order within
    a group. L = the largest group if ``list_size`` is None; otherwise L =
    ``list_size`` and a larger group is split into consecutive lists of at most
    L rows.

    Args:
        group: (n,) group key of each row, e.g. the left record's position.
        X: (n, ...) features.
        y: (n,) labels, or None (prediction time).
        list_size: None or a positive int.

    Returns:
        X_lists: (n_lists, L, ...) with zeros for padding.
        y_lists: (n_lists, L) with -1 for padding (float32 unless y is a signed
            int or float array, whose dtype is kept), or None when y is None.
        index: (n_lists, L) int64 original row positions, -1 for padding.
    """
    group = np.asarray(group).ravel()
    X = np.asarray(X)
    n = group.shape[0]
    if X.shape[0] != n or (y is not None and np.asarray(y).shape[0] != n):
        raise ValueError(
            f"to_lists: group, X and y must have the same number of rows, got "
            f"{n}, {X.shape[0]} and {None if y is None else np.asarray(y).shape[0]}"
        )
    if list_size is not None and (
        isinstance(list_size, bool) or not isinstance(list_size, (int, np.integer))
        or list_size < 1
    ):
        raise ValueError(f"to_lists: list_size must be None or a positive int, got {list_size!r}")

    # A stable sort keeps the original row order inside each group.
    order = np.argsort(group, kind="stable")
    _, starts, inverse, counts = np.unique(
        group[order], return_index=True, return_inverse=True, return_counts=True
    )
    position = np.arange(n) - starts[inverse]  # rank of each sorted row in its group
    if list_size is None:
        size = int(counts.max()) if n else 0
        list_id, slot = inverse, position
        n_lists = counts.size
    else:
        size = int(list_size)
        lists_per_group = -(-counts // size)  # ceil division
        first_list = np.concatenate([[0], np.cumsum(lists_per_group)[:-1]])
        list_id = first_list[inverse] + position // size
        slot = position % size
        n_lists = int(lists_per_group.sum())

    X_lists = np.zeros((n_lists, size) + X.shape[1:], dtype=X.dtype)
    X_lists[list_id, slot] = X[order]
    index = np.full((n_lists, size), PAD_INDEX, dtype=np.int64)
    index[list_id, slot] = order
    y_lists = None
    if y is not None:
        y = np.asarray(y).ravel()
        keep = y.dtype.kind == "f" or y.dtype.kind == "i"
        y_lists = np.full((n_lists, size), PAD_LABEL, dtype=y.dtype if keep else np.float32)
        y_lists[list_id, slot] = y[order]
    return X_lists, y_lists, index


def from_lists(values_lists, index, n_rows):
    """Maps per-item values of padded lists back to the flat rows.

    Args:
        values_lists: (n_lists, L, ...) per-item outputs, e.g. model scores.
        index: (n_lists, L) row positions from ``to_lists``, -1 for padding.
        n_rows: length of the flat output.

    Returns:
        (n_rows, ...) float array; rows that appear in no list are NaN.
    """
    values_lists = np.asarray(values_lists)
    index = np.asarray(index)
    if values_lists.shape[: index.ndim] != index.shape:
        raise ValueError(
            f"from_lists: values_lists shape {values_lists.shape} does not start "
            f"with index shape {index.shape}"
        )
    valid = index >= 0
    if valid.any() and index[valid].max() >= n_rows:
        raise ValueError(
            f"from_lists: index refers to row {index[valid].max()} but n_rows is {n_rows}"
        )
    dtype = np.result_type(values_lists.dtype, np.float32)
    out = np.full((n_rows,) + values_lists.shape[index.ndim:], np.nan, dtype=dtype)
    out[index[valid]] = values_lists[valid]
    return out
