"""The data every matching run starts from, and helpers shared by the sources.

A *source* (one module per kind of input, e.g. ``febrl4.py``) is a class that Hydra
instantiates from ``conf/data/<name>.yaml`` and whose ``load()`` returns a
:class:`MatchingData`. Sources check their input with cheap tests first
(files exist, columns and ids are sound, blocking rules name real columns) and
raise :class:`lossmatch.errors.InputError` before any pairwise work.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.utils import to_absolute_path

# Module import (not ``from ... import``) because lossmatch.blocking imports
# lossmatch.data.checks, which would make the two packages import each other.
from lossmatch import blocking as _blocking
from lossmatch.common import plain
from lossmatch.data.checks import check_columns, check_not_empty, check_unique_ids
from lossmatch.data.split import validate_fractions
from lossmatch.errors import InputError


@dataclass
class MatchingData:
    """Two tables of records and what is known about which of them match.

    Attributes:
        name: "febrl4", or the stem of the input path.
        left: the left records, index reset to 0..n-1 (row position == index).
        right: the right records, likewise.
        id_left: name of the id column in ``left``.
        id_right: name of the id column in ``right``.
        matches: int64 columns ``left`` and ``right``: row positions of every known match.
        labelled_pairs: only for benchmark data that comes pre-split (DeepMatcher):
            ``{"train"|"val"|"test": DataFrame[left, right, label]}`` with row
            positions; ``None`` for table-to-table data, which is split by entity.
        files: which file each table came from, for messages.
    """

    name: str
    left: pd.DataFrame
    right: pd.DataFrame
    id_left: str
    id_right: str
    matches: pd.DataFrame
    labelled_pairs: dict[str, pd.DataFrame] | None = None
    files: dict[str, str] = field(default_factory=dict)


DEFAULT_SPLIT = {"val": 0.2, "test": 0.2}


class DataSource:
    """Keeps the keyword arguments that every ``conf/data/*.yaml`` has.

    ``blocking`` and ``split`` are not used by ``load()``; they are stored (as plain
    containers) for the trainer. Table-to-table sources pass ``DEFAULT_SPLIT`` for a
    null ``split``; pre-split benchmark data keeps ``None``.

    The constructor only stores: Hydra's ``instantiate`` wraps any exception raised
    in a constructor into an ``InstantiationException``, which would hide the
    one-line ``InputError``. ``validate()`` (called first thing by every ``load()``)
    checks ``sample``, ``blocking`` and ``split`` and replaces the last two with
    their normalised form.
    """

    def __init__(self, *, name, sample=None, seed=0, blocking=None, split=None):
        self.name = name
        self.sample = sample
        self.seed = seed
        self.blocking = plain(blocking)
        self.split = plain(split)

    def validate(self) -> None:
        """Raise InputError for a bad ``sample``, ``seed``, ``blocking`` or ``split``."""
        sample = self.sample
        if sample is not None and (
            isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 1
        ):
            raise InputError(f"data.sample: expected null or a positive integer, got {sample!r}")
        try:
            self.seed = int(self.seed)
        except (TypeError, ValueError):
            raise InputError(f"data.seed: expected an integer, got {self.seed!r}") from None
        if self.blocking is not None:
            self.blocking = _blocking.validate_rules(self.blocking)
        if self.split is not None:
            self.split = validate_fractions(self.split)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, sample={self.sample!r})"


def resolve_path(path, key: str, *, directory: bool = False) -> Path:
    """Absolute path of a user-given ``path``, checked to exist.

    Relative paths are taken from the directory the program was started in, even
    when Hydra has changed the working directory (``to_absolute_path`` handles both).
    """
    if path is None or str(path) in ("", "???"):
        raise InputError(f"{key}: no path given; set {key}=<path>")
    p = Path(to_absolute_path(str(path)))
    ok = p.is_dir() if directory else p.is_file()
    if not ok:
        kind = "directory" if directory else "file"
        raise InputError(f"{key}: {kind} not found: {p}")
    return p


def check_encoding(encoding: str) -> str:
    """Codec name for ``encoding``, or InputError naming ``data.encoding``."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise InputError(f"data.encoding: unknown encoding {encoding!r}; try utf-8 or latin-1") from None
    # utf-8-sig also reads plain UTF-8 and drops the byte-order mark that Excel
    # writes, which would otherwise glue itself to the first column name.
    return "utf-8-sig" if name == "utf-8" else name


def _decode_error_position(path: Path, encoding: str) -> tuple[int, int]:
    """Byte offset and line number of the first byte ``encoding`` cannot decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                start = max(err.start - pending, 0)
                return offset + start, line + chunk[:start].count(b"\n")
            offset += len(chunk)
            line += chunk.count(b"\n")
    return offset, line


def read_csv(path: Path, key: str, *, id_columns: Iterable[str], encoding: str) -> pd.DataFrame:
    """Read a CSV with ``id_columns`` as strings, turning read errors into InputError.

    Ids are strings so that "007" and "7" stay different and lookups between a
    table and its matches file agree.
    """
    where = f"{key} ({path})"
    codec = check_encoding(encoding)
    if path.stat().st_size == 0:
        raise InputError(f"{where}: file is empty (0 bytes); expected a CSV with a header row")
    id_columns = list(dict.fromkeys(id_columns))
    try:
        # The header alone is enough to check the columns before reading everything.
        header = pd.read_csv(path, nrows=0, encoding=codec)
        check_columns(header, id_columns, where)
        df = pd.read_csv(path, dtype={c: str for c in id_columns}, encoding=codec)
    except UnicodeDecodeError:
        offset, line = _decode_error_position(path, codec)
        raise InputError(
            f"{where}: file is not valid {encoding} (first bad byte at offset {offset}, "
            f"line {line}); set data.encoding=latin-1 (or the file's real encoding)"
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: file has no header row; expected a CSV with column names") from None
    except pd.errors.ParserError as err:
        raise InputError(f"{where}: not a readable CSV: {' '.join(str(err).split())}") from None
    return df


def read_table(path: Path, key: str, *, id_column: str, encoding: str, unescape_html: bool = False) -> pd.DataFrame:
    """Read a table of records: non-empty, unique non-missing ids, index 0..n-1.

    With ``unescape_html`` the text cells are read as the HTML they were scraped from
    (:func:`unescape_html_entities`).
    """
    df = read_csv(path, key, id_columns=[id_column], encoding=encoding)
    where = f"{key} ({path})"
    check_not_empty(df, where)
    check_unique_ids(df, id_column, where)
    if unescape_html:
        df = unescape_html_entities(df, skip=[id_column])
    return df.reset_index(drop=True)


def unescape_html_entities(df: pd.DataFrame, *, skip: Iterable[str] = ()) -> pd.DataFrame:
    """Text cells with HTML character references decoded by the standard library's ``html.unescape``.

    Tables scraped from web pages keep ``&#40;``, ``&#233;`` or ``&amp;`` on one side only
    ("Granville Island &#40; Brewery &#41;"), which string similarities read as the words
    "40" and "41", and codes. Cells without an ``&`` are left as they are (same object).
    """
    import html

    out = df.copy()
    for column in out.columns:
        if column in skip or not (pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column])):
            continue
        values = out[column]
        has_entity = values.map(lambda v: isinstance(v, str) and "&" in v)
        if has_entity.any():
            out.loc[has_entity, column] = values[has_entity].map(html.unescape)
    return out


def positions(ids: pd.Series, values: pd.Series) -> np.ndarray:
    """Row positions in the id column ``ids`` of each of ``values`` (all known, unique ids)."""
    return pd.Index(ids).get_indexer(values).astype(np.int64)


def matches_frame(left_pos, right_pos) -> pd.DataFrame:
    """The ``matches`` frame: unique, sorted int64 row positions."""
    m = pd.DataFrame(
        {"left": np.asarray(left_pos, dtype=np.int64), "right": np.asarray(right_pos, dtype=np.int64)}
    )
    return m.drop_duplicates().sort_values(["left", "right"]).reset_index(drop=True)


def sample_tables(
    left: pd.DataFrame, right: pd.DataFrame, matches: pd.DataFrame, n: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small, consistent subset of table-to-table data for fast runs.

    Keeps ``n`` random left records, every right record matched to them, and the
    same share (n / len(left)) of the right records that match nothing, so the
    subset keeps roughly the original balance of matched and unmatched records.
    Right records matched only to dropped left records are dropped too (they would
    become false non-matches). Positions in the result refer to the new tables.
    """
    rng = np.random.default_rng(seed)
    n = min(n, len(left))
    keep_left = np.sort(rng.choice(len(left), size=n, replace=False))
    m = matches[matches["left"].isin(keep_left)]
    matched_right = np.unique(m["right"].to_numpy())
    never_matched = np.setdiff1d(np.arange(len(right)), matches["right"].to_numpy())
    n_extra = int(round(len(never_matched) * n / len(left)))
    extra = rng.choice(never_matched, size=n_extra, replace=False)
    keep_right = np.sort(np.concatenate([matched_right, extra]).astype(np.int64))

    new_left = pd.Series(np.arange(len(keep_left)), index=keep_left)
    new_right = pd.Series(np.arange(len(keep_right)), index=keep_right)
    m = matches_frame(new_left[m["left"]].to_numpy(), new_right[m["right"]].to_numpy())
    return (
        left.iloc[keep_left].reset_index(drop=True),
        right.iloc[keep_right].reset_index(drop=True),
        m,
    )
