"""Chunked on-disk features: the same pairs, labels and features for every chunk size, read back
in blocks and through tf.data, and the same trained model whatever the chunk size."""

import numpy as np
import pandas as pd
import pytest

import lossmatch.feature_store as fs
from lossmatch.blocking import candidate_keys
from lossmatch.common import contains_pairs, split_keys
from lossmatch.data.febrl4 import Febrl4Source
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap

PER_PAIR = SimilarityMap({"given_name": ["jaro_winkler", "exact"], "surname": ["levenshtein"],
                          "street_number": ["numeric_abs"], "address_1": ["token_set_ratio", "token_jaccard"]})
# TF-IDF weights come from every distinct value of the columns: chunks must see the whole tables.
WITH_TFIDF = SimilarityMap({"given_name": ["tfidf_char"], "address_1": ["tfidf_word", "jaro"]})


@pytest.fixture(scope="module")
def sample():
    data = Febrl4Source(sample=250, seed=1).load()
    keys = candidate_keys(data.left, data.right, [{"method": "block", "on": "surname"},
                                                  {"method": "block", "on": "postcode"},
                                                  {"method": "block", "on": "date_of_birth"}])
    return data, keys


@pytest.fixture
def small_groups(monkeypatch):
    # Row groups of 64 rows, so a few hundred pairs span several groups and chunks straddle them.
    monkeypatch.setattr(fs, "ROW_GROUP_ROWS", 64)


def _row_groups(file):
    return np.diff(file._group_starts).tolist()


def test_per_pair_map_detection():
    assert fs.per_pair_map(PER_PAIR) and not fs.per_pair_map(WITH_TFIDF)


# One-pair chunks for the per-pair map; TF-IDF refits per chunk, so fewer (and still uneven) chunks.
@pytest.mark.parametrize("similarity_map, sizes", [(PER_PAIR, (1, 7, 100, 10_000)), (WITH_TFIDF, (37, 10_000))],
                         ids=["per_pair", "tfidf"])
def test_same_file_content_for_every_chunk_size(sample, similarity_map, sizes, small_groups, tmp_path):
    data, keys = sample
    lp, rp = np.divmod(keys, len(data.right))
    expected = similarity_map.transform(data.left, data.right, lp, rp)
    files = [fs.write_features(tmp_path / f"c{size}.parquet", similarity_map, data.left, data.right, keys,
                               matches=data.matches, chunk_size=size, progress=False)
             for size in sizes]
    first = files[0]
    assert len(first) == len(keys) > 200
    for file in files:
        # Same pairs, labels and features as one transform of all pairs; same row groups.
        assert np.array_equal(file.keys(), keys)
        assert np.array_equal(file.features(), expected)
        assert np.array_equal(file.column("label"), contains_pairs(split_keys(keys, len(data.right)),
                                                                   data.matches, len(data.right)))
        assert _row_groups(file) == _row_groups(first)
        assert file.feature_names == similarity_map.feature_names
    assert first.column("label").sum() > 0


def test_compute_features_in_memory_chunks(sample):
    data, keys = sample
    lp, rp = np.divmod(keys, len(data.right))
    expected = WITH_TFIDF.transform(data.left, data.right, lp, rp)
    assert np.array_equal(fs.compute_features(WITH_TFIDF, data.left, data.right, keys, chunk_size=33), expected)


def test_blocks_of_any_size_reassemble_the_file(sample, small_groups, tmp_path):
    data, keys = sample
    file = fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, matches=data.matches)
    for size in (50, 64, 1000):
        parts = list(file.blocks(size))
        # Every block but the last has exactly `size` rows, whatever the row groups (64).
        assert all(len(X) == size for X, _ in parts[:-1]) and 0 < len(parts[-1][0]) <= size
        assert np.array_equal(np.concatenate([X for X, _ in parts]), file.features())
        assert np.array_equal(np.concatenate([y for _, y in parts]), file.column("label"))


def test_a_failed_write_leaves_no_file(sample, tmp_path, monkeypatch):
    data, keys = sample
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args)

    original = fs._chunk_features
    monkeypatch.setattr(fs, "_chunk_features", failing)
    with pytest.raises(RuntimeError):
        fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, chunk_size=100)
    # Neither the file nor its temporary remains.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [0, -5, 2.5, True])
def test_bad_chunk_size(sample, size, tmp_path):
    data, keys = sample
    with pytest.raises(InputError, match="chunk_size"):
        fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, chunk_size=size)


