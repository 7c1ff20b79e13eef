"""The similarity map: which left column is compared with which right column, and how.

A map is a plain mapping, so it can live in YAML or JSON (``conf/similarity/*.yaml``)::

    given_name: [jaro_winkler, token_set_ratio]      # same column name on both sides
    address_1~street: [levenshtein, {name: gaussian, scale: 5.0}]   # left~right

Features, in map order: for each column pair, one score per listed similarity, then the
pair's missing indicator ``left~right:missing``.

Whole records and table context::

    "*": [tfidf_word, {name: tfidf_char, context: true}, code_jaccard]   # record against record
    brand~*: [token_overlap]        # the left brand found anywhere in the right record

``*`` on a side of a key stands for the whole record of that side: the values of all the
columns that the map names on that side (other keys, in map order), joined by spaces. It finds
values misplaced into another attribute (a brand moved into the title) and compares long
records as one text. ``context: true`` on a vector similarity (TF-IDF, token Jaccard, token and
code overlap) adds three table-context features after its score, ``...:<similarity>:margin_left``,
``:margin_right`` and ``:mutual_best`` (see ``context.py``), computed against the whole other table.

Missing values: None, NaN and strings that are blank after stripping are missing; for a
column pair with a numeric similarity, a value that does not parse as a number is missing too
(as a number, or as a duration or date with ``parse: duration`` / ``parse: date``, see ``formats.py``).
A similarity whose input is missing on either side scores 0, and the pair's ``:missing``
feature is then 1, so a 0 is never silently ambiguous between "different" and "unknown".
(String similarities still score a value that is present but not numeric.)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lossmatch.errors import InputError
from lossmatch.similarity.context import CONTEXT_FEATURES, context_features
from lossmatch.similarity.functions import (
    ColumnValues,
    Similarity,
    available_similarities,
    get_similarity,
)
from lossmatch.similarity.record import RECORD, record_text
from lossmatch.similarity.tfidf import pair_scores

__all__ = ["SimilarityMap"]

# Below this many pairs a progress bar is noise (it finishes in well under a second).
PROGRESS_MIN_PAIRS = 50_000


def _to_plain(obj: Any) -> Any:
    """OmegaConf containers and tuples to plain dicts and lists (OmegaConf imported only if used)."""
    if type(obj).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(obj, resolve=True)
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_format_value(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class _Entry:
    """One similarity of one column pair: the user's spelling and the resolved parameters."""

    similarity: Similarity
    params: dict[str, Any]  # as given (for to_dict)
    resolved: dict[str, Any]  # defaults filled in (for compute)
    context: bool = False  # add the table-context features (not part of the label)

    @property
    def label(self) -> str:
        # Parameters are part of the name so two settings of one similarity stay distinct.
        if not self.params:
            return self.similarity.name
        args = ",".join(f"{k}={_format_value(v)}" for k, v in sorted(self.params.items()))
        return f"{self.similarity.name}({args})"

    @property
    def suffixes(self) -> list[str]:
        """The feature-name suffixes of this entry: its score, then any table-context features."""
        return [self.label] + ([f"{self.label}:{c}" for c in CONTEXT_FEATURES] if self.context else [])

    def to_plain(self) -> str | dict[str, Any]:
        options = {**self.params, **({"context": True} if self.context else {})}
        return {"name": self.similarity.name, **options} if options else self.similarity.name


def _parse_key(key: Any) -> tuple[str, str]:
    """'col' -> (col, col); 'left~right' -> (left, right); '*' (the whole record) may stand on either side."""
    if not isinstance(key, str) or not key.strip():
        raise InputError(f"Similarity map key {key!r} must be a column name or 'left_column~right_column'.")
    parts = [p.strip() for p in key.split("~")]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"Similarity map key {key!r} must be a column name or 'left_column~right_column'.")
    return parts[0], parts[1]


def _parse_entry(key: str, entry: Any) -> _Entry:
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, Mapping):
        if "name" not in entry:
            raise InputError(f"Similarity map entry {entry!r} under {key!r} needs a 'name'.")
        params = {k: v for k, v in entry.items() if k not in ("name", "context")}
        name = entry["name"]
    else:
        raise InputError(f"Similarity map entry {entry!r} under {key!r} must be a name or a dict with 'name'.")
    try:
        similarity = get_similarity(name)
        resolved = similarity.resolve_params(params)
    except InputError as err:
        raise InputError(f"In similarity map key {key!r}: {err}") from None
    context = entry.get("context", False) if isinstance(entry, Mapping) else False
    if not isinstance(context, bool):
        raise InputError(f"In similarity map key {key!r}: context must be true or false, got {context!r}.")
    if context and similarity.vectors is None:
        vector = ", ".join(n for n in available_similarities() if get_similarity(n).vectors is not None)
        raise InputError(f"In similarity map key {key!r}: context needs a vector similarity ({vector}), "
                         f"not {name!r}.")
    return _Entry(similarity, params, resolved, context)


