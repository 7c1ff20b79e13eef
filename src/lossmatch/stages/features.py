"""Stage 2, features: the similarity features of every candidate pair, per split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lossmatch.common import SPLITS
from lossmatch.stages.prepare import Prepared
from lossmatch.training import SplitData


def compute_features(prepared: Prepared) -> dict[str, SplitData]:
    """One :class:`SplitData` (pairs, features, labels, missed matches) per split.

    The three splits are computed in one call, so each column's values are converted once.
    """
    training = prepared.training
    all_pairs = pd.concat([prepared.pairs[s] for s in SPLITS], ignore_index=True)
    n_features = len(training.similarity_map.feature_names)
    print(f"[lossmatch] computing {n_features} similarity features for {len(all_pairs):,} pairs ...", flush=True)
    X = training.features(all_pairs)
    bounds = np.cumsum([0] + [len(prepared.pairs[s]) for s in SPLITS])
    return {
        s: SplitData(
            pairs=prepared.pairs[s].reset_index(drop=True),
            X=X[bounds[i] : bounds[i + 1]],
            y=prepared.labels[s],
            missed_matches=prepared.missed[s],
        )
        for i, s in enumerate(SPLITS)
    }
