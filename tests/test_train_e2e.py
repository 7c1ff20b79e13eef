"""End-to-end: the train.py path on tiny FEBRL4 settings, one run per loss."""

from __future__ import annotations

import json

import mlflow
import pytest
from conftest import tiny_overrides

from lossmatch.pipeline import train

LOSSES = ["bce", "soft_f1", "focal", "combined", "soft_fbeta", "soft_jaccard", "weighted_bce", "pairwise_soft_zero_one"]


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_trains_end_to_end(loss, compose_cfg, tmp_path):
    # One epoch of 30 optimizer steps (about ten passes over the sample at batch 128): enough
    # training for the quality floor below.
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("trainer.validation_every_steps=")]
    cfg = compose_cfg([f"loss={loss}", *tiny, "trainer.validation_every_steps=30", "tracking.log_model=true"])
    out = tmp_path / "run"
    result = train(cfg, output_dir=out)

    # metrics.json is written and agrees with its own confusion counts.
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["loss"] == loss
    assert saved["mlflow_run_id"] == result["mlflow_run_id"]
    t = saved["test"]
    assert set(t) >= {"f1", "precision", "recall", "accuracy", "mcc", "tp", "fp", "tn", "fn"}
    denominator = 2 * t["tp"] + t["fp"] + t["fn"]
    assert t["f1"] == pytest.approx(2 * t["tp"] / denominator if denominator else 0.0)
    assert t["precision"] == pytest.approx(t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 0.0)
    assert t["recall"] == pytest.approx(t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 0.0)
    assert 0.0 < saved["threshold"] < 1.0
    # A quality floor that 30 steps on 300 FEBRL4 records pass for every loss at seed 42;
    # a broken loss, model or threshold falls far below.
    assert t["f1"] >= 0.85, t
    assert saved["val"]["f1"] >= 0.9, saved["val"]

    # The MLflow run exists, finished, with params, per-epoch and final metrics and artifacts.
    client = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["loss"] == loss and run.data.tags["loss"] == loss
    assert run.info.run_name == f"{loss}-seed42"
    assert run.data.params["trainer.epochs"] == "1"
    for key in ("val_f1", "test_f1", "test_precision", "test_recall", "test_accuracy", "test_mcc", "test_tp", "test_fn",
                "test_pr_auc", "test_log_loss", "test_brier", "test_ece"):
        assert key in run.data.metrics, key
    assert run.data.metrics["test_f1"] == pytest.approx(t["f1"])
    assert len(client.get_metric_history(run.info.run_id, "epoch_loss")) == 1
    assert len(client.get_metric_history(run.info.run_id, "epoch_val_loss")) == 1
    assert len(client.get_metric_history(run.info.run_id, "epoch_val_f1")) == 1
    if loss != "pairwise_soft_zero_one":
        assert len(client.get_metric_history(run.info.run_id, "epoch_val_pr_auc")) == 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.csv", "metrics.json", "predictions.parquet", "export", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {f"plots/{n}.png" for n in ("precision_recall", "f1_threshold", "confusion_matrix", "reliability", "training_curves")}
    export = {a.path for a in client.list_artifacts(run.info.run_id, "export")}
    assert {"export/similarity_map.dill", "export/similarity_map.yaml", "export/model.keras"} <= export
    assert mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")


def test_train_py_command_line_exits_zero_and_writes_metrics_json(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    run_dir = tmp_path / "hydra-run"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "loss=soft_f1", *tiny_overrides(tmp_path), f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, env={**os.environ, "PROJECT_ROOT": str(ROOT)}, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["loss"] == "soft_f1"
    # TensorFlow's C++ start-up lines (CUDA probing, cuInit errors) are silenced by default.
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog", "cpu_feature_guard"):
        assert noise not in proc.stderr + proc.stdout, noise
    # The summary names the run and the command that opens the MLflow UI on this store.
    assert saved["mlflow_run_id"] in proc.stdout
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path}/mlruns/mlflow.db" in proc.stdout
    # Hydra keeps the resolved config beside the metrics.
    assert (run_dir / ".hydra" / "config.yaml").is_file()


def test_mlflow_model_loads_without_lossmatch(compose_cfg, tmp_path):
    """The keras-flavour model is plain Keras: a fresh process loads it without importing lossmatch."""
    import os
    import subprocess
    import sys

    import numpy as np

    cfg = compose_cfg(["loss=combined", *tiny_overrides(tmp_path), "tracking.log_keras_model=true"])
    result = train(cfg, output_dir=tmp_path / "run")
    code = (
        "import mlflow, numpy as np, sys; "
        f"mlflow.set_tracking_uri({cfg.tracking.uri!r}); "
        f"m = mlflow.keras.load_model('runs:/{result['mlflow_run_id']}/model'); "
        "assert 'lossmatch' not in sys.modules; "
        "print(float(m.predict(np.zeros((1, m.input_shape[-1]), dtype='float32'), verbose=0)[0, 0]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    from lossmatch.export import load_export

    exported = load_export(result["export_dir"])
    expected = exported.model.predict(np.zeros((1, exported.model.input_shape[-1]), dtype="float32"), verbose=0)[0, 0]
    assert float(proc.stdout.strip().splitlines()[-1]) == pytest.approx(float(expected), rel=1e-5)
