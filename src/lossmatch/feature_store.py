"""Similarity features computed in chunks and kept on disk, read back as ``tf.data`` for Keras.

Holding every candidate pair's features in memory stops at a few tens of millions of
pairs; a million records per side gives more. :func:`write_features` computes
``SimilarityMap.transform`` over the pairs ``chunk_size`` at a time (one progress step
per chunk) and appends them to a Parquet file (pyarrow; columnar, so DuckDB, Spark and
pandas read it too) with columns ``left``, ``right`` (int64 row positions), ``label``
(float32, when matches are given) and one float32 column per feature name.

Results never depend on ``chunk_size``: every chunk is transformed against the whole
tables (or, for similarities that only look at the two values of a pair, against the
rows the chunk uses, which gives the same numbers), and rows are written in Parquet
row groups of exactly :data:`ROW_GROUP_ROWS` rows whatever the chunk size, so the file's
content is the same for every chunk size and so is everything read from it.

Readers: :class:`FeatureFile` (row groups, whole columns, fixed-size blocks),
:func:`tf_dataset` (batches for ``model.fit`` / ``model.predict``, shuffled by seeded
windows of row groups) and :func:`predict_file`. TensorFlow is imported inside those
functions only.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lossmatch.blocking import unique_sorted
from lossmatch.common import pair_keys, sorted_membership
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap

__all__ = ["DEFAULT_CHUNK_SIZE", "ROW_GROUP_ROWS", "FeatureFile", "compute_features", "per_pair_map",
           "predict_file", "tf_dataset", "write_features"]

DEFAULT_CHUNK_SIZE = 500_000
# Rows per Parquet row group, fixed so that a file's layout is independent of the chunk size.
ROW_GROUP_ROWS = 65_536
_META_KEY = b"lossmatch.features"

# Similarities whose score of a pair depends on the pair's two values only. The others
# (TF-IDF: weights fitted on every distinct value of the columns) need the whole tables
# in every chunk. Unlisted ones count as needing the whole tables: slower, never wrong.
_PER_PAIR = frozenset({
    "levenshtein", "damerau_levenshtein", "indel", "jaro", "jaro_winkler", "hamming", "lcsseq", "osa",
    "prefix", "postfix", "ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio",
    "partial_token_sort_ratio", "partial_token_set_ratio", "WRatio", "QRatio", "exact", "numeric_abs",
    "gaussian", "token_jaccard",
})


def per_pair_map(similarity_map: SimilarityMap) -> bool:
    """True if every similarity of the map scores a pair from its two values alone."""
    names = {e if isinstance(e, str) else e["name"] for entries in similarity_map.to_dict().values() for e in entries}
    return names <= _PER_PAIR


def _as_keys(pairs: pd.DataFrame | np.ndarray, n_right: int) -> np.ndarray:
    if isinstance(pairs, pd.DataFrame):
        return pair_keys(pairs, n_right)
    return np.asarray(pairs, dtype=np.int64)


def _compact(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct positions (sorted) and each position's index among them."""
    rows = unique_sorted(positions)
    return rows, np.searchsorted(rows, positions)


def _chunk_features(similarity_map: SimilarityMap, left: pd.DataFrame, right: pd.DataFrame,
                    lp: np.ndarray, rp: np.ndarray, per_pair: bool, workers: int) -> np.ndarray:
    if per_pair and len(lp):
        # Only the rows this chunk uses: the per-value conversions then cost O(chunk), not O(table).
        rows_l, lp = _compact(lp)
        rows_r, rp = _compact(rp)
        left, right = left.iloc[rows_l], right.iloc[rows_r]
    return similarity_map.transform(left, right, lp, rp, workers=workers, progress=False)


def _chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def compute_features(similarity_map: SimilarityMap, left: pd.DataFrame, right: pd.DataFrame,
                     pairs: pd.DataFrame | np.ndarray, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                     workers: int = -1, progress: bool | None = None) -> np.ndarray:
    """In-memory features of ``pairs`` (a pairs frame or pair keys), computed chunk by chunk.

    Same numbers as ``similarity_map.transform`` over all pairs at once.
    """
    chunk_size = _check_chunk_size(chunk_size)
    keys = _as_keys(pairs, len(right))
    out = np.empty((len(keys), len(similarity_map.feature_names)), dtype=np.float32)
    per_pair = per_pair_map(similarity_map)
    show = (len(keys) >= 2 * chunk_size) if progress is None else bool(progress)
    with tqdm(total=len(keys), disable=not show, file=sys.stderr, desc="features", unit="pair", unit_scale=True) as bar:
        for start, stop in _chunks(len(keys), chunk_size):
            lp, rp = np.divmod(keys[start:stop], np.int64(len(right)))
            out[start:stop] = _chunk_features(similarity_map, left, right, lp, rp, per_pair, workers)
            bar.update(stop - start)
    return out


