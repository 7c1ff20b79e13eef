"""Small helpers that several modules share (kept here so no module imports another back).

Nothing here imports TensorFlow, MLflow or recordlinkage: the command line's input checks
use these before any heavy import.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SPLITS", "contains_pairs", "pair_keys", "plain", "sorted_membership", "split_keys", "writable_folder"]

# The three splits of every run, in the order they are reported.
SPLITS = ("train", "val", "test")


def plain(value):
    """Turn OmegaConf containers (as Hydra passes them) into plain dicts and lists."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def writable_folder(folder) -> Path:
    """The nearest existing folder at or above ``folder``, checked to take a file; raises OSError.

    Nothing is created, so a run refused later for bad input leaves no empty folder behind.
    The check is a real write: ``os.access`` says yes to root even on a read-only mount.
    """
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(20, "not a directory", str(existing))
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(existing)) from None
    return existing


def pair_keys(pairs: pd.DataFrame, n_right: int) -> np.ndarray:
    """One int64 per (left, right) row-position pair: ``left * n_right + right``.

    Sorted pairs give sorted keys, so membership is a ``np.searchsorted`` away.
    """
    return pairs["left"].to_numpy(np.int64) * np.int64(n_right) + pairs["right"].to_numpy(np.int64)


def split_keys(keys: np.ndarray, n_right: int) -> pd.DataFrame:
    """The inverse of :func:`pair_keys`: int64 columns ``left`` and ``right``."""
    keys = np.asarray(keys, dtype=np.int64)
    left, right = np.divmod(keys, np.int64(max(n_right, 1)))
    return pd.DataFrame({"left": left, "right": right})


def sorted_membership(values: np.ndarray, sorted_reference: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_reference)`` for an ascending ``sorted_reference``.

    Binary searches instead of the sorts that ``np.isin`` does on every call (measured
    4.3 s -> 0.05 s for 18.5 M candidate pairs against 50,000 matches). When ``values`` are
    sorted too (candidate keys are) and outnumber the reference, the search goes the other
    way: each reference value is looked up among the values, O(m log n + n).
    """
    values = np.asarray(values)
    reference = np.asarray(sorted_reference)
    if len(reference) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    if len(values) > 4 * len(reference):
        steps = np.diff(values)
        if np.all(steps > 0):  # sorted and distinct: each reference value marks one value at most
            at = np.searchsorted(values, reference)
            found = at[(at < len(values)) & (values[np.minimum(at, len(values) - 1)] == reference)]
            out = np.zeros(len(values), dtype=bool)
            out[found] = True
            return out
        if np.all(steps >= 0):  # sorted with repeats: each reference value covers values[lo:hi]
            lo = np.searchsorted(values, reference, side="left")
            hi = np.searchsorted(values, reference, side="right")
            size = len(values) + 1
            return np.cumsum(np.bincount(lo, minlength=size) - np.bincount(hi, minlength=size))[:-1] > 0
    at = np.searchsorted(reference, values)
    # A value above every reference entry lands at len(reference): clip, then compare.
    return reference[np.minimum(at, len(reference) - 1)] == values


def contains_pairs(pairs: pd.DataFrame, reference: pd.DataFrame | np.ndarray, n_right: int) -> np.ndarray:
    """For each (left, right) row of ``pairs``: is it among ``reference``?

    ``reference`` is a pairs frame, or its sorted :func:`pair_keys` (pass the keys when
    asking many times, so they are sorted once).
    """
    if isinstance(reference, pd.DataFrame):
        reference = pair_keys(reference, n_right)
        if len(reference) > 1 and not np.all(reference[1:] >= reference[:-1]):
            reference = np.sort(reference)
    return sorted_membership(pair_keys(pairs, n_right), reference)
