"""Stage 1, prepare: load and check the data, block it into candidate pairs, split by entity.

Everything a user can get wrong about the data (files, columns, ids, blocking rules, a
split without matches) fails here, before any run is tracked and before TensorFlow is
imported. The result holds pairs and labels, not features (the features stage adds them).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch.cache import FeatureCache
from lossmatch.common import SPLITS, pair_keys, sorted_membership, split_keys
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
        n_candidates: candidate pairs blocking proposed (before cross-split pairs are dropped).
        cache: the feature cache the features stage reads and fills (off when not given).
        digests: content digests of the two tables, computed once per run for the cache.
        chunk_size, streaming: the ``features`` settings (see ``lossmatch.stages.features``).
    """

    data: MatchingData
    training: Training
    pairs: dict[str, pd.DataFrame]
    labels: dict[str, np.ndarray]
    missed: dict[str, int]
    blocking: list | None
    completeness: float | None
    n_candidates: int
    cache: FeatureCache | None = None
    digests: tuple[str, str] | None = None
    chunk_size: int | None = None
    streaming: bool = False


def prepare(config) -> Prepared:
    """Load, check, block and split the data of a validated :class:`~lossmatch.config.RunConfig`."""
    from hydra.utils import instantiate

    logging.getLogger("recordlinkage").setLevel(logging.WARNING)  # we print our own blocking summary
    from lossmatch.similarity.auto import resolve_similarity_map

    source = instantiate(config.data, _convert_="all")
    data = source.load()
    # Name the files in messages: a user's own tables are where a column goes missing.
    names = tuple(f"{side} table ({data.files[side]})" if side in data.files else f"{side} table"
                  for side in ("left", "right"))
    # Hand-written, inferred from the tables (similarity.auto), or both; logged and exported alike.
    similarity_map = resolve_similarity_map(config.similarity, data.left, data.right,
                                            ignore=[data.id_left, data.id_right], names=names)
    training = Training(similarity_map, data.left, data.right, data.id_left, data.id_right,
                        left_name=names[0], right_name=names[1])
    cache = FeatureCache(config.cache_dir(), enabled=config.cache.enabled, verify=config.cache.verify)
    # Hashing a table reads every value: once per run, shared by the blocking and feature entries.
    digests = cache.table_digests(training.df_left, training.df_right) if cache.enabled else None
    fresh = _first_missing(cache.root) if cache.enabled else None
    try:
        if data.labelled_pairs is not None:
            prepared = _given_pairs(data, training)
        else:
            engine = config.blocking_engine(len(data.left) + len(data.right))
            prepared = _blocked_pairs(data, training, source, config, cache, digests, engine)
        check_positives(prepared)
    except InputError:
        # Refused input leaves nothing behind: not even a cache folder this run created.
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        raise
    prepared.cache, prepared.digests = cache, digests
    prepared.chunk_size, prepared.streaming = config.features.chunk_size, config.features.streaming
    return prepared


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (None if it exists)."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _given_pairs(data: MatchingData, training: Training) -> Prepared:
    """Benchmark data with official splits: used as they are, no blocking, no resplitting."""
    pairs = {s: data.labelled_pairs[s].reset_index(drop=True) for s in SPLITS}
    labels = {s: pairs[s]["label"].to_numpy(np.float32) for s in SPLITS}
    pairs = {s: p[["left", "right"]] for s, p in pairs.items()}
    n = sum(len(p) for p in pairs.values())
    return Prepared(data, training, pairs, labels, {s: 0 for s in SPLITS}, None, None, n)


def _blocked_pairs(data: MatchingData, training: Training, source, config, cache: FeatureCache,
                   digests: tuple[str, str] | None, engine: str) -> Prepared:
    from lossmatch.blocking import pair_completeness
    from lossmatch.data.split import assign_pairs, split_by_entity

    n_right = len(training.df_right)
    keys = block(data, training, source.blocking, config.max_candidate_pairs, cache=cache, digests=digests,
                 engine=engine)
    completeness = pair_completeness(keys, data.matches, n_right)
    split = getattr(source, "split", None) or {"val": 0.2, "test": 0.2}
    left_split, right_split = split_by_entity(len(data.left), len(data.right), data.matches, split, seed=config.seed)
    pairs = assign_pairs(split_keys(keys, n_right), left_split, right_split)
    # Sorted int64 keys and binary searches: linear in the pairs, where np.isin sorted them again.
    match_keys = np.sort(pair_keys(data.matches, n_right))
    labels = {s: sorted_membership(pair_keys(pairs[s], n_right), match_keys).astype(np.float32) for s in SPLITS}
    found = sorted_membership(pair_keys(data.matches, n_right), keys)
    match_split = left_split[data.matches["left"].to_numpy()]
    missed = {s: int(np.sum((match_split == s) & ~found)) for s in SPLITS}
    return Prepared(data, training, pairs, labels, missed, list(source.blocking), completeness, len(keys))


def block(data: MatchingData, training: Training, rules, limit: int, *, cache: FeatureCache | None = None,
          digests: tuple[str, str] | None = None, engine: str = "memory") -> np.ndarray:
    """Sorted int64 candidate pair keys of the blocking ``rules`` (``lossmatch.blocking.candidate_keys``),
    from the cache when it holds them, refused above ``limit`` (``max_candidate_pairs``).

    ``engine``: memory, duckdb or spark (same keys from each, so the cache entry is shared).
    """
    if not rules:
        raise InputError(f"data={data.name}: data.blocking must list at least one blocking rule")
    n_all = len(data.left) * len(data.right)
    if n_all > limit and any(rule.get("method") == "full" for rule in rules):
        raise InputError(
            f"data.blocking: a 'full' rule compares {len(data.left):,} x {len(data.right):,} = {n_all:,} pairs, "
            f"more than max_candidate_pairs={limit:,}; block on a column instead, "
            "e.g. data.blocking='[{method: block, on: <column>}]', or raise max_candidate_pairs"
        )
    print(f"[lossmatch] blocking {len(data.left):,} x {len(data.right):,} records ({engine}) ...", flush=True)
    cache = cache or FeatureCache(None, enabled=False)
    candidates = cache.candidate_keys(training.df_left, training.df_right, rules, engine=engine, digests=digests)
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
