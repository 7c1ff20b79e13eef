"""MLflow tracking: store set-up, a per-epoch Keras callback and run artifacts."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

import keras
import mlflow

log = logging.getLogger(__name__)

# MLflow caps a param value at 6000 characters; longer values are cut with a marker.
_MAX_PARAM_CHARS = 6000


def setup_tracking(uri: str, experiment: str, artifact_location: str | None = None) -> str:
    """Point MLflow at ``uri`` and make sure ``experiment`` exists; returns its id.

    For a local SQLite store the database's folder is created and artifacts of
    a new experiment go under ``artifact_location`` (MLflow 3 refuses the plain
    file store, so a database plus an artifact folder is the local layout).
    """
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        db_path = Path(uri[len("sqlite:///") :])
        db_path.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    else:
        location = None
        if artifact_location:
            artifacts = Path(artifact_location).expanduser().resolve()
            artifacts.mkdir(parents=True, exist_ok=True)
            location = artifacts.as_uri()
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def ui_command(uri: str) -> str:
    """The shell command that opens the MLflow UI on this tracking store."""
    if urlparse(uri).scheme in ("http", "https"):
        return f"open {uri} in a browser"
    return f"mlflow ui --backend-store-uri {uri}"


@contextlib.contextmanager
def mlflow_run(run_name: str | None = None, *, nested: bool | None = None) -> Iterator[mlflow.ActiveRun]:
    """Start an MLflow run that ends FAILED (KILLED on Ctrl-C), never left RUNNING, if the body raises.

    Nested automatically when another run is active (a sweep's parent run).
    """
    if nested is None:
        nested = mlflow.active_run() is not None
    run = mlflow.start_run(run_name=run_name, nested=nested)
    try:
        yield run
    except KeyboardInterrupt:
        mlflow.end_run(status="KILLED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def flatten(config: Mapping, prefix: str = "") -> dict[str, str]:
    """Flatten a nested mapping to dotted keys (``loss.alpha``), the form MLflow's compare view lines up."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            text = str(value)
            if len(text) > _MAX_PARAM_CHARS:
                text = text[: _MAX_PARAM_CHARS - 3] + "..."
            flat[name] = text
    return flat


def log_params(config: Mapping) -> None:
    # log_params takes at most 100 params per call in some stores: send in chunks.
    items = list(flatten(config).items())
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))


def log_metrics(metrics: Mapping[str, float], prefix: str = "", step: int | None = None) -> None:
    """Log numeric metrics as ``<prefix><key>``; non-finite values are skipped with a warning."""
    clean = {}
    for key, value in metrics.items():
        value = float(value)
        if math.isfinite(value):
            clean[f"{prefix}{key}"] = value
        else:
            log.warning("metric %s%s is %s; not logged", prefix, key, value)
    mlflow.log_metrics(clean, step=step)


class MlflowEpochLogger(keras.callbacks.Callback):
    """Logs every Keras epoch's metrics (``loss``, ``val_loss``, ...) to the active MLflow run.

    ``step_offset`` lets a second training phase (e.g. after validation class
    weights) continue the epoch axis instead of restarting at 0.
    """

    def __init__(self, step_offset: int = 0):
        super().__init__()
        self.step_offset = step_offset

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            log_metrics({f"epoch_{k}": v for k, v in logs.items()}, step=self.step_offset + epoch)
