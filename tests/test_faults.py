"""Faults during a run: a loss that turns NaN, a full disk, damaged exports, stores that must
not be created, and credentials that must never be written down."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys

import mlflow
import pytest
from conftest import ROOT, tiny_overrides
from helpers.mlflow_server import mlflow_server as serve

from lossmatch import tracking
from lossmatch.cli import report_input_errors
from lossmatch.errors import InputError
from lossmatch.export import load_export
from lossmatch.pipeline import train
from lossmatch.training import TrainingDiverged


def _runs(uri):
    client = mlflow.MlflowClient(uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_nan_loss_stops_the_run_failed_with_a_clear_message(compose_cfg, tmp_path):
    # One step per call into TensorFlow, so the guard sees the first step's loss: NaN.
    cfg = compose_cfg([*tiny_overrides(tmp_path), "loss=bce", "loss._target_=helpers.losses.nan_loss",
                       "trainer.steps_per_execution=1"])
    with pytest.raises(TrainingDiverged, match=r"training loss became nan in epoch 1, after 1 optimizer step: lower trainer.learning_rate"):
        train(cfg, output_dir=tmp_path / "run")
    (run,) = _runs(cfg.tracking.uri)
    assert run.info.status == "FAILED"
    assert not (tmp_path / "run" / "export").exists()


def test_disk_full_while_exporting_ends_failed_with_no_partial_export(compose_cfg, tmp_path, monkeypatch):
    import keras

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(keras.Model, "save", full)
    cfg = compose_cfg(tiny_overrides(tmp_path))
    with pytest.raises(OSError) as info:
        train(cfg, output_dir=tmp_path / "run")
    assert info.value.errno == errno.ENOSPC
    (run,) = _runs(cfg.tracking.uri)
    assert run.info.status == "FAILED"
    # Neither the export nor its temporary folder is left.
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metrics.csv", "predictions.parquet"]


def test_runtime_faults_are_one_line_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as info, report_input_errors(debug=False):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/run/export/model.keras")
    assert info.value.code == 1
    assert capsys.readouterr().err == "lossmatch: error: No space left on device (/data/run/export/model.keras)\n"
    with pytest.raises(SystemExit) as info, report_input_errors(debug=False):
        raise TrainingDiverged("training loss became nan in epoch 3, after 70 optimizer steps: lower trainer.learning_rate")
    assert info.value.code == 1
    assert capsys.readouterr().err.count("\n") == 1
    # In a multirun the line is printed and the error goes on to the sweeper.
    with pytest.raises(InputError), report_input_errors(debug=False, multirun=True):
        raise InputError("loss=focal: focal_loss: alpha must be a number in [0, 1], got 1.5")
    assert "alpha" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    tmp = tmp_path_factory.mktemp("trained")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=tiny_overrides(tmp))
    return cfg, train(cfg, output_dir=tmp / "run")


def _damaged(result, tmp_path, damage):
    copy = tmp_path / "export"
    shutil.copytree(result["export_dir"], copy)
    damage(copy)
    return copy


DAMAGES = [
    ("export.yaml garbage", lambda d: (d / "export.yaml").write_text("threshold: [unclosed"), ["export.yaml", "YAML"]),
    ("export.yaml not a mapping", lambda d: (d / "export.yaml").write_text("- 1\n- 2\n"), ["export.yaml", "mapping"]),
    ("threshold text", lambda d: (d / "export.yaml").write_text("threshold: abc\n"), ["export.yaml", "threshold", "abc"]),
    ("threshold out of range", lambda d: (d / "export.yaml").write_text("threshold: 7\n"), ["threshold", "[0, 1]", "7"]),
    ("model truncated", lambda d: (d / "model.keras").write_bytes((d / "model.keras").read_bytes()[:200]), ["model.keras", "not a loadable"]),
    ("model missing", lambda d: (d / "model.keras").unlink(), ["model.keras", "missing"]),
    ("map missing", lambda d: (d / "similarity_map.yaml").unlink(), ["similarity_map.yaml", "missing"]),
    ("map of other columns", lambda d: (d / "similarity_map.yaml").write_text("map: {surname: [exact]}\n"), ["feature_names", "altered"]),
    ("blocking tampered", lambda d: (d / "export.yaml").write_text((d / "export.yaml").read_text().replace("method: block", "method: magic", 1)), ["blocking", "magic"]),
]


@pytest.mark.parametrize("name,damage,words", DAMAGES, ids=[d[0] for d in DAMAGES])
def test_damaged_export_is_one_line_naming_the_file(name, damage, words, trained, tmp_path):
    _, result = trained
    copy = _damaged(result, tmp_path, damage)
    with pytest.raises(InputError) as info:
        load_export(copy)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_predict_command_on_a_damaged_export_is_one_line(trained, tmp_path):
    _, result = trained
    copy = _damaged(result, tmp_path, lambda d: (d / "export.yaml").write_text("threshold: abc\n"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "predict.py"), f"export={copy}", "data.left=a.csv", "data.right=b.csv",
         f"hydra.run.dir={tmp_path / 'predict'}"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PROJECT_ROOT": str(ROOT)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"lossmatch: error: {copy / 'export.yaml'}: threshold must be a number in [0, 1], got 'abc'"]


def test_runs_uri_finds_the_store_of_the_working_directory_and_never_creates_one(trained, tmp_path, monkeypatch):
    cfg, result = trained
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store_root = tmp_path / "project"
    shutil.copytree(os.path.dirname(cfg.tracking.uri[len("sqlite:///") :]), store_root / "mlruns")
    monkeypatch.chdir(store_root)
    # From the project root, as README shows, with no tracking_uri: the project's store.
    assert load_export(f"runs:/{result['mlflow_run_id']}/model").threshold == result["threshold"]
    # Elsewhere, a store that does not exist is an error, not a new empty database.
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(InputError, match="no MLflow store at"):
        load_export(f"runs:/{result['mlflow_run_id']}/model", tracking_uri=f"sqlite:///{empty}/mlruns/mlflow.db")
    assert list(empty.iterdir()) == []


def test_redact_and_credentials():
    assert tracking.redact("see http://alice:s3cret@host:5055/api and https://bob:pw@x") == (
        "see http://alice:***@host:5055/api and https://bob:***@x"
    )
    assert tracking.split_credentials("http://alice:s3cret@127.0.0.1:5055/x") == ("http://127.0.0.1:5055/x", "alice", "s3cret")
    assert tracking.ui_command("http://alice:s3cret@127.0.0.1:5055") == "open http://127.0.0.1:5055 in a browser"


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on 127.0.0.1 (any credentials accepted), stopped afterwards."""
    with serve(f"sqlite:///{tmp_path}/server.db", tmp_path / "server-artifacts") as url:
        yield url


def test_password_in_tracking_uri_is_written_nowhere(mlflow_server, tmp_path):
    secret = "s3cret-Pa55"
    uri = mlflow_server.replace("http://", f"http://alice:{secret}@")
    run_dir = tmp_path / "hydra-run"
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("tracking.")]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *overrides, f"tracking.uri={uri}", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PROJECT_ROOT": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert secret not in proc.stdout + proc.stderr
    # Hydra's saved config, metrics.json, the export: no file of the run holds it.
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    (run,) = _runs(mlflow_server)
    assert secret not in str(run.data.params) + str(run.data.tags)
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="config.yaml", tracking_uri=mlflow_server)
    config_yaml = open(local, encoding="utf-8").read()
    # The command line moved the credentials to MLflow's environment variables before Hydra saw them.
    assert secret not in config_yaml and f"uri: {mlflow_server}\n" in config_yaml
    assert not any(key.startswith(("paths.", "tracking.uri")) for key in run.data.params)