class SimilarityMap:
    """Column pairs and the similarities computed on them (see the module docstring).

    Args:
        map: ``{"col" or "left~right": [name or {name: ..., param: ...}, ...]}``; an OmegaConf
            node, or a dict with a top-level ``map:`` key (as in ``conf/similarity/*.yaml``), works too.

    Raises:
        InputError: empty map, bad key, unknown similarity, bad parameter or duplicate.
    """

    def __init__(self, map: Mapping[str, Sequence[str | Mapping[str, Any]]]):
        spec = _to_plain(map)
        # Unwrap {map: ...} (the conf file layout; Hydra's _target_/_convert_ may sit beside it).
        # A list under "map" is a column called "map", not the wrapper.
        if (isinstance(spec, Mapping) and "map" in spec and all(k == "map" or str(k).startswith("_") for k in spec)
                and (spec["map"] is None or spec["map"] == "???" or isinstance(spec["map"], Mapping))):
            spec = spec["map"]
            if spec is None or spec == "???":
                raise InputError("The similarity map is not set: give similarity.map, e.g. "
                                 "similarity.map='{name: [jaro_winkler, token_set_ratio], city: [exact]}'.")
        if not isinstance(spec, Mapping) or not spec:
            raise InputError(f"A similarity map must be a non-empty mapping of column pairs to similarities, got {spec!r}.")
        self._pairs: list[tuple[str, str]] = []
        self._entries: list[list[_Entry]] = []
        for key, entries in spec.items():
            pair = _parse_key(key)
            if pair in self._pairs:
                raise InputError(f"Column pair {pair[0]}~{pair[1]} appears twice in the similarity map (key {key!r}).")
            if isinstance(entries, (str, Mapping)):
                entries = [entries]  # a single similarity needs no list
            if not isinstance(entries, Sequence) or not entries:
                raise InputError(f"Similarity map key {key!r} needs a non-empty list of similarities, got {entries!r}.")
            parsed = [_parse_entry(key, e) for e in entries]
            labels = [e.label for e in parsed]
            duplicates = sorted({lab for lab in labels if labels.count(lab) > 1})
            if duplicates:
                raise InputError(f"Similarity map key {key!r} lists {duplicates} more than once.")
            self._pairs.append(pair)
            self._entries.append(parsed)
        for side, name in ((0, "left"), (1, "right")):
            if any(pair[side] == RECORD for pair in self._pairs) and not self._record_columns(side):
                raise InputError(f"Similarity map key '*' stands for the {name} record, the {name} columns that "
                                 f"other keys name, but no key names a {name} column.")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SimilarityMap:
        """Same as the constructor (accepts dicts, ``{map: ...}`` and OmegaConf nodes)."""
        return cls(d)

    def to_dict(self) -> dict[str, list[str | dict[str, Any]]]:
        """Plain dict that round-trips through ``from_dict``, YAML and JSON."""
        return {
            (left if left == right else f"{left}~{right}"): [e.to_plain() for e in entries]
            for (left, right), entries in zip(self._pairs, self._entries)
        }

    @property
    def column_pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def _record_columns(self, side: int) -> list[str]:
        return list(dict.fromkeys(pair[side] for pair in self._pairs if pair[side] != RECORD))

    @property
    def left_columns(self) -> list[str]:
        """Columns read from the left table (``*`` is the record they form)."""
        return self._record_columns(0)

    @property
    def right_columns(self) -> list[str]:
        """Columns read from the right table (``*`` is the record they form)."""
        return self._record_columns(1)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for (left, right), entries in zip(self._pairs, self._entries):
            names += [f"{left}~{right}:{suffix}" for e in entries for suffix in e.suffixes]
            names.append(f"{left}~{right}:missing")
        return names

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimilarityMap) and self.to_dict() == other.to_dict()

    # Pickle/dill the plain spec, not the registry's functions: rapidfuzz's C scorers do not
    # pickle, and a file then reloads against the current registry.
    def __getstate__(self) -> dict[str, Any]:
        return {"map": self.to_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["map"])

    def __repr__(self) -> str:
        return f"SimilarityMap({self.to_dict()!r})"

    def validate(self, left_df: pd.DataFrame, right_df: pd.DataFrame, left_name: str = "left table",
                 right_name: str = "right table") -> None:
        """Raise ``InputError`` naming any mapped column that a table lacks (or has twice)."""
        for side, frame, table in ((0, left_df, left_name), (1, right_df, right_name)):
            for pair in self._pairs:
                column = pair[side]
                if column == RECORD:
                    continue
                count = int((frame.columns == column).sum())
                if count == 0:
                    available = ", ".join(map(str, frame.columns))
                    raise InputError(
                        f"Column {column!r} (similarity map pair {pair[0]}~{pair[1]}) is not in the {table}; "
                        f"available columns: {available}."
                    )
                if count > 1:
                    raise InputError(f"Column {column!r} appears {count} times in the {table}.")

    def transform(self, left_df: pd.DataFrame, right_df: pd.DataFrame, left_pos: Any, right_pos: Any, *,
                  workers: int = -1, progress: bool | None = None) -> np.ndarray:
        """Similarity features of aligned pairs ``(left_df.iloc[left_pos[i]], right_df.iloc[right_pos[i]])``.

        Args:
            left_pos, right_pos: integer row positions (iloc), same length.
            workers: threads for rapidfuzz (-1 = all cores).
            progress: show a tqdm bar on stderr; ``None`` shows it from 50,000 pairs on.

        Returns:
            float32 array of shape ``(len(left_pos), len(feature_names))``.
        """
        self.validate(left_df, right_df)
        lp = _positions(left_pos, len(left_df), "left_pos")
        rp = _positions(right_pos, len(right_df), "right_pos")
        if len(lp) != len(rp):
            raise InputError(f"left_pos and right_pos must have the same length, got {len(lp)} and {len(rp)}.")
        n = len(lp)
        out = np.empty((n, len(self.feature_names)), dtype=np.float32)
        show = (n >= PROGRESS_MIN_PAIRS) if progress is None else bool(progress)
        total = n * sum(len(e) for e in self._entries)
        records: dict[int, pd.Series] = {}

        def source(side: int, name: str) -> str:
            # A record of one column is that column's values (the same texts, codes and numbers):
            # reading the column itself lets its scores be reused (below) instead of computed twice.
            columns = self._record_columns(side)
            return columns[0] if name == RECORD and len(columns) == 1 else name

        def column_of(side: int, frame: pd.DataFrame, name: str) -> pd.Series:
            if name != RECORD:
                return frame[name]
            if side not in records:  # built once per side, over the whole table
                records[side] = record_text(frame, self._record_columns(side))
            return records[side]

        # First output column of each (left input, right input, similarity) already computed: with a
        # one-column table (the textual benchmark sets) "*" and that column are the same input.
        computed: dict[tuple[str, str, str, bool], int] = {}
        with tqdm(total=total, disable=not show, file=sys.stderr, desc="similarities", unit="score",
                  unit_scale=True) as bar:
            column = 0
            for (left, right), entries in zip(self._pairs, self._entries):
                inputs = (source(0, left), source(1, right))
                values = ColumnValues(column_of(0, left_df, inputs[0]), column_of(1, right_df, inputs[1]), lp, rp)
                any_missing = values.missing
                for entry in entries:
                    width = len(entry.suffixes)
                    key = (*inputs, entry.label, entry.context)
                    missing = values.missing
                    if entry.similarity.numeric:
                        # Unparsable counts as missing for numeric similarities ("" parses to NaN too).
                        left_numbers, right_numbers = values.numbers(entry.resolved.get("parse", "number"))
                        missing = np.isnan(left_numbers) | np.isnan(right_numbers)
                        any_missing = any_missing | missing
                    if key in computed:
                        out[:, column:column + width] = out[:, computed[key]:computed[key] + width]
                        column += width
                        bar.update(n)
                        continue
                    computed[key] = column
                    context = None
                    if entry.context:
                        # One set of vectors for the pair scores and the whole-table context.
                        matrix, measure = entry.similarity.vectors(values, **entry.resolved)
                        score = pair_scores(matrix, measure, np.maximum(values.left_codes, 0),
                                            np.maximum(values.right_codes, 0)).astype(np.float32)
                        context = context_features(matrix, measure, values, score)
                    else:
                        score = entry.similarity.compute(values, workers=workers, **entry.resolved)
                    if not entry.similarity.indicator:
                        score[missing] = 0.0
                    out[:, column] = score
                    column += 1
                    if context is not None:
                        out[:, column:column + context.shape[1]] = context
                        column += context.shape[1]
                    bar.update(n)
                out[:, column] = any_missing
                column += 1
        return out


def _positions(positions: Any, length: int, name: str) -> np.ndarray:
    array = np.asarray(positions)
    if array.size == 0:
        return np.zeros(0, dtype=np.intp)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{name} must be a 1-D array of integer row positions, got dtype {array.dtype} "
                         f"and shape {array.shape}.")
    # Negative positions would silently wrap around to the end of the table.
    if array.min() < 0 or array.max() >= length:
        raise InputError(f"{name} must be row positions in [0, {length}), got values in "
                         f"[{array.min()}, {array.max()}].")
    return array.astype(np.intp, copy=False)
