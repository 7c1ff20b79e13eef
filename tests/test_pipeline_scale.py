"""The pipeline with the feature cache, the streaming features path and the blocking engines:
the same pairs, features and metrics whichever is used, a second run served from the cache,
a damaged cache entry rebuilt, and each new config key checked in one line."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_overrides

from lossmatch.common import SPLITS
from lossmatch.config import validate
from lossmatch.errors import InputError
from lossmatch.stages.evaluate import evaluate
from lossmatch.stages.features import compute_features
from lossmatch.stages.fit import fit
from lossmatch.stages.prepare import prepare


def _config(compose_cfg, tmp_path, *more):
    # 300 FEBRL4 records, one epoch, the cache in this test's folder (beside its MLflow store).
    return validate(compose_cfg([*tiny_overrides(tmp_path), *more]))


def _stages(config):
    """prepare -> features -> fit -> evaluate, as pipeline.run chains them (no MLflow run)."""
    prepared = prepare(config)
    splits = compute_features(prepared)
    fitted = fit(config, prepared.training, splits)
    return prepared, splits, evaluate(fitted, prepared.training, splits, list_size=config.trainer.list_size)


def _features(splits):
    """Each split's features in memory, whichever way they are held."""
    out = {}
    for s, split in splits.items():
        if getattr(split, "streamed", False):
            out[s] = np.concatenate([X for X, _ in split.file.blocks(labels=False, rows=split.rows)])
        else:
            out[s] = split.X
    return out


def _same_pairs(a, b):
    for s in SPLITS:
        np.testing.assert_array_equal(a.pairs[s].to_numpy(), b.pairs[s].to_numpy())
        np.testing.assert_array_equal(a.labels[s], b.labels[s])
    assert a.missed == b.missed and a.n_candidates == b.n_candidates and a.completeness == b.completeness


def test_cache_default_folder_is_beside_the_sqlite_store(compose_cfg, tmp_path):
    config = _config(compose_cfg, tmp_path)
    assert config.cache_dir() == str(tmp_path / "mlruns" / "cache")
    server = validate(compose_cfg([*tiny_overrides(tmp_path), "tracking.uri=http://127.0.0.1:5000"]))
    assert server.cache_dir() == f"{server.paths.mlruns_dir}/cache"
    assert _config(compose_cfg, tmp_path, f"cache.dir={tmp_path}/elsewhere").cache_dir() == f"{tmp_path}/elsewhere"


def test_second_run_reads_pairs_and_features_from_the_cache_and_matches_an_uncached_run(compose_cfg, tmp_path):
    off = _config(compose_cfg, tmp_path, "cache.enabled=false")
    uncached = prepare(off)
    uncached_splits = compute_features(uncached)
    assert not uncached.cache.enabled and not (tmp_path / "mlruns" / "cache").exists()

    on = _config(compose_cfg, tmp_path)
    first = prepare(on)
    first_splits = compute_features(first)
    assert (first.cache.misses, first.cache.hits) == (2, 0)  # candidate keys, then features
    second = prepare(on)  # a later run, multirun job or sweep trial on the same data
    second_splits = compute_features(second)
    assert (second.cache.misses, second.cache.hits) == (0, 2)
    for prepared, splits in ((first, first_splits), (second, second_splits)):
        _same_pairs(prepared, uncached)
        for s in SPLITS:
            np.testing.assert_array_equal(splits[s].X, uncached_splits[s].X)
            # The matrix is what the map itself computes for the split's pairs.
            np.testing.assert_array_equal(splits[s].X, uncached.training.features(uncached.pairs[s]))


def test_a_damaged_features_entry_is_rebuilt_not_read(compose_cfg, tmp_path):
    config = _config(compose_cfg, tmp_path)
    expected = compute_features(prepare(config))
    [parquet] = (tmp_path / "mlruns" / "cache" / "features").rglob("features.parquet")
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, other SHA-256
    parquet.write_bytes(bytes(data))
    prepared = prepare(config)
    splits = compute_features(prepared)
    assert (prepared.cache.hits, prepared.cache.misses) == (1, 1)  # keys read, features rebuilt
    for s in SPLITS:
        np.testing.assert_array_equal(splits[s].X, expected[s].X)