def test_batches_cover_every_row_once_and_are_seeded(sample, small_groups, tmp_path):
    data, keys = sample
    file = fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, matches=data.matches)
    rows = np.column_stack([file.features(), file.column("label")])

    def epoch(seed, number, shuffle=True):
        batches = list(fs._batches(file, 32, shuffle, seed, number, True, window_groups=2))
        return np.concatenate([np.column_stack([X, y]) for X, y in batches]), [len(X) for X, _ in batches]

    first, sizes = epoch(7, 0)
    # Full batches of 32 but the last; every row exactly once.
    assert all(s == 32 for s in sizes[:-1])
    assert np.array_equal(np.unique(first, axis=0), np.unique(rows, axis=0)) and len(first) == len(rows)
    # Same seed and epoch: same order; another epoch: another order; no shuffle: file order.
    assert np.array_equal(epoch(7, 0)[0], first)
    assert not np.array_equal(epoch(7, 1)[0], first)
    assert np.array_equal(epoch(7, 0, shuffle=False)[0], rows)


def test_training_from_disk_does_not_depend_on_chunk_size(sample, small_groups, tmp_path):
    import keras

    from lossmatch.model import build_mlp

    data, keys = sample
    predictions = []
    for size in (13, 10_000):
        file = fs.write_features(tmp_path / f"{size}.parquet", PER_PAIR, data.left, data.right, keys,
                                 matches=data.matches, chunk_size=size)
        keras.utils.set_random_seed(3)
        model = build_mlp(len(file.feature_names), hidden_units=(8,))
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        history = model.fit(fs.tf_dataset(file, batch_size=64, shuffle=True, seed=3), epochs=2, verbose=0,
                            shuffle=False)  # the dataset shuffles itself
        p = fs.predict_file(model, file, batch_size=100)
        assert len(p) == len(file) and len(history.history["loss"]) == 2
        # Streaming prediction equals predicting the in-memory features.
        np.testing.assert_allclose(p, model.predict(file.features(), verbose=0).reshape(-1), rtol=1e-6, atol=1e-7)
        # One split's rows out of the file: the same probabilities as for those rows of all.
        every_third = np.arange(len(file)) % 3 == 0
        np.testing.assert_allclose(fs.predict_file(model, file, rows=every_third), p[every_third], rtol=1e-6)
        predictions.append((history.history["loss"], p))
    assert predictions[0][0] == predictions[1][0]
    assert np.array_equal(predictions[0][1], predictions[1][1])


def test_tf_dataset_needs_labels_to_train(sample, tmp_path):
    data, keys = sample
    file = fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys)
    with pytest.raises(InputError, match="no 'label' column"):
        fs.tf_dataset(file)
    assert not file.has_labels and isinstance(file.pairs(), pd.DataFrame)


def test_a_row_mask_selects_rows_in_blocks_and_batches(sample, small_groups, tmp_path):
    data, keys = sample
    file = fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, matches=data.matches)
    # A split's pairs as a mask over the file: here the pairs of even left records.
    mask = file.column("left") % 2 == 0
    assert 0 < mask.sum() < len(file)
    blocks = list(file.blocks(50, rows=mask))
    assert np.array_equal(np.concatenate([X for X, _ in blocks]), file.features()[mask])
    shuffled = list(fs._batches(file, 32, True, 1, 0, True, 2, mask))
    got = np.concatenate([np.column_stack([X, y]) for X, y in shuffled])
    expected = np.column_stack([file.features()[mask], file.column("label")[mask]])
    assert len(got) == mask.sum() and np.array_equal(np.unique(got, axis=0), np.unique(expected, axis=0))
    with pytest.raises(InputError, match="boolean mask"):
        list(file.blocks(50, rows=np.flatnonzero(mask)))


def test_a_directory_of_part_files_reads_as_one(sample, tmp_path):
    import pyarrow.parquet as pq

    data, keys = sample
    file = fs.write_features(tmp_path / "f.parquet", PER_PAIR, data.left, data.right, keys, matches=data.matches)
    # As Spark writes them: part files, feature columns named f0, f1, ..., no lossmatch metadata.
    table = pq.read_table(file.path).replace_schema_metadata(None)
    table = table.rename_columns(["left", "right", "label"] + [f"f{j}" for j in range(len(file.feature_names))])
    (tmp_path / "parts").mkdir()
    pq.write_table(table.slice(0, 100), tmp_path / "parts" / "part-00000.parquet")
    pq.write_table(table.slice(100), tmp_path / "parts" / "part-00001.parquet", row_group_size=40)
    parts = fs.FeatureFile(tmp_path / "parts")
    assert parts.feature_names == [f"f{j}" for j in range(len(file.feature_names))]
    assert len(parts) == len(file) and parts.n_row_groups > 2
    assert np.array_equal(parts.features(), file.features())
    assert np.array_equal(parts.keys(len(data.right)), keys) and parts.pairs().equals(file.pairs())
    assert np.array_equal(np.concatenate([X for X, _ in parts.blocks(64)]), file.features())
    with pytest.raises(InputError, match="pass n_right"):
        parts.keys()
    with pytest.raises(InputError, match="features file not found"):
        fs.FeatureFile(tmp_path / "nowhere")