def _schema(feature_names: list[str], labelled: bool, metadata: dict):
    import pyarrow as pa

    fields = [pa.field("left", pa.int64()), pa.field("right", pa.int64())]
    if labelled:
        fields.append(pa.field("label", pa.float32()))
    fields += [pa.field(name, pa.float32()) for name in feature_names]
    return pa.schema(fields, metadata={_META_KEY: json.dumps(metadata).encode()})


class _RowGroupWriter:
    """Appends column blocks and flushes them in row groups of exactly ``ROW_GROUP_ROWS`` rows."""

    def __init__(self, path: Path, schema):
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(str(path), schema, compression="snappy")
        self._schema = schema
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_rows = 0

    def append(self, columns: dict[str, np.ndarray]) -> None:
        self._pending.append(columns)
        self._pending_rows += len(next(iter(columns.values())))
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        merged = {name: np.concatenate([block[name] for block in self._pending]) for name in self._schema.names}
        n = len(merged["left"])
        full = n if final else n - n % ROW_GROUP_ROWS
        for start in range(0, full, ROW_GROUP_ROWS):
            stop = min(start + ROW_GROUP_ROWS, full)
            table = pa.table({k: v[start:stop] for k, v in merged.items()}, schema=self._schema)
            self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        rest = {k: v[full:] for k, v in merged.items()}
        self._pending = [rest] if n > full else []
        self._pending_rows = n - full

    def close(self) -> None:
        self._flush(final=True)
        self._writer.close()


def write_features(path: str | os.PathLike, similarity_map: SimilarityMap, left: pd.DataFrame, right: pd.DataFrame,
                   pairs: pd.DataFrame | np.ndarray, *, matches: pd.DataFrame | None = None,
                   chunk_size: int = DEFAULT_CHUNK_SIZE, workers: int = -1,
                   progress: bool | None = None) -> FeatureFile:
    """Compute the features of ``pairs`` chunk by chunk into the Parquet file ``path``.

    Args:
        pairs: a pairs frame (``left``, ``right`` row positions) or pair keys
            ``left * len(right) + right`` (as :func:`lossmatch.blocking.candidate_keys` returns).
        matches: known matches (``left``, ``right``); adds a ``label`` column (1.0 for a match).
        chunk_size: pairs per chunk (memory: about ``chunk_size * (features + 8) * 8`` bytes).
        progress: one tqdm step per chunk on stderr; ``None`` shows it from two chunks on.

    The file is written under a temporary name and renamed when complete, so a reader never
    sees half a file. Returns the :class:`FeatureFile`.
    """
    chunk_size = _check_chunk_size(chunk_size)
    path = Path(path)
    n_right = len(right)
    keys = _as_keys(pairs, n_right)
    match_keys = None if matches is None else np.sort(pair_keys(matches, n_right))
    names = list(similarity_map.feature_names)
    metadata = {"feature_names": names, "similarity_map": similarity_map.to_dict(), "n_left": len(left),
                "n_right": n_right, "n_pairs": len(keys)}
    schema = _schema(names, match_keys is not None, metadata)
    per_pair = per_pair_map(similarity_map)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    show = (len(keys) >= 2 * chunk_size) if progress is None else bool(progress)
    try:
        writer = _RowGroupWriter(tmp, schema)
        with tqdm(total=len(keys), disable=not show, file=sys.stderr, desc=f"features -> {path.name}",
                  unit="pair", unit_scale=True) as bar:
            for start, stop in _chunks(len(keys), chunk_size):
                chunk = keys[start:stop]
                lp, rp = np.divmod(chunk, np.int64(n_right))
                X = _chunk_features(similarity_map, left, right, lp, rp, per_pair, workers)
                columns = {"left": lp, "right": rp}
                if match_keys is not None:
                    columns["label"] = sorted_membership(chunk, match_keys).astype(np.float32)
                columns.update({name: X[:, j] for j, name in enumerate(names)})
                writer.append(columns)
                bar.update(stop - start)
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return FeatureFile(path)


