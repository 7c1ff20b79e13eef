"""Stage 2, features: the similarity features of every candidate pair, per split.

Features come from the run's :class:`~lossmatch.cache.FeatureCache` when it holds them
(same tables, pairs, similarity map and code: a later run, a multirun job or a sweep
trial), else they are computed chunk by chunk (``features.chunk_size``) and stored. With
``features.streaming`` they stay in a Parquet file and each split is a
:class:`~lossmatch.streaming.StreamedSplit` read through ``tf.data``; otherwise they are
one in-memory matrix. Cache on or off, streaming or not, every pair gets the same numbers.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

import numpy as np
import pandas as pd

from lossmatch.cache import FeatureCache
from lossmatch.common import SPLITS, pair_keys
from lossmatch.stages.prepare import Prepared
from lossmatch.training import SplitData


def compute_features(prepared: Prepared) -> dict:
    """One :class:`SplitData` (or :class:`~lossmatch.streaming.StreamedSplit`) per split.

    The three splits are computed in one call (rows in split order), so each column's values
    are converted once and one cache entry holds them.
    """
    training = prepared.training
    n_right = len(training.df_right)
    keys = np.concatenate([pair_keys(prepared.pairs[s], n_right) for s in SPLITS])
    bounds = np.cumsum([0] + [len(prepared.pairs[s]) for s in SPLITS])
    cache = prepared.cache or FeatureCache(None, enabled=False)
    n_features = len(training.similarity_map.feature_names)
    found = "" if not cache.enabled else " (feature cache: " + str(cache.root) + ")"
    print(f"[lossmatch] {n_features} similarity features for {len(keys):,} pairs{found} ...", flush=True)
    options = {"chunk_size": prepared.chunk_size, "digests": prepared.digests}
    if prepared.streaming:
        return _streamed(prepared, cache, keys, bounds, options)
    X = cache.feature_matrix(training.similarity_map, training.df_left, training.df_right, keys, **options)
    return {
        s: SplitData(
            pairs=prepared.pairs[s].reset_index(drop=True),
            X=X[bounds[i] : bounds[i + 1]],
            y=prepared.labels[s],
            missed_matches=prepared.missed[s],
        )
        for i, s in enumerate(SPLITS)
    }


def _streamed(prepared: Prepared, cache: FeatureCache, keys: np.ndarray, bounds: np.ndarray, options: dict) -> dict:
    from lossmatch.streaming import StreamedSplit

    training = prepared.training
    # The file's label column from the run's own labels (the label-1 pairs), so given pairs
    # (benchmark data) and blocked pairs label their rows alike.
    pairs = pd.concat([prepared.pairs[s][["left", "right"]] for s in SPLITS], ignore_index=True)
    positives = pairs[np.concatenate([prepared.labels[s] for s in SPLITS]) == 1]
    scratch = None
    if not cache.enabled:
        scratch = tempfile.mkdtemp(prefix="lossmatch-features-")
        atexit.register(shutil.rmtree, scratch, True)
    file = cache.feature_file(training.similarity_map, training.df_left, training.df_right, keys,
                              matches=positives, scratch=scratch, **options)
    splits = {}
    for i, s in enumerate(SPLITS):
        rows = np.zeros(len(keys), dtype=bool)
        rows[bounds[i] : bounds[i + 1]] = True
        splits[s] = StreamedSplit(prepared.pairs[s].reset_index(drop=True), prepared.labels[s], file, rows,
                                  prepared.missed[s])
    return splits
