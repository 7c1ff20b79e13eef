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
