"""Train / validation / test split by entity, so no record's pairs leak across splits.

An *entity* is a connected component of the bipartite graph whose nodes are the
left and right records and whose edges are the known matches. Every record of an
entity lands in the same split; records without a match are singleton entities and
get a split too (they supply the non-matches of that split).

Splitting pairs at random instead would let the model see record ``a`` paired with
``b`` in training and ``a`` paired with ``c`` at test time, which inflates test
scores.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lossmatch.common import SPLITS
from lossmatch.errors import InputError


def validate_fractions(fractions: Mapping | None, where: str = "data.split") -> dict[str, float]:
    """Return ``{"val": v, "test": t}`` as floats, or raise InputError.

    Each fraction must lie in (0, 1) and their sum below 1 so that training keeps
    some entities.
    """
    if fractions is None:
        fractions = {"val": 0.2, "test": 0.2}
    if not isinstance(fractions, Mapping):
        raise InputError(f"{where}: expected a mapping like {{val: 0.2, test: 0.2}}, got {fractions!r}")
    unknown = set(fractions) - {"val", "test"}
    if unknown:
        raise InputError(f"{where}: unknown keys {sorted(unknown)}; expected only 'val' and 'test'")
    out = {}
    for key in ("val", "test"):
        value = fractions.get(key)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}.{key}: expected a number in (0, 1), got {value!r}") from None
        if not 0.0 < value < 1.0:
            raise InputError(f"{where}.{key}: expected a number in (0, 1), got {value!r}")
        out[key] = value
    if out["val"] + out["test"] >= 1.0:
        raise InputError(
            f"{where}: val + test = {out['val'] + out['test']:g}; expected a sum below 1 "
            f"so that some entities are left for training"
        )
    return out


def split_by_entity(
    n_left: int,
    n_right: int,
    matches: pd.DataFrame,
    fractions: Mapping | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Give every left and right record a split label: "train", "val" or "test".

    Args:
        n_left: number of left records (row positions 0..n_left-1).
        n_right: number of right records.
        matches: DataFrame with int columns ``left`` and ``right`` (row positions).
        fractions: ``{"val": v, "test": t}``, fractions of entities; default 0.2 each.
        seed: seed of the random assignment; the same seed gives the same split.

    Returns:
        ``(left_split, right_split)``, object arrays of length n_left and n_right.

    Entities with a match and singleton entities are shuffled and cut separately
    (stratified), so that each split gets its share of the rare positives even when
    unmatched records outnumber them by far.
    """
    fr = validate_fractions(fractions)
    left = matches["left"].to_numpy(dtype=np.int64)
    right = matches["right"].to_numpy(dtype=np.int64)
    n = n_left + n_right
    # Right record j is node n_left + j of the bipartite graph.
    graph = coo_matrix((np.ones(len(left)), (left, n_left + right)), shape=(n, n))
    n_comp, component = connected_components(graph, directed=False)

    sizes = np.bincount(component, minlength=n_comp)
    rng = np.random.default_rng(seed)
    comp_split = np.empty(n_comp, dtype=object)
    for group in (np.flatnonzero(sizes > 1), np.flatnonzero(sizes == 1)):
        group = rng.permutation(group)
        n_val = int(round(len(group) * fr["val"]))
        n_test = int(round(len(group) * fr["test"]))
        comp_split[group[:n_val]] = "val"
        comp_split[group[n_val : n_val + n_test]] = "test"
        comp_split[group[n_val + n_test :]] = "train"

    labels = comp_split[component]
    return labels[:n_left], labels[n_left:]


def assign_pairs(
    candidates: pd.DataFrame, left_split: np.ndarray, right_split: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Group candidate pairs by the split both of their records belong to.

    Returns ``{"train": ..., "val": ..., "test": ...}``, each a slice of
    ``candidates`` (all its columns kept, index reset). A pair whose two records
    lie in different splits is dropped: it is a non-match by construction (matched
    records share an entity, hence a split), and keeping it would put a record in
    two splits.
    """
    # Small integer codes per record, then per pair: comparing strings of millions of pairs
    # (object arrays) cost seconds; codes cost milliseconds.
    ls = pd.Categorical(left_split, categories=SPLITS).codes[candidates["left"].to_numpy()]
    rs = pd.Categorical(right_split, categories=SPLITS).codes[candidates["right"].to_numpy()]
    same = np.where(ls == rs, ls, -1)
    return {name: candidates[same == i].reset_index(drop=True) for i, name in enumerate(SPLITS)}
