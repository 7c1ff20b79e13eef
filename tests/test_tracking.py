"""MLflow helpers: store set-up, flattened params, runs that never stay RUNNING."""

import mlflow
import pytest

from lossmatch import tracking


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    exp = tracking.setup_tracking(uri, "unit", str(tmp_path / "mlruns" / "artifacts"))
    yield uri, exp
    while mlflow.active_run():
        mlflow.end_run()


def test_setup_creates_sqlite_store_with_artifacts_under_mlruns(store, tmp_path):
    uri, exp = store
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    experiment = mlflow.get_experiment(exp)
    assert experiment.artifact_location.startswith((tmp_path / "mlruns" / "artifacts").as_uri())
    # A second set-up finds the same experiment instead of failing on the name.
    assert tracking.setup_tracking(uri, "unit", str(tmp_path / "elsewhere")) == exp


def test_flatten_gives_dotted_keys():
    flat = tracking.flatten({"loss": {"name": "focal", "alpha": 0.5}, "seed": 1, "empty": {}})
    assert flat == {"loss.name": "focal", "loss.alpha": "0.5", "seed": "1", "empty": "{}"}


def test_failed_body_ends_run_failed_not_running(store):
    uri, _ = store
    with pytest.raises(RuntimeError):
        with tracking.mlflow_run("boom") as run:
            run_id = run.info.run_id
            raise RuntimeError("boom")
    assert mlflow.MlflowClient(uri).get_run(run_id).info.status == "FAILED"
    assert mlflow.active_run() is None


def test_interrupted_run_ends_killed(store):
    uri, _ = store
    with pytest.raises(KeyboardInterrupt):
        with tracking.mlflow_run("ctrl-c") as run:
            raise KeyboardInterrupt
    assert mlflow.MlflowClient(uri).get_run(run.info.run_id).info.status == "KILLED"


def test_run_inside_a_parent_is_nested(store):
    uri, _ = store
    with mlflow.start_run() as parent:
        with tracking.mlflow_run("child") as child:
            pass
    got = mlflow.MlflowClient(uri).get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert got.info.status == "FINISHED"


def test_non_finite_metrics_are_skipped(store):
    uri, _ = store
    with tracking.mlflow_run("m") as run:
        tracking.log_metrics({"a": 1.0, "b": float("nan")}, prefix="val_")
    metrics = mlflow.MlflowClient(uri).get_run(run.info.run_id).data.metrics
    assert metrics == {"val_a": 1.0}


def test_ui_command_names_the_store():
    assert tracking.ui_command("sqlite:///x/mlruns/mlflow.db") == "mlflow ui --backend-store-uri sqlite:///x/mlruns/mlflow.db"


def test_epoch_logger_sends_epochs_in_batches_with_their_steps(store, monkeypatch):
    """Epochs wait for a flush (flush_seconds apart, at the end of training, or an explicit one),
    then arrive with their own steps, offset, non-finite values skipped."""
    from lossmatch.callbacks import MlflowEpochLogger

    uri, _ = store
    client = mlflow.MlflowClient(uri)
    clock = [100.0]
    monkeypatch.setattr("lossmatch.callbacks.time.monotonic", lambda: clock[0])
    logger = MlflowEpochLogger(step_offset=2, flush_seconds=10.0)
    with tracking.mlflow_run("epochs") as run:
        logger.on_epoch_end(0, {"loss": 0.5, "val_f1": float("nan")})
        clock[0] += 9.0
        logger.on_epoch_end(1, {"loss": 0.25})
        assert client.get_metric_history(run.info.run_id, "epoch_loss") == []  # 9 s: not yet
        clock[0] += 1.0
        logger.on_epoch_end(2, {"loss": 0.125})  # 10 s since the last flush: all three go
        assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "epoch_loss")] == [
            (2, 0.5), (3, 0.25), (4, 0.125)]
        logger.on_epoch_end(3, {"loss": 0.0625})
        logger.on_train_end()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch_loss")] == [2, 3, 4, 5]
    assert client.get_metric_history(run.info.run_id, "epoch_val_f1") == []


def test_epoch_logger_without_a_run_logs_nothing_and_flushes_quietly():
    from lossmatch.callbacks import MlflowEpochLogger

    assert mlflow.active_run() is None
    logger = MlflowEpochLogger(flush_seconds=0.0)
    logger.on_epoch_end(0, {"loss": 0.5})
    logger.flush()
    assert logger._pending == []
