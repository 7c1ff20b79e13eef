"""A content-addressed cache of candidate pairs and features, so reruns, multiruns and sweep
trials on the same data skip blocking and similarity features.

An entry is keyed by a SHA-256 over everything its content depends on: the tables'
*content* (not their paths: :func:`table_digest`), the validated blocking rules, the
similarity map, the pairs and matches it covers, the source code of the modules that
compute it (:func:`code_digest`) and the versions of the libraries that score
(rapidfuzz, scikit-learn, NumPy, pandas, pyarrow). Change any of them and the key changes.

Entries are directories ``<root>/<kind>/<key[:2]>/<key>/`` holding the files and a
``manifest.json`` with each file's size and SHA-256. They are built in a temporary
directory and renamed into place when complete (a rename is atomic), under a per-key
file lock, so concurrent writers of one key build it once and never see each other's
half-written files. Every read checks the manifest: a missing manifest, a truncated or
altered file is detected, the entry is removed and rebuilt, never read.

    cache = FeatureCache("mlruns/cache")             # FeatureCache(None, enabled=False): off
    digests = cache.table_digests(left, right)       # once per run: it reads every value
    keys = cache.candidate_keys(left, right, rules, digests=digests)
    X = cache.feature_matrix(similarity_map, left, right, keys, digests=digests)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch.errors import InputError

__all__ = ["CODE_MODULES", "FeatureCache", "code_digest", "content_key", "table_digest"]

FORMAT = 1
MANIFEST = "manifest.json"
# Modules whose code decides candidate pairs and features (a change invalidates every entry).
CODE_MODULES = (
    "lossmatch.blocking", "lossmatch.common", "lossmatch.feature_store", "lossmatch.engines.sql",
    "lossmatch.similarity.functions", "lossmatch.similarity.map", "lossmatch.similarity.tfidf",
)
LIBRARIES = ("numpy", "pandas", "rapidfuzz", "scikit-learn", "pyarrow")


def _object_bytes(values: np.ndarray) -> bytes:
    """Exact bytes of an object column: each string as it is, any other value tagged with its type
    (so 1 and "1" differ), every value length-prefixed (so no separator can be forged)."""
    texts = [v if type(v) is str else f"\0{type(v).__qualname__}:{v!r}" for v in values]
    # Lengths in characters split the joined text unambiguously; one encode for the column.
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return lengths.tobytes() + "".join(texts).encode("utf-8", "surrogatepass")


def table_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's content: column names, dtypes and every value, in row order
    (the index is left out: pairs refer to row positions).

    Written out rather than ``pd.util.hash_pandas_object`` (whose 64-bit row hashes could
    collide, and which took 3x longer on 200,000 records of text).
    """
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if column.dtype == object:
            h.update(_object_bytes(column.to_numpy()))
        elif isinstance(column.dtype, np.dtype):
            h.update(np.ascontiguousarray(column.to_numpy()).tobytes())
        else:  # extension dtypes (categorical, nullable, arrow): their values as objects
            h.update(_object_bytes(column.to_numpy(dtype=object)))
    return h.hexdigest()


def array_digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(str(array.dtype).encode() + str(array.shape).encode() + array.tobytes()).hexdigest()


def code_digest(modules: Iterable[str] = CODE_MODULES) -> str:
    """SHA-256 of the source files of ``modules`` and of the scoring libraries' versions."""
    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"code_digest: module {name} not found")
        h.update(name.encode() + b"\0" + Path(spec.origin).read_bytes())
    for library in LIBRARIES:
        try:
            h.update(f"{library}=={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{library}==absent".encode())
    return h.hexdigest()


