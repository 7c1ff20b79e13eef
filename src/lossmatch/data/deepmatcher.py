"""Benchmark sets in the DeepMatcher directory format, with their official splits.

A directory holds ``tableA.csv`` (left) and ``tableB.csv`` (right), each with an
``id`` column, and ``train.csv``, ``valid.csv``, ``test.csv`` with columns
``ltable_id, rtable_id, label``. The labelled pairs are kept as given (no blocking,
no resplitting), so results compare with published ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch.data.base import (
    DataSource,
    MatchingData,
    matches_frame,
    positions,
    read_csv,
    read_table,
    resolve_path,
)
from lossmatch.data.checks import check_columns, check_matches_known, check_not_empty
from lossmatch.errors import InputError

ID = "id"
PAIR_COLUMNS = ["ltable_id", "rtable_id", "label"]
# Our split name -> the file DeepMatcher uses for it.
SPLIT_FILES = {"train": "train.csv", "val": "valid.csv", "test": "test.csv"}


class DeepMatcherSource(DataSource):
    """Loads a DeepMatcher-format directory into :class:`MatchingData` with ``labelled_pairs``.

    Args:
        path: the directory (relative to the directory the program was started in).
        encoding: text encoding of the five files.
        sample: ``None``, or keep ``n`` random pairs of each split (and only the
            records they use) for fast runs.
        seed: seed of the sample.
        blocking, split: accepted so every ``conf/data`` file has the same keys;
            the official pairs and splits are used instead, so leave them null.
        name: dataset name in results; defaults to the directory's name.
    """

    def __init__(
        self, *, path, encoding="utf-8", sample=None, seed=0, blocking=None, split=None, name=None
    ):
        super().__init__(
            name=name or Path(str(path)).name,
            sample=sample,
            seed=seed,
            blocking=blocking,
            split=split,
        )
        self.path = path
        self.encoding = encoding

    def load(self) -> MatchingData:
        self.validate()
        root = resolve_path(self.path, "data.path", directory=True)
        files = {"left": "tableA.csv", "right": "tableB.csv", **SPLIT_FILES}
        paths = {k: resolve_path(root / f, "data.path") for k, f in files.items()}

        left = read_table(paths["left"], "data.path", id_column=ID, encoding=self.encoding)
        right = read_table(paths["right"], "data.path", id_column=ID, encoding=self.encoding)
        raw = {s: self._read_pairs(paths[s], left, right) for s in SPLIT_FILES}

        if self.sample is not None:
            rng = np.random.default_rng(self.seed)
            raw = {
                s: df.iloc[np.sort(rng.choice(len(df), size=min(self.sample, len(df)), replace=False))]
                for s, df in raw.items()
            }
            # Keep only the records the sampled pairs use, so later steps stay small.
            used_l = pd.unique(pd.concat([df["ltable_id"] for df in raw.values()]))
            used_r = pd.unique(pd.concat([df["rtable_id"] for df in raw.values()]))
            left = left[left[ID].isin(used_l)].reset_index(drop=True)
            right = right[right[ID].isin(used_r)].reset_index(drop=True)

        labelled = {
            s: pd.DataFrame(
                {
                    "left": positions(left[ID], df["ltable_id"]),
                    "right": positions(right[ID], df["rtable_id"]),
                    "label": df["label"].to_numpy(dtype=np.int64),
                }
            )
            for s, df in raw.items()
        }
        positives = pd.concat([df[df["label"] == 1] for df in labelled.values()])
        return MatchingData(
            name=self.name,
            left=left,
            right=right,
            id_left=ID,
            id_right=ID,
            matches=matches_frame(positives["left"], positives["right"]),
            labelled_pairs=labelled,
            files={k: str(p) for k, p in paths.items()},
        )

    def _read_pairs(self, path, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
        where = f"data.path ({path})"
        df = read_csv(path, "data.path", id_columns=PAIR_COLUMNS[:2], encoding=self.encoding)
        check_columns(df, PAIR_COLUMNS, where)
        check_not_empty(df, where)
        check_matches_known(df, "ltable_id", "rtable_id", left[ID], right[ID], where)
        labels = pd.to_numeric(df["label"], errors="coerce")
        bad = df["label"][~labels.isin([0, 1])]
        if len(bad):
            raise InputError(
                f"{where}: column 'label' has {len(bad)} values other than 0 and 1, "
                f"e.g. {list(pd.unique(bad))[:5]!r}"
            )
        return df.assign(label=labels.astype(np.int64))
