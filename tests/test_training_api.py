"""The Python Training API: ids, matches, evaluation table, atomic exports that reload."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from lossmatch.errors import InputError
from lossmatch.export import load_export
from lossmatch.losses import focal_loss
from lossmatch.model import build_mlp
from lossmatch.training import SplitData, Training

SIM_MAP = {"name": ["jaro_winkler"], "city~town": ["exact"]}


@pytest.fixture
def frames():
    left = pd.DataFrame({"id": ["a", "b", "c"], "name": ["anna", "bob", "carla"], "city": ["x", "y", "z"]})
    right = pd.DataFrame({"key": ["3", "1", "2", "4"], "name": ["karla", "ana", "bobby", "dora"], "town": ["z", "x", "y", "x"]})
    return left, right


def test_matches_reorder_gives_row_positions(frames):
    left, right = frames
    t = Training(SIM_MAP, left, right, id_left="id", id_right="key")
    matches = pd.DataFrame({"l": ["c", "a"], "r": ["3", "1"]})
    got = t.matches_reorder(matches, "l", "r")
    # c is row 2 of left, "3" row 0 of right; a is row 0, "1" row 1
    assert got.to_dict("list") == {"left": [2, 0], "right": [0, 1]}


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"id_left": "nope"}, ["nope", "left"]),
        ({"id_right": "id"}, ["id", "right"]),
    ],
)
def test_missing_id_column_is_named(frames, kwargs, words):
    left, right = frames
    with pytest.raises(InputError) as info:
        Training(SIM_MAP, left, right, **{"id_left": "id", "id_right": "key", **kwargs})
    assert all(w in str(info.value) for w in words)


def test_duplicate_ids_and_unknown_matches_and_bad_map_columns(frames):
    left, right = frames
    dup = pd.concat([left, left.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match=r"^left table: id column 'id' has 1 duplicated values, e\.g\. 'a'; "):
        Training(SIM_MAP, dup, right, id_right="key")
    t = Training(SIM_MAP, left, right, id_right="key")
    with pytest.raises(InputError, match=r"^matches: 1 values in column 'l' are not ids of the left table, e\.g\. 'zz'$"):
        t.matches_reorder(pd.DataFrame({"l": ["a", "zz"], "r": ["1", "2"]}), "l", "r")
    with pytest.raises(InputError, match=r"^Column 'surname' \(similarity map pair surname~surname\) is not in the left table"):
        Training({"surname": ["exact"]}, left, right, id_right="key")


def test_evaluate_dataframe_rows_and_columns():
    ev_test = {"tp": 3, "fp": 1, "tn": 10, "fn": 2, "loss": 0.3, "accuracy": 13 / 16, "recall": 0.6, "precision": 0.75, "f1": 6 / 9, "mcc": 0.5}
    ev_train = {**ev_test, "tp": 30}
    frame = Training.evaluate_dataframe(ev_test, ev_train)
    assert list(frame.columns) == ["data", "TP", "FP", "TN", "FN", "Loss", "Accuracy", "Recall", "Precision", "F1", "MCC", "timestamp"]
    assert frame["data"].tolist() == ["test", "train"]
    assert frame["TP"].tolist() == [3, 30]
    assert frame.loc[0, "F1"] == pytest.approx(6 / 9)


def _fitted(frames):
    left, right = frames
    t = Training(SIM_MAP, left, right, id_right="key")
    pairs = pd.DataFrame({"left": [0, 0, 1, 1, 2, 2], "right": [1, 0, 2, 3, 0, 1]})
    y = np.array([1, 0, 1, 0, 1, 0], dtype=np.float32)
    split = SplitData(pairs, t.features(pairs), y)
    keras.utils.set_random_seed(0)
    model = build_mlp(split.X.shape[1], hidden_units=[4])
    t.fit(model, focal_loss(), split, split, epochs=1, batch_size=4)
    return t, model, split


def test_export_is_atomic_reloadable_and_never_overwritten_silently(frames, tmp_path):
    t, model, split = _fitted(frames)
    ev = {"tp": 1, "fp": 0, "tn": 2, "fn": 0, "f1": 1.0}
    path = t.performance_statistics_export(model, "m1", tmp_path, evaluation_train=ev, evaluation_test=ev, threshold=0.42)
    assert path == tmp_path / "m1"
    assert {p.name for p in path.iterdir()} == {"model.keras", "similarity_map.yaml", "similarity_map.dill", "export.yaml", "metrics.csv"}
    # No temporary directory is left beside the export.
    assert [p.name for p in tmp_path.iterdir()] == ["m1"]

    exported = load_export(path)
    assert exported.threshold == pytest.approx(0.42)
    assert exported.similarity_map.to_dict() == t.similarity_map.to_dict()
    np.testing.assert_allclose(exported.model.predict(split.X, verbose=0), model.predict(split.X, verbose=0), rtol=1e-6)
    # The reloaded model carries its custom loss without custom_objects.
    assert type(exported.model.loss).__name__ == type(model.loss).__name__

    before = (path / "export.yaml").read_text()
    with pytest.raises(InputError, match="already exists"):
        t.performance_statistics_export(model, "m1", tmp_path, threshold=0.9)
    assert (path / "export.yaml").read_text() == before
    t.performance_statistics_export(model, "m1", tmp_path, threshold=0.9, overwrite=True)
    assert load_export(path).threshold == pytest.approx(0.9)
    assert not (path / "metrics.csv").exists()  # no evaluations given this time


def test_failed_export_leaves_nothing_behind(frames, tmp_path, monkeypatch):
    t, model, _ = _fitted(frames)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError):
        t.performance_statistics_export(model, "m2", tmp_path)
    assert list(tmp_path.iterdir()) == []
