"""Small helpers that several modules share (kept here so no module imports another back).

Nothing here imports TensorFlow, MLflow or recordlinkage: the command line's input checks
use these before any heavy import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SPLITS", "pair_keys", "plain"]

# The three splits of every run, in the order they are reported.
SPLITS = ("train", "val", "test")


def plain(value):
    """Turn OmegaConf containers (as Hydra passes them) into plain dicts and lists."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def pair_keys(pairs: pd.DataFrame, n_right: int) -> np.ndarray:
    """One int64 per (left, right) row-position pair: ``left * n_right + right``.

    Sorted pairs give sorted keys, so membership is a ``np.searchsorted`` away.
    """
    return pairs["left"].to_numpy(np.int64) * np.int64(n_right) + pairs["right"].to_numpy(np.int64)
