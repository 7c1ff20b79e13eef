"""Each stage of the pipeline on its own, and the promises the pipeline makes end to end:
the threshold comes from validation, matches missed by blocking are false negatives, no
record's pairs fall in two splits, nothing is chosen on test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import csv_overrides, tiny_overrides, write

from lossmatch import metrics as match_metrics
from lossmatch.common import SPLITS
from lossmatch.config import validate
from lossmatch.errors import InputError
from lossmatch.run_naming import run_identity
from lossmatch.stages.evaluate import evaluate
from lossmatch.stages.features import compute_features
from lossmatch.stages.fit import FitResult, Fitted
from lossmatch.stages.prepare import prepare
from lossmatch.training import SplitData, Training


@pytest.fixture
def blocked_tables(tables):
    """The 20 x 20 tables, with right record r3 moved to another city: blocking on city
    cannot propose the known match (l3, r3)."""
    right = (tables / "right.csv").read_text().replace("r3,dieter,oslo", "r3,dieter,nowhere")
    assert right != (tables / "right.csv").read_text()
    write(tables / "right.csv", right)
    return tables


def _config(compose_cfg, tables, tmp_path, *more):
    cfg = compose_cfg([*csv_overrides(tables, **{"data.blocking": "[{method: block, on: city}]"}), *tiny_overrides(tmp_path)[1:], *more])
    return validate(cfg)


def test_prepare_counts_a_match_blocking_missed_as_missed_in_its_split(blocked_tables, compose_cfg, tmp_path):
    prepared = prepare(_config(compose_cfg, blocked_tables, tmp_path))
    # 5 cities x 4 left x 4 right same-city pairs = 80, less the 4 pairs r3 had in oslo.
    assert prepared.n_candidates == 80 - 4
    assert prepared.completeness == pytest.approx(19 / 20)
    # The missed match is counted once, in the split its entity belongs to.
    assert sum(prepared.missed.values()) == 1
    assert sum(int(prepared.labels[s].sum()) for s in SPLITS) == 19
    # No record's pairs in two splits.
    for side in ("left", "right"):
        owners = {}
        for s in SPLITS:
            for record in prepared.pairs[s][side]:
                assert owners.setdefault(record, s) == s


def test_prepare_refuses_a_split_without_a_match(tables, compose_cfg, tmp_path):
    write(tables / "matches.csv", "id_l,id_r\nl1,r1\n")
    with pytest.raises(InputError, match=r"split has no matching candidate pair \(1 known match in all\); a run needs at least three"):
        prepare(_config(compose_cfg, tables, tmp_path, "data.blocking=[{method: full}]"))


def test_features_are_the_training_features_of_each_splits_pairs(tables, compose_cfg, tmp_path):
    prepared = prepare(_config(compose_cfg, tables, tmp_path))
    splits = compute_features(prepared)
    for s in SPLITS:
        assert len(splits[s].X) == len(prepared.pairs[s]) == len(splits[s].y)
        np.testing.assert_array_equal(splits[s].X, prepared.training.features(prepared.pairs[s]))
        np.testing.assert_array_equal(splits[s].y, prepared.labels[s])


class _Scores:
    """A stand-in model whose 'probability' for a pair is its first feature (known in advance)."""

    def predict(self, X, batch_size=None, verbose=0):
        return np.asarray(X)[:, :1]

    def predict_on_batch(self, X):  # what Training.predict_raw calls, one batch at a time
        return self.predict(X)

    def loss(self, y, p):
        return float(np.mean((np.asarray(y) - np.asarray(p)) ** 2))


def _split(scores, labels, missed=0):
    n = len(scores)
    pairs = pd.DataFrame({"left": np.arange(n), "right": np.arange(n)})
    return SplitData(pairs, np.asarray(scores, dtype=np.float32).reshape(-1, 1), np.asarray(labels, dtype=np.float32), missed)


def _stub_training() -> Training:
    """A Training of one-row tables: evaluate only needs it to call the stand-in model."""
    frame = pd.DataFrame({"id": [0], "a": ["x"]})
    return Training({"a": ["exact"]}, frame, frame)


def test_evaluate_chooses_the_threshold_on_validation_and_counts_missed_matches():
    training = _stub_training()
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        # Validation: F1 is best (1.0) cutting between 0.6 and 0.4 -> threshold 0.5.
        "val": _split([0.8, 0.6, 0.4, 0.2], [1, 1, 0, 0]),
        # Test alone would prefer a cut between 0.3 and 0.25 (both 0.3 pairs are matches).
        "test": _split([0.7, 0.3, 0.3, 0.25, 0.1], [1, 1, 1, 0, 0], missed=2),
    }
    fitted = Fitted(_Scores(), None, "stub", False, FitResult(), 0.0)
    ev = evaluate(fitted, training, splits, list_size=None)
    assert ev.threshold == pytest.approx(0.5)
    assert match_metrics.best_f1_threshold(splits["test"].y, [0.7, 0.3, 0.3, 0.25, 0.1]) == pytest.approx(0.275)
    # At 0.5, test has tp 1 (0.7), fn 2 (the 0.3 pairs) + 2 missed by blocking = 4, fp 0, tn 2.
    t = ev.metrics["test"]
    assert (t["tp"], t["fp"], t["fn"], t["tn"]) == (1, 0, 4, 2)
    assert t["recall"] == pytest.approx(1 / 5) and t["f1"] == pytest.approx(2 / (2 + 4))
    # The loss comes from the same predictions: mean squared error of the stand-in.
    assert ev.metrics["val"]["loss"] == pytest.approx(np.mean(np.square([0.2, 0.4, 0.4, 0.2])))
    # Nothing is chosen on test: other test labels, same threshold.
    splits["test"] = _split([0.7, 0.3, 0.3, 0.25, 0.1], [0, 0, 1, 1, 1])
    assert evaluate(fitted, training, splits, list_size=None).threshold == ev.threshold


def test_evaluate_with_the_half_best_f1_rule_cuts_at_half_the_best_validation_f1():
    training = _stub_training()
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        # Validation y 1 0 1 0 at p 0.8 0.5 0.3 0.35: best F1 2/3 (max_f1 would cut at 0.65).
        "val": _split([0.8, 0.5, 0.3, 0.35], [1, 0, 1, 0]),
        "test": _split([0.9, 0.4, 0.3, 0.2], [1, 1, 0, 0]),
    }
    fitted = Fitted(_Scores(), None, "stub", False, FitResult(), 0.0)
    ev = evaluate(fitted, training, splits, list_size=None, threshold_rule="half_best_f1")
    assert ev.threshold == pytest.approx(1 / 3)
    # At 1/3 test predicts 0.9 and 0.4 (both matches): tp 2, fp 0 -> F1 1 (0.65 would miss 0.4).
    assert (ev.metrics["test"]["tp"], ev.metrics["test"]["fp"]) == (2, 0)
    assert evaluate(fitted, training, splits, list_size=None).threshold == pytest.approx(0.65)


def test_run_params_are_readable_and_hold_no_paths_or_secrets(compose_cfg, tmp_path):
    cfg = compose_cfg(["loss=focal", "tracking.uri=http://alice:s3cret@127.0.0.1:5055", *tiny_overrides(tmp_path)[:3]])
    params = run_identity(validate(cfg), data_name="febrl4", root=tmp_path, git={}).params
    assert params["loss"] == "focal" and params["loss.alpha"] == "0.75"
    assert params["data"] == "febrl4" and params["model"] == "build_mlp"
    assert not any("_target_" in k or "_target_" in v for k, v in params.items())
    assert not any(k.startswith("paths.") or k in ("tracking.uri", "tracking.artifact_location") for k in params)
    assert not any(str(tmp_path) in v or "s3cret" in v for v in params.values())


def test_the_pipeline_threshold_is_the_best_f1_threshold_of_its_validation_predictions(compose_cfg, tmp_path):
    from lossmatch.export import load_export
    from lossmatch.pipeline import train

    cfg = compose_cfg(tiny_overrides(tmp_path))
    result = train(cfg, output_dir=tmp_path / "run")
    # Rebuild the run's validation split (same config, same seed) and score it with the export.
    splits = compute_features(prepare(validate(cfg)))
    exported = load_export(result["export_dir"])
    p_val = exported.model.predict(splits["val"].X, verbose=0).reshape(-1)
    assert result["threshold"] == pytest.approx(match_metrics.best_f1_threshold(splits["val"].y, p_val), abs=1e-6)
    assert result["val"]["f1"] == pytest.approx(match_metrics.evaluate(splits["val"].y, p_val, result["threshold"])["f1"])
    # A quality floor: one epoch on 300 FEBRL4 records already finds most matches.
    assert result["test"]["f1"] >= 0.8, result["test"]
