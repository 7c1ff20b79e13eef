"""A finished run's validation and test predictions, read back from MLflow.

Every training run logs ``predictions.parquet`` (split, left_id, right_id, label,
probability for the validation and test pairs) and the metrics ``val_matches`` /
``test_matches`` (true matches of the split, those blocking missed included). From these
two a later step rebuilds exactly what the run was scored on, without the model: the
precision-recall curves of a comparison and the ensembles of several runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch.errors import InputError

__all__ = ["ARTIFACT", "SplitPredictions", "align", "load_predictions", "missed_matches", "split_predictions"]

ARTIFACT = "predictions.parquet"
_COLUMNS = ("split", "left_id", "right_id", "label", "probability")


@dataclass(frozen=True)
class SplitPredictions:
    """One split of one run: labels, probabilities and the matches blocking never proposed."""

    y: np.ndarray
    p: np.ndarray
    missed: int


def load_predictions(run_id: str, *, tracking_uri: str, dst: Path | str | None = None) -> pd.DataFrame:
    """``predictions.parquet`` of run ``run_id`` (downloaded into ``dst`` or a temporary folder).

    Raises:
        InputError: the run has no such artifact (a run from before it was logged, or a failed run).
    """
    import os
    import tempfile

    import mlflow

    # Download bars for one small file per run are noise in a comparison's output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    with tempfile.TemporaryDirectory(prefix="lossmatch-predictions-") as tmp:
        try:
            path = client.download_artifacts(run_id, ARTIFACT, str(dst or tmp))
        except Exception as exc:  # MlflowException or OSError, depending on the artifact store
            raise InputError(f"run {run_id}: no {ARTIFACT} artifact ({' '.join(str(exc).split())[:200]})") from None
        frame = pd.read_parquet(path)
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"run {run_id}: {ARTIFACT} has no column {missing[0]!r}; expected {', '.join(_COLUMNS)}")
    return frame


def missed_matches(n_matches: float | None, y) -> int:
    """Matches of a split that blocking never proposed: the run's ``<split>_matches`` minus the labelled ones."""
    if n_matches is None or np.isnan(n_matches):
        return 0
    return max(round(n_matches) - int(np.sum(y)), 0)


def split_predictions(frame: pd.DataFrame, split: str, n_matches: float | None) -> SplitPredictions:
    """The rows of ``split``; ``n_matches`` is the run's ``<split>_matches`` metric (None: no missed matches)."""
    rows = frame[frame["split"] == split]
    y = rows["label"].to_numpy(dtype=np.int64)
    return SplitPredictions(y, rows["probability"].to_numpy(dtype=np.float64), missed_matches(n_matches, y))


def align(frames: Mapping[str, pd.DataFrame], split: str) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The pairs of ``split`` scored by every run, in one order, and each run's probabilities for them.

    Runs of one data set with one seed score the same pairs (same split by entity); this
    checks it, so that an ensemble never averages probabilities of different pairs.

    Returns:
        ``(pairs, {name: probabilities})`` where ``pairs`` has left_id, right_id and label.

    Raises:
        InputError: the runs scored different pairs, or disagree on a label.
    """
    names = list(frames)
    if not names:
        raise InputError("predictions: no runs given")
    keys = ["left_id", "right_id"]
    first = frames[names[0]]
    base = first.loc[first["split"] == split, [*keys, "label"]].sort_values(keys, kind="stable").reset_index(drop=True)
    probabilities = {}
    for name in names:
        rows = frames[name]
        rows = rows.loc[rows["split"] == split, [*keys, "label", "probability"]].sort_values(keys, kind="stable")
        rows = rows.reset_index(drop=True)
        same_pairs = len(rows) == len(base) and all(
            np.array_equal(rows[k].astype(str).to_numpy(), base[k].astype(str).to_numpy()) for k in keys
        )
        if not same_pairs:
            raise InputError(
                f"predictions: runs {names[0]!r} and {name!r} scored different {split} pairs "
                f"({len(base)} and {len(rows)}); combine runs of one data set and one seed"
            )
        if not np.array_equal(rows["label"].to_numpy(), base["label"].to_numpy()):
            raise InputError(f"predictions: runs {names[0]!r} and {name!r} disagree on {split} labels")
        probabilities[name] = rows["probability"].to_numpy(dtype=np.float64)
    return base, probabilities