def test_streamed_runs_give_the_same_pairs_features_and_metrics_for_every_chunk_size(compose_cfg, tmp_path):
    in_memory = compute_features(prepare(_config(compose_cfg, tmp_path, "cache.enabled=false")))
    def streamed(chunk):  # no cache, so each run writes its own features file
        return _config(compose_cfg, tmp_path, "features.streaming=true", f"features.chunk_size={chunk}",
                       "cache.enabled=false")

    # 7 pairs per chunk and everything in one chunk, trained and evaluated (seconds each);
    # a few hundred per chunk for pairs and features only.
    runs = [_stages(streamed(chunk)) for chunk in (7, 500000)]
    middle = prepare(streamed(311))
    runs.append((middle, compute_features(middle), None))
    (base_prepared, base_splits, base_eval) = runs[0]
    assert all(getattr(base_splits[s], "streamed", False) for s in SPLITS)
    base_features = _features(base_splits)
    for s in SPLITS:  # the file holds what the in-memory path computes, row for row
        np.testing.assert_array_equal(base_features[s], in_memory[s].X)
        np.testing.assert_array_equal(base_splits[s].file.column("label")[base_splits[s].rows], base_splits[s].y)
    for prepared, splits, ev in runs[1:]:
        _same_pairs(prepared, base_prepared)
        features = _features(splits)
        for s in SPLITS:
            np.testing.assert_array_equal(features[s], base_features[s])
        if ev is not None:
            for s in SPLITS:
                np.testing.assert_array_equal(ev.probabilities[s], base_eval.probabilities[s])
            assert ev.threshold == base_eval.threshold
            assert ev.metrics == base_eval.metrics


def test_duckdb_engine_gives_the_memory_engines_pairs(compose_cfg, tmp_path):
    memory = prepare(_config(compose_cfg, tmp_path, "cache.enabled=false"))
    duck = prepare(_config(compose_cfg, tmp_path, "cache.enabled=false", "engine=duckdb"))
    _same_pairs(duck, memory)
    assert memory.n_candidates > 0


def test_pipeline_runs_end_to_end_with_the_duckdb_engine(compose_cfg, tmp_path):
    from lossmatch.pipeline import run

    result = run(compose_cfg([*tiny_overrides(tmp_path), "engine=duckdb"]), output_dir=tmp_path / "run")
    assert result["blocking"]["candidates"] == prepare(_config(compose_cfg, tmp_path)).n_candidates
    assert result["test"]["f1"] >= 0.8, result["test"]


@pytest.mark.parametrize(("override", "message"), [
    ("engine=sql", "engine: Input should be 'memory', 'duckdb', 'spark' or 'auto', got 'sql'"),
    ("features.chunk_size=0", "features.chunk_size: Input should be greater than or equal to 1, got 0"),
    ("cache.verify=fast", "cache.verify: Input should be 'full' or 'size', got 'fast'"),
    ("+cache.folder=x", "cache.folder: unknown key; keys of cache: "),
    ("features.streaming=true trainer.sampling=oversample",
     "features.streaming=true: trainer.sampling must be none, got 'oversample'"),
])
def test_bad_scale_settings_are_one_line_errors(override, message, compose_cfg, tmp_path):
    with pytest.raises(InputError) as info:
        _config(compose_cfg, tmp_path, *override.split())
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_engine_auto_picks_duckdb_for_large_tables_only(compose_cfg, tmp_path):
    from lossmatch.config import AUTO_DUCKDB_RECORDS

    config = _config(compose_cfg, tmp_path, "engine=auto")
    assert config.blocking_engine(AUTO_DUCKDB_RECORDS - 1) == "memory"
    assert config.blocking_engine(AUTO_DUCKDB_RECORDS) == "duckdb"
    assert _config(compose_cfg, tmp_path, "engine=spark").blocking_engine(10) == "spark"


def test_predictions_in_batches_equal_keras_predict():
    from lossmatch.model import build_mlp
    from lossmatch.training import predict_in_batches

    model = build_mlp(n_features=3, hidden_units=[4], dropout=0.0)
    X = np.random.default_rng(0).random((10, 3), dtype=np.float32)
    # 10 rows in batches of 4: 4 + 4 + 2, as model.predict cuts them; the same numbers, bit for bit.
    expected = model.predict(X, batch_size=4, verbose=0)
    np.testing.assert_array_equal(predict_in_batches(model, X, 4), expected)
    assert predict_in_batches(model, X[:0], 4).shape == (0, 1)
