"""Stage 1, prepare: load and check the data, block it into candidate pairs, split by entity.

Everything a user can get wrong about the data (files, columns, ids, blocking rules, a
split without matches) fails here, before any run is tracked and before TensorFlow is
imported. The result holds pairs and labels, not features (the features stage adds them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossmatch.common import SPLITS, pair_keys
from lossmatch.data.base import MatchingData
from lossmatch.errors import InputError
from lossmatch.training import Training

_SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


@dataclass
class Prepared:
    """The data of one run, split into train / val / test candidate pairs.

    Attributes:
        pairs: per split, columns ``left`` and ``right`` (row positions).
        labels: per split, 1.0 for known matches among the pairs, else 0.0.
        missed: per split, known matches that blocking never proposed (false negatives).
        blocking: the rules used (None for benchmark data with given pairs).
        completeness: share of known matches among the candidates (None likewise).
    """

    data: MatchingData
    training: Training
    pairs: dict[str, pd.DataFrame]
    labels: dict[str, np.ndarray]
    missed: dict[str, int]
    blocking: list | None
    completeness: float | None
    n_candidates: int


def prepare(config) -> Prepared:
    """Load, check, block and split the data of a validated :class:`~lossmatch.config.RunConfig`."""
    from hydra.utils import instantiate

    logging.getLogger("recordlinkage").setLevel(logging.WARNING)  # we print our own blocking summary
    from lossmatch.similarity.auto import resolve_similarity_map

    source = instantiate(config.data, _convert_="all")
    data = source.load()
    # Hand-written, inferred from the tables (similarity.auto), or both; logged and exported alike.
    similarity_map = resolve_similarity_map(config.similarity, data.left, data.right, ignore=[data.id_left, data.id_right])
    training = Training(
        similarity_map, data.left, data.right, data.id_left, data.id_right,
        # Name the files in messages: a user's own tables are where a column goes missing.
        left_name=f"left table ({data.files['left']})" if "left" in data.files else "left table",
        right_name=f"right table ({data.files['right']})" if "right" in data.files else "right table",
    )
    if data.labelled_pairs is not None:
        prepared = _given_pairs(data, training)
    else:
        prepared = _blocked_pairs(data, training, source, config)
    check_positives(prepared)
    return prepared


def _given_pairs(data: MatchingData, training: Training) -> Prepared:
    """Benchmark data with official splits: used as they are, no blocking, no resplitting."""
    pairs = {s: data.labelled_pairs[s].reset_index(drop=True) for s in SPLITS}
    labels = {s: pairs[s]["label"].to_numpy(np.float32) for s in SPLITS}
    pairs = {s: p[["left", "right"]] for s, p in pairs.items()}
    n = sum(len(p) for p in pairs.values())
    return Prepared(data, training, pairs, labels, {s: 0 for s in SPLITS}, None, None, n)


def _blocked_pairs(data: MatchingData, training: Training, source, config) -> Prepared:
    from lossmatch.blocking import pair_completeness
    from lossmatch.data.split import assign_pairs, split_by_entity

    candidates = block(data, training, source.blocking, config.max_candidate_pairs)
    completeness = pair_completeness(candidates, data.matches)
    split = getattr(source, "split", None) or {"val": 0.2, "test": 0.2}
    left_split, right_split = split_by_entity(len(data.left), len(data.right), data.matches, split, seed=config.seed)
    pairs = assign_pairs(candidates, left_split, right_split)
    n_right = len(training.df_right)
    match_keys = np.sort(pair_keys(data.matches, n_right))
    labels = {s: _contains(match_keys, pair_keys(pairs[s], n_right)).astype(np.float32) for s in SPLITS}
    found = _contains(np.sort(pair_keys(candidates, n_right)), pair_keys(data.matches, n_right))
    match_split = left_split[data.matches["left"].to_numpy()]
    missed = {s: int(np.sum((match_split == s) & ~found)) for s in SPLITS}
    return Prepared(data, training, pairs, labels, missed, list(source.blocking), completeness, len(candidates))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each of ``keys``, whether it is in ``sorted_keys`` (binary search: n log m, not n·m)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.searchsorted(sorted_keys, keys).clip(max=len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def block(data: MatchingData, training: Training, rules, limit: int) -> pd.DataFrame:
    """Candidate pairs of the blocking ``rules``, refused above ``limit`` (``max_candidate_pairs``)."""
    if not rules:
        raise InputError(f"data={data.name}: data.blocking must list at least one blocking rule")
    n_all = len(data.left) * len(data.right)
    if n_all > limit and any(rule.get("method") == "full" for rule in rules):
        raise InputError(
            f"data.blocking: a 'full' rule compares {len(data.left):,} x {len(data.right):,} = {n_all:,} pairs, "
            f"more than max_candidate_pairs={limit:,}; block on a column instead, "
            "e.g. data.blocking='[{method: block, on: <column>}]', or raise max_candidate_pairs"
        )
    print(f"[lossmatch] blocking {len(data.left):,} x {len(data.right):,} records ...", flush=True)
    candidates = training.candidate_pairs(rules)
    if len(candidates) > limit:
        raise InputError(
            f"data.blocking gives {len(candidates):,} candidate pairs, more than max_candidate_pairs={limit:,}: "
            "use more selective rules (block on more columns) or raise max_candidate_pairs"
        )
    return candidates


def check_positives(prepared: Prepared) -> None:
    """Every split needs a matching pair: F1 on a split without one means nothing."""
    total = len(prepared.data.matches)
    for s in SPLITS:
        if prepared.labels[s].sum() == 0:
            where = "data.split" if prepared.blocking is not None else "the given pairs"
            hint = (
                "a run needs at least three; add known matches (data.matches)"
                if total < 3
                else f"change {where} (fractions or seed) or check data.matches and data.blocking"
            )
            raise InputError(
                f"{where}: the {_SPLIT_NAMES[s]} split has no matching candidate pair "
                f"({total} known match{'es' if total != 1 else ''} in all); {hint}"
            )
