"""Benchmark sets in the DeepMatcher directory format: official pairs, or blocked tables.

A directory holds ``tableA.csv`` (left) and ``tableB.csv`` (right), each with an
``id`` column, and ``train.csv``, ``valid.csv``, ``test.csv`` with columns
``ltable_id, rtable_id, label``. Two ways to use it (``data.pairs``):

- ``official`` (default): the labelled pairs are kept as given (no blocking, no
  resplitting), so results compare with published ones. Those pair files are
  pre-sampled (9-24 % matches), far from the imbalance of real matching.
- ``blocked``: the set as a table-to-table task. Candidate pairs come from blocking
  over the whole tableA x tableB (``data.blocking``), the matches are the label-1
  pairs of all three files and every other pair counts as a non-match, and the split
  is by entity as for CSV data. A pair labelled 1 in one file and 0 in another is a
  match. Without rules, :func:`default_blocking` is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch import blocking as _blocking
from lossmatch.data.base import (
    DEFAULT_SPLIT,
    DataSource,
    MatchingData,
    matches_frame,
    positions,
    read_csv,
    read_table,
    resolve_path,
    sample_tables,
)
from lossmatch.data.checks import check_columns, check_matches_known, check_not_empty
from lossmatch.errors import InputError

ID = "id"
PAIR_COLUMNS = ["ltable_id", "rtable_id", "label"]
# Our split name -> the file DeepMatcher uses for it.
SPLIT_FILES = {"train": "train.csv", "val": "valid.csv", "test": "test.csv"}
PAIRS = ("official", "blocked")
# Blocked mode without rules: every pair up to this many, else sorted neighbourhood.
FULL_PAIRS_LIMIT = 3_000_000
SORTED_NEIGHBOURHOOD_WINDOW = 21


def default_blocking(left: pd.DataFrame, right: pd.DataFrame) -> list[dict]:
    """Generic blocking rules for any DeepMatcher set (used by ``pairs=blocked`` without ``data.blocking``).

    Every pair (``full``) when tableA x tableB has at most :data:`FULL_PAIRS_LIMIT` pairs:
    complete by construction, and the realistic imbalance (about 1 match in 1,000-2,500
    pairs on the development sets). Larger sets: sorted neighbourhood (window
    :data:`SORTED_NEIGHBOURHOOD_WINDOW`) on the first attribute column, which in these
    sets is the name or title. Rules depend only on the tables' sizes and column order,
    never on labels. A word-level ``token`` rule would suit titles better than sorted
    neighbourhood (which misses matches whose first words differ); see the README.
    """
    if len(left) * len(right) <= FULL_PAIRS_LIMIT:
        return [{"method": "full"}]
    attributes = [c for c in left.columns if c != ID]
    if not attributes:
        raise InputError(f"data.blocking: tableA has no column besides {ID!r} to block on; set data.blocking")
    return [{"method": "sortedneighbourhood", "on": attributes[0], "window": SORTED_NEIGHBOURHOOD_WINDOW}]


class DeepMatcherSource(DataSource):
    """Loads a DeepMatcher-format directory into :class:`MatchingData` with ``labelled_pairs``.

    Args:
        path: the directory (relative to the directory the program was started in).
        encoding: text encoding of the five files.
        unescape_html: decode HTML character references (``&#233;``, ``&amp;``) in the
            tables' text cells, for data scraped from web pages.
        pairs: ``official`` (the labelled pairs and splits as given) or ``blocked``
            (blocking over tableA x tableB, split by entity; see the module docstring).
        sample: ``None``, or for fast runs keep ``n`` random pairs of each split (and
            only the records they use); with ``pairs=blocked``, ``n`` random tableA
            records and their matches, as for CSV data.
        seed: seed of the sample.
        blocking: with ``pairs=blocked``, the rules (``None``: :func:`default_blocking`);
            ignored for official pairs.
        split: with ``pairs=blocked``, ``{val, test}`` fractions of entities (``None``:
            0.2 each); ignored for official pairs, whose splits are given.
        name: dataset name in results; defaults to the directory's name, plus
            ``-blocked`` with ``pairs=blocked`` (a different task, so other experiments).
    """

    def __init__(
        self,
        *,
        path,
        pairs="official",
        encoding="utf-8",
        unescape_html=False,
        sample=None,
        seed=0,
        blocking=None,
        split=None,
        name=None,
    ):
        blocked = pairs == "blocked"
        super().__init__(
            name=name or Path(str(path)).name + ("-blocked" if blocked else ""),
            sample=sample,
            seed=seed,
            blocking=blocking,
            split=(DEFAULT_SPLIT if split is None else split) if blocked else split,
        )
        self.path = path
        self.pairs = pairs
        self.encoding = encoding
        self.unescape_html = unescape_html

    def validate(self) -> None:
        if self.pairs not in PAIRS:
            raise InputError(f"data.pairs: expected one of {', '.join(PAIRS)}, got {self.pairs!r}")
        super().validate()

    def check_files(self) -> dict[str, Path]:
        """The set's five files, resolved; an InputError names the first one missing."""
        root = resolve_path(self.path, "data.path", directory=True)
        files = {"left": "tableA.csv", "right": "tableB.csv", **SPLIT_FILES}
        return {k: resolve_path(root / f, "data.path") for k, f in files.items()}

    def load(self) -> MatchingData:
        self.validate()
        paths = self.check_files()

        left = read_table(paths["left"], "data.path", id_column=ID, encoding=self.encoding,
                           unescape_html=self.unescape_html)
        right = read_table(paths["right"], "data.path", id_column=ID, encoding=self.encoding,
                           unescape_html=self.unescape_html)
        raw = {s: self._read_pairs(paths[s], left, right) for s in SPLIT_FILES}
        if self.pairs == "blocked":
            left, right, matches = self._blocked(left, right, raw)
            labelled = None
        else:
            left, right, matches, labelled = self._official(left, right, raw)
        return MatchingData(
            name=self.name,
            left=left,
            right=right,
            id_left=ID,
            id_right=ID,
            matches=matches,
            labelled_pairs=labelled,
            files={k: str(p) for k, p in paths.items()},
        )

    def _official(self, left, right, raw: dict[str, pd.DataFrame]):
        """The labelled pairs as given (a sample of them with ``sample``); matches are their label-1 pairs."""
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
        return left, right, matches_frame(positives["left"], positives["right"]), labelled

    def _blocked(self, left, right, raw: dict[str, pd.DataFrame]):
        """Table-to-table data: the label-1 pairs of all three files are the matches."""
        positives = pd.concat([df[df["label"] == 1] for df in raw.values()])
        matches = matches_frame(positions(left[ID], positives["ltable_id"]), positions(right[ID], positives["rtable_id"]))
        if self.blocking is None:
            self.blocking = _blocking.validate_rules(default_blocking(left, right), left, right)
        else:
            _blocking.validate_rules(self.blocking, left, right)
        if self.sample is not None:
            left, right, matches = sample_tables(left, right, matches, self.sample, self.seed)
        return left, right, matches

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