class FeatureFile:
    """A features file written by :func:`write_features`, or a directory of Parquet part files
    with the same columns (as Spark writes them: ``lossmatch.engines.spark``), read as one.

    Feature columns are those of the file's metadata, else every column but ``left``,
    ``right`` and ``label``, in file order.
    """

    def __init__(self, path: str | os.PathLike):
        import pyarrow.parquet as pq

        self.path = Path(path)
        parts = sorted(self.path.glob("*.parquet")) if self.path.is_dir() else [self.path]
        if not parts or not parts[0].is_file():
            raise InputError(f"features file not found: {self.path} (expected a Parquet file or a directory of them)")
        self._files = [pq.ParquetFile(str(p)) for p in parts]
        schema = self._files[0].schema_arrow
        meta = schema.metadata or {}
        self.metadata = json.loads(meta[_META_KEY]) if _META_KEY in meta else {}
        self.feature_names: list[str] = self.metadata.get(
            "feature_names", [c for c in schema.names if c not in ("left", "right", "label")])
        self.has_labels = "label" in schema.names
        # Row group g of the whole is group `local` of file `owner`.
        self._groups = [(f, i) for f, file in enumerate(self._files) for i in range(file.num_row_groups)]
        sizes = [self._files[f].metadata.row_group(i).num_rows for f, i in self._groups]
        self._group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._group_starts[-1])

    @property
    def n_row_groups(self) -> int:
        return len(self._groups)

    def _read(self, columns: list[str]):
        import pyarrow as pa

        return pa.concat_tables([file.read(columns=columns) for file in self._files])

    def column(self, name: str) -> np.ndarray:
        """One whole column (e.g. ``"label"``, ``"left"``) as a NumPy array."""
        return self._read([name]).column(0).to_numpy()

    def pairs(self) -> pd.DataFrame:
        return pd.DataFrame({"left": self.column("left"), "right": self.column("right")})

    def keys(self, n_right: int | None = None) -> np.ndarray:
        """Pair keys of the rows, ``left * n_right + right`` (``n_right``: the right table's size,
        from the file's metadata when not given)."""
        n_right = n_right or int(self.metadata.get("n_right", 0))
        if not n_right:
            raise InputError(f"{self.path}: no right-table size in the file; pass n_right")
        return pair_keys(self.pairs(), n_right)

    def _matrix(self, table) -> np.ndarray:
        out = np.empty((table.num_rows, len(self.feature_names)), dtype=np.float32)
        for j, name in enumerate(self.feature_names):
            out[:, j] = table.column(name).to_numpy()
        return out

    def features(self) -> np.ndarray:
        """All features in memory, shape (rows, features): for files that fit."""
        return self._matrix(self._read(self.feature_names))

    def read_group(self, i: int, *, labels: bool = True, rows: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """Features and labels (None without labels) of row group ``i``; with ``rows`` (a boolean
        mask over the whole file) only the selected rows of the group."""
        columns = list(self.feature_names) + (["label"] if labels and self.has_labels else [])
        owner, local = self._groups[i]
        table = self._files[owner].read_row_group(local, columns=columns)
        X = self._matrix(table)
        y = table.column("label").to_numpy() if labels and self.has_labels else None
        if rows is not None:
            keep = rows[self._group_starts[i]:self._group_starts[i + 1]]
            X, y = X[keep], None if y is None else y[keep]
        return X, y

    def check_rows(self, rows: np.ndarray | None) -> np.ndarray | None:
        """``rows`` as a boolean mask of this file's length (or InputError)."""
        if rows is None:
            return None
        rows = np.asarray(rows)
        if rows.dtype != bool or rows.shape != (len(self),):
            raise InputError(f"{self.path}: rows must be a boolean mask of {len(self)} rows, "
                             f"got dtype {rows.dtype} and shape {rows.shape}")
        return rows

    def blocks(self, block_rows: int = ROW_GROUP_ROWS, *, labels: bool = True, rows: np.ndarray | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Consecutive blocks of exactly ``block_rows`` rows (the last one shorter), in file order,
        whatever the file's row groups; with ``rows``, of the selected rows only."""
        rows = self.check_rows(rows)
        buffer_X, buffer_y, held = [], [], 0
        for i in range(self.n_row_groups):
            X, y = self.read_group(i, labels=labels, rows=rows)
            buffer_X.append(X)
            buffer_y.append(y)
            held += len(X)
            while held >= block_rows:
                X_all = np.concatenate(buffer_X)
                y_all = None if buffer_y[0] is None else np.concatenate(buffer_y)
                yield X_all[:block_rows], None if y_all is None else y_all[:block_rows]
                buffer_X = [X_all[block_rows:]]
                buffer_y = [None if y_all is None else y_all[block_rows:]]
                held -= block_rows
        if held:
            yield np.concatenate(buffer_X), None if buffer_y[0] is None else np.concatenate(buffer_y)


def _batches(file: FeatureFile, batch_size: int, shuffle: bool, seed: int, epoch: int, labels: bool,
             window_groups: int, rows: np.ndarray | None = None):
    """Batches of ``batch_size`` rows (the last one shorter). Shuffled: row groups in a seeded
    random order, ``window_groups`` at a time, rows shuffled within each window."""
    if not shuffle:
        for X, y in file.blocks(batch_size, labels=labels, rows=rows):
            yield (X, y.reshape(-1, 1)) if labels else X
        return
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(file.n_row_groups)
    carry_X, carry_y = np.zeros((0, len(file.feature_names)), np.float32), np.zeros(0, np.float32)
    for w in range(0, len(order), window_groups):
        parts = [file.read_group(int(i), labels=labels, rows=rows) for i in order[w:w + window_groups]]
        X = np.concatenate([carry_X] + [p[0] for p in parts])
        y = np.concatenate([carry_y] + [p[1] for p in parts]) if labels else None
        perm = rng.permutation(len(X))
        X = X[perm]
        y = y[perm] if labels else None
        full = len(X) - len(X) % batch_size
        for start in range(0, full, batch_size):
            batch = X[start:start + batch_size]
            yield (batch, y[start:start + batch_size].reshape(-1, 1)) if labels else batch
        carry_X = X[full:]
        carry_y = y[full:] if labels else carry_y
    if len(carry_X):
        yield (carry_X, carry_y.reshape(-1, 1)) if labels else carry_X


def tf_dataset(path: str | os.PathLike | FeatureFile, *, batch_size: int = 1024, shuffle: bool = False,
               seed: int = 0, labels: bool = True, rows: np.ndarray | None = None, window_groups: int = 8):
    """A ``tf.data.Dataset`` of ``(features, labels)`` batches (labels shaped (n, 1), as
    ``Training`` feeds Keras) or of features only (``labels=False``, for prediction).

    Rows stream from disk: memory holds ``window_groups`` row groups at a time. With
    ``shuffle``, every pass over the data (every epoch) uses a new seeded order, the same
    in every run with the same ``seed``. ``rows`` (a boolean mask over the file) keeps only
    some rows, e.g. one split's pairs out of a cached file of every candidate. The dataset
    knows its number of batches, so Keras shows full progress bars.
    """
    import tensorflow as tf

    file = path if isinstance(path, FeatureFile) else FeatureFile(path)
    if labels and not file.has_labels:
        raise InputError(f"{file.path}: no 'label' column; write it with matches=... or read with labels=False")
    n_features = len(file.feature_names)
    x_spec = tf.TensorSpec(shape=(None, n_features), dtype=tf.float32)
    signature = (x_spec, tf.TensorSpec(shape=(None, 1), dtype=tf.float32)) if labels else x_spec
    passes = {"epoch": 0}

    def generate():
        epoch = passes["epoch"]
        passes["epoch"] += 1
        yield from _batches(file, batch_size, shuffle, seed, epoch, labels, window_groups, rows)

    rows = file.check_rows(rows)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    n_batches = -(-(len(file) if rows is None else int(rows.sum())) // batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


def predict_file(model, path: str | os.PathLike | FeatureFile, *, batch_size: int = 8192,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """The model's probability for every row (or every ``rows``-selected row) of a features
    file, in file order (float32)."""
    file = path if isinstance(path, FeatureFile) else FeatureFile(path)
    if len(file) == 0 or (rows is not None and not file.check_rows(rows).any()):
        return np.zeros(0, dtype=np.float32)
    p = model.predict(tf_dataset(file, batch_size=batch_size, labels=False, rows=rows), verbose=0)
    return np.asarray(p, dtype=np.float32).reshape(-1)
