"""Two CSV tables of records plus a CSV of known matches (pairs of ids).

The general way to bring your own data: ``data=csv data.left=a.csv data.right=b.csv
data.matches=m.csv``. Id columns are read as strings, so ids in the matches file
must be spelled exactly as in the tables ("007" is not "7").
"""

from __future__ import annotations

from pathlib import Path

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
from lossmatch.data.checks import check_matches_known, check_not_empty


class CsvSource(DataSource):
    """Table-to-table data from three CSV files.

    Args:
        left, right: paths of the record tables (relative to the directory the
            program was started in).
        matches: path of a CSV with one row per known match.
        id_left, id_right: id column of the left / right table.
        matches_id_left, matches_id_right: columns of the matches file holding left /
            right ids; ``None`` means the same name as ``id_left`` / ``id_right``.
            (If both tables use the same id column name, give the matches file
            distinct column names and set these.)
        encoding: text encoding of all three files.
        unescape_html: decode HTML character references (``&#233;``, ``&amp;``) in the
            tables' text cells, for data scraped from web pages.
        sample, seed, blocking, split, name: as for every source; ``name`` defaults
            to the stem of the left file.
    """

    def __init__(
        self,
        *,
        left,
        right,
        matches,
        id_left="id",
        id_right="id",
        matches_id_left=None,
        matches_id_right=None,
        encoding="utf-8",
        unescape_html=False,
        sample=None,
        seed=0,
        blocking=None,
        split=None,
        name=None,
    ):
        super().__init__(
            name=name or Path(str(left)).stem,
            sample=sample,
            seed=seed,
            blocking=blocking,
            split=DEFAULT_SPLIT if split is None else split,
        )
        self.paths = {"left": left, "right": right, "matches": matches}
        self.id_left = id_left
        self.id_right = id_right
        self.matches_id_left = matches_id_left or id_left
        self.matches_id_right = matches_id_right or id_right
        self.encoding = encoding
        self.unescape_html = unescape_html

    def check_files(self) -> dict[str, Path]:
        """The three files, resolved; an InputError names the first one missing (before any reading)."""
        return {k: resolve_path(v, f"data.{k}") for k, v in self.paths.items()}

    def load(self) -> MatchingData:
        self.validate()
        paths = self.check_files()
        left = read_table(paths["left"], "data.left", id_column=self.id_left, encoding=self.encoding,
                           unescape_html=self.unescape_html)
        right = read_table(paths["right"], "data.right", id_column=self.id_right, encoding=self.encoding,
                           unescape_html=self.unescape_html)
        mcols = [self.matches_id_left, self.matches_id_right]
        raw = read_csv(paths["matches"], "data.matches", id_columns=mcols, encoding=self.encoding)
        where = f"data.matches ({paths['matches']})"
        check_not_empty(raw, where)
        check_matches_known(raw, *mcols, left[self.id_left], right[self.id_right], where)
        if self.blocking is not None:
            _blocking.validate_rules(self.blocking, left, right)

        matches = matches_frame(
            positions(left[self.id_left], raw[self.matches_id_left]),
            positions(right[self.id_right], raw[self.matches_id_right]),
        )
        if self.sample is not None:
            left, right, matches = sample_tables(left, right, matches, self.sample, self.seed)
        return MatchingData(
            name=self.name,
            left=left,
            right=right,
            id_left=self.id_left,
            id_right=self.id_right,
            matches=matches,
            files={k: str(p) for k, p in paths.items()},
        )
