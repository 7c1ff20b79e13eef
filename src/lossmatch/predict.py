"""Score two new tables with an exported matcher."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lossmatch.export import Export
from lossmatch.training import SplitData, Training

# Pairs scored per chunk: bounds memory on large candidate sets and drives the progress bar.
CHUNK = 100_000


def predict_matches(
    exported: Export,
    df_left: pd.DataFrame,
    df_right: pd.DataFrame,
    *,
    id_left: str | None = None,
    id_right: str | None = None,
    blocking=None,
    batch_size: int = 4096,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Block, featurize and score ``df_left`` x ``df_right``; one row per candidate pair.

    Columns: left id, right id (named after the id columns), ``probability`` and
    ``is_match`` at the export's threshold. ``blocking`` defaults to the rules the
    matcher was trained with.
    """
    logging.getLogger("recordlinkage").setLevel(logging.WARNING)  # its per-indexer INFO lines are noise here
    id_left = id_left or exported.id_left
    id_right = id_right or exported.id_right
    training = Training(exported.similarity_map, df_left, df_right, id_left, id_right)
    rules = blocking if blocking else exported.blocking or [{"method": "full"}]
    pairs = training.candidate_pairs(rules)
    probs = np.zeros(len(pairs), dtype=np.float64)
    chunks = range(0, len(pairs), CHUNK)
    show = progress if progress is not None else len(pairs) > CHUNK
    for start in tqdm(chunks, desc="scoring candidate pairs", unit="chunk", disable=not show):
        part = pairs.iloc[start : start + CHUNK].reset_index(drop=True)
        split = SplitData(part, training.features(part, progress=False), np.zeros(len(part), dtype=np.float32))
        outputs = training.predict(exported.model, split, listwise=exported.listwise, batch_size=batch_size)
        probs[start : start + len(part)] = exported.probabilities(outputs)
    left_col = id_left if id_left != id_right else f"{id_left}_left"
    right_col = id_right if id_left != id_right else f"{id_right}_right"
    return pd.DataFrame(
        {
            left_col: training.df_left[id_left].to_numpy()[pairs["left"].to_numpy()],
            right_col: training.df_right[id_right].to_numpy()[pairs["right"].to_numpy()],
            "probability": probs,
            "is_match": probs >= exported.threshold,
        }
    )