def content_key(kind: str, parts: dict) -> str:
    """SHA-256 of ``kind`` and JSON-able ``parts`` (sorted keys: dict order does not matter)."""
    text = json.dumps({"kind": kind, "format": FORMAT, "parts": parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


class FeatureCache:
    """Blocking output and features, stored once per content hash under ``directory``.

    Args:
        directory: where entries live (the pipeline puts it beside the MLflow store).
        enabled: ``False`` computes everything afresh and writes nothing.
        verify: ``"full"`` checks every file's SHA-256 on each read (catches flipped bytes);
            ``"size"`` checks sizes only (faster for multi-GB entries).
    """

    def __init__(self, directory: str | os.PathLike | None, *, enabled: bool = True, verify: str = "full"):
        if verify not in ("full", "size"):
            raise InputError(f"cache verify: expected 'full' or 'size', got {verify!r}")
        if enabled and directory is None:
            raise InputError("cache: a directory is needed when the cache is enabled")
        self.enabled = bool(enabled)
        self.root = None if directory is None else Path(directory)
        self.verify = verify
        self._code = None
        self.hits = 0
        self.misses = 0

    # -- keys ----------------------------------------------------------------
    @property
    def code(self) -> str:
        if self._code is None:
            self._code = code_digest()
        return self._code

    def key(self, kind: str, **parts) -> str:
        """The entry key of ``kind`` for JSON-able ``parts``, with the code digest added."""
        return content_key(kind, {**parts, "code": self.code})

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    # -- entries -------------------------------------------------------------
    def _valid(self, entry: Path, key: str) -> bool:
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            if manifest.get("format") != FORMAT or manifest.get("key") != key:
                return False
            for name, info in manifest["files"].items():
                file = entry / name
                if file.stat().st_size != info["bytes"]:
                    return False
                if self.verify == "full" and _sha256(file) != info["sha256"]:
                    return False
            return True
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _discard(self, entry: Path) -> None:
        # Rename first (atomic) so no reader sees a half-deleted entry, then delete.
        trash = self.root / "tmp" / f"discard-{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(entry, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def lookup(self, kind: str, key: str) -> Path | None:
        """The entry's directory if it exists and passes its manifest; a bad entry is removed."""
        entry = self.path(kind, key)
        if not entry.exists():
            return None
        if self._valid(entry, key):
            return entry
        self._discard(entry)
        return None

    def get_or_build(self, kind: str, key: str, build: Callable[[Path], None], *, describe: dict | None = None
                     ) -> Path:
        """The entry ``kind/key``, built by ``build(directory)`` if absent or corrupt.

        ``build`` writes its files into the (temporary) directory it is given.
        """
        from filelock import FileLock

        found = self.lookup(kind, key)
        if found is not None:
            self.hits += 1
            return found
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / f"{kind}-{key}.lock")):
            # Another process may have built it while this one waited for the lock.
            found = self.lookup(kind, key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            tmp = self.root / "tmp" / f"{key}.{uuid.uuid4().hex}"
            tmp.mkdir(parents=True)
            try:
                build(tmp)
                files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                         for p in sorted(tmp.iterdir()) if p.is_file()}
                manifest = {"format": FORMAT, "kind": kind, "key": key, "created": time.time(),
                            "files": files, "inputs": describe or {}}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
                entry = self.path(kind, key)
                entry.parent.mkdir(parents=True, exist_ok=True)
                if entry.exists():  # left by a writer that did not take the lock
                    self._discard(entry)
                os.rename(tmp, entry)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return entry

    # -- what the pipeline caches ---------------------------------------------
    def table_digests(self, left: pd.DataFrame, right: pd.DataFrame) -> tuple[str, str]:
        """Both tables' digests, to pass as ``digests=`` to the calls of one run: hashing a
        table reads every value (about 0.35 s per 200,000 records of text), so do it once."""
        return table_digest(left), table_digest(right)

    def candidate_keys(self, left: pd.DataFrame, right: pd.DataFrame, rules, *, engine: str = "memory",
                       digests: tuple[str, str] | None = None, **engine_options) -> np.ndarray:
        """Sorted candidate pair keys (see :func:`lossmatch.blocking.candidate_keys`), cached.

        ``engine``: "memory" (NumPy) or "duckdb"; both give the same keys, so the engine is
        not part of the key. ``digests``: :meth:`table_digests` of these tables, if known.
        """
        from lossmatch.blocking import validate_rules

        rules = validate_rules(rules, left, right)

        def compute() -> np.ndarray:
            if engine == "duckdb":
                from lossmatch.engines.duckdb import candidate_keys

                return candidate_keys(left, right, rules, **engine_options)
            if engine != "memory":
                raise InputError(f"engine: expected memory or duckdb here, got {engine!r}")
            from lossmatch.blocking import candidate_keys

            return candidate_keys(left, right, rules)

        if not self.enabled:
            return compute()
        digest_left, digest_right = digests or self.table_digests(left, right)
        key = self.key("candidates", left=digest_left, right=digest_right, rules=rules)
        entry = self.get_or_build("candidates", key, lambda d: np.save(d / "keys.npy", compute()),
                                  describe={"rules": rules, "n_left": len(left), "n_right": len(right)})
        return np.load(entry / "keys.npy")

    def _features_key(self, similarity_map, left, right, keys, matches, digests) -> str:
        digest_left, digest_right = digests or self.table_digests(left, right)
        return self.key("features", left=digest_left, right=digest_right,
                        map=similarity_map.to_dict(), pairs=array_digest(np.asarray(keys, dtype=np.int64)),
                        matches=None if matches is None else table_digest(matches[["left", "right"]]))

    def feature_file(self, similarity_map, left: pd.DataFrame, right: pd.DataFrame, keys: np.ndarray, *,
                     matches: pd.DataFrame | None = None, chunk_size: int | None = None,
                     scratch: str | os.PathLike | None = None, progress: bool | None = None,
                     digests: tuple[str, str] | None = None):
        """A :class:`lossmatch.feature_store.FeatureFile` of the pairs ``keys``, cached.

        The chunk size is not part of the key: it does not change the file. With the
        cache disabled the file is written to ``scratch`` (a directory; required then).
        """
        from lossmatch.feature_store import (
            DEFAULT_CHUNK_SIZE,
            FeatureFile,
            write_features,
        )

        options = {"matches": matches, "chunk_size": chunk_size or DEFAULT_CHUNK_SIZE, "progress": progress}
        if not self.enabled:
            if scratch is None:
                raise InputError("cache disabled: feature_file needs a scratch directory")
            return write_features(Path(scratch) / "features.parquet", similarity_map, left, right, keys, **options)
        key = self._features_key(similarity_map, left, right, keys, matches, digests)
        entry = self.get_or_build(
            "features", key,
            lambda d: write_features(d / "features.parquet", similarity_map, left, right, keys, **options),
            describe={"map": similarity_map.to_dict(), "pairs": len(keys)})
        return FeatureFile(entry / "features.parquet")

    def feature_matrix(self, similarity_map, left: pd.DataFrame, right: pd.DataFrame, keys: np.ndarray, *,
                       chunk_size: int | None = None, progress: bool | None = None,
                       digests: tuple[str, str] | None = None) -> np.ndarray:
        """In-memory features of the pairs ``keys`` (rows in key order), cached on disk."""
        from lossmatch.feature_store import DEFAULT_CHUNK_SIZE, compute_features

        if not self.enabled:
            return compute_features(similarity_map, left, right, keys, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
                                    progress=progress)
        return self.feature_file(similarity_map, left, right, keys, chunk_size=chunk_size,
                                 progress=progress, digests=digests).features()
