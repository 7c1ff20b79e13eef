"""MLflow tracking: a store that is checked early, set up safely, and never left RUNNING.

- ``check_store`` answers in seconds whether the store can be used (an unreachable server,
  a read-only folder) before any data is loaded.
- ``setup_tracking`` creates a local SQLite store under a file lock, so concurrent first
  runs do not race on MLflow's schema migration, and marks runs left RUNNING by a dead
  process of this host as FAILED.
- ``mlflow_run`` ends a run FINISHED, FAILED, or KILLED (Ctrl-C, SIGTERM).
- Credentials in a tracking URI (``http://user:password@host``) are moved into MLflow's
  own environment variables and never written anywhere: ``redact`` is applied to every
  URI that is printed or logged.

MLflow is imported inside the functions: the command line checks its input first.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from lossmatch.errors import InputError

log = logging.getLogger(__name__)

# MLflow caps a param value at 6000 characters; longer values are cut with a marker.
_MAX_PARAM_CHARS = 6000
# Seconds to wait for a tracking server before giving up (MLflow's own default is minutes).
CONNECT_TIMEOUT = 3.0
HOST_TAG, PID_TAG = "lossmatch_host", "lossmatch_pid"


# -- credentials -----------------------------------------------------------------------------
def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``(uri without user:password, user, password)``; the last two are None when absent."""
    parts = urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri, None, None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), parts.username, parts.password


def redact(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@host`` replaced by ``***``.

    >>> redact("http://alice:s3cret@127.0.0.1:5055/x")
    'http://alice:***@127.0.0.1:5055/x'
    >>> redact("sqlite:////tmp/mlruns/mlflow.db")
    'sqlite:////tmp/mlruns/mlflow.db'
    """
    import re

    return re.sub(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s/]*@", r"\1:***@", str(text))


def use_credentials(uri: str) -> str:
    """Move ``user:password`` of a tracking URI into ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD``.

    MLflow reads those variables for basic authentication; the returned URI carries no
    secret, so it can be logged, printed and saved.
    """
    clean, user, password = split_credentials(uri)
    if user is not None:
        os.environ["MLFLOW_TRACKING_USERNAME"] = user
    if password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    return clean


# -- checking the store ----------------------------------------------------------------------
def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def check_store(uri: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast with one line if the store at ``uri`` cannot take a run.

    A SQLite store needs a folder it can write (SQLite adds journal files beside the
    database); a server must answer ``/health`` within ``timeout`` seconds.
    """
    shown = redact(uri)
    db = sqlite_path(uri)
    if db is not None:
        _check_writable_folder(db, shown)
        return
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        # MLflow retries for minutes by default; a run should fail, not hang, when the server goes away.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        clean, _, _ = split_credentials(uri)
        try:
            with urllib.request.urlopen(clean.rstrip("/") + "/health", timeout=timeout):
                pass
        except urllib.error.HTTPError:
            pass  # something answers; MLflow reports what it thinks of the request itself
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(
                f"tracking.uri={shown}: no tracking server answers within {timeout:g} s ({reason}); "
                "start it (mlflow server) or use the local store (the default tracking.uri)"
            ) from None


def _check_writable_folder(db: Path, shown: str) -> None:
    from lossmatch.common import writable_folder

    try:
        writable_folder(db.parent)
        if db.exists():
            with open(db, "r+b"):
                pass
    except OSError as exc:
        raise InputError(
            f"tracking.uri={shown}: the store's {'file' if exc.filename == str(db) else 'folder'} {exc.filename or db.parent} is not writable ({exc.strerror or exc}); "
            "choose another tracking.uri or paths.mlruns_dir"
        ) from None


# -- setting up ------------------------------------------------------------------------------
def setup_tracking(uri: str, experiment: str, artifact_location: str | None = None) -> str:
    """Point MLflow at ``uri`` and make sure ``experiment`` exists; returns its id.

    For a local SQLite store the database's folder is created and artifacts of a new
    experiment go under ``artifact_location`` (MLflow 3 refuses the plain file store, so a
    database plus an artifact folder is the local layout). First creation of the database
    and of the experiment happen under a file lock beside the database: MLflow's schema
    migration is not safe when two processes create one store at the same moment.
    """
    import mlflow

    # Download bars for the few small files a run reads back are noise in a run's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    db = sqlite_path(uri)
    lock = contextlib.nullcontext()
    if db is not None:
        from filelock import FileLock

        db.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(db) + ".lock", timeout=300)
    with lock:
        mlflow.set_tracking_uri(uri)
        existing = mlflow.get_experiment_by_name(experiment)
        if existing is not None:
            experiment_id = existing.experiment_id
        else:
            location = None
            if artifact_location and db is not None:
                artifacts = Path(artifact_location).expanduser().resolve()
                artifacts.mkdir(parents=True, exist_ok=True)
                location = artifacts.as_uri()
            experiment_id = _create_experiment(experiment, location)
    mlflow.set_experiment(experiment_id=experiment_id)
    fail_abandoned_runs()
    return experiment_id


def _create_experiment(name: str, location: str | None) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another process (on another host, sharing a server) created it first.
        existing = mlflow.get_experiment_by_name(name)
        if existing is None:
            raise
        return existing.experiment_id


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def fail_abandoned_runs() -> list[str]:
    """Mark FAILED the runs of this host left RUNNING by a process that no longer exists.

    A run killed with SIGKILL (or by a power cut) cannot close itself; every run records
    its host and pid as tags, so the next run on the store can tell. Returns their ids.
    """
    import mlflow

    host = socket.gethostname()
    try:
        runs = mlflow.search_runs(
            search_all_experiments=True,
            filter_string=f"attributes.status = 'RUNNING' and tags.{HOST_TAG} = '{host}'",
            output_format="list",
        )
    except Exception as exc:  # a store that cannot search must not stop the run
        log.warning("could not look for abandoned runs: %s", exc)
        return []
    client = mlflow.MlflowClient()
    failed = []
    for run in runs:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and not _process_alive(int(pid)):
            client.set_tag(run.info.run_id, "lossmatch_end", f"process {pid} on {host} died without closing the run")
            client.set_terminated(run.info.run_id, status="FAILED")
            failed.append(run.info.run_id)
    if failed:
        print(f"[lossmatch] marked {len(failed)} run(s) left RUNNING by dead processes as FAILED", flush=True)
    return failed


def ui_command(uri: str) -> str:
    """The shell command that opens the MLflow UI on this tracking store (no secrets)."""
    clean, _, _ = split_credentials(uri)
    if urlsplit(clean).scheme in ("http", "https"):
        return f"open {clean} in a browser"
    return f"mlflow ui --backend-store-uri {clean}"


@contextlib.contextmanager
def mlflow_run(run_name: str | None = None, *, tags: Mapping[str, str] | None = None, nested: bool | None = None,
               parent_run_id: str | None = None, run_id: str | None = None) -> Iterator:
    """Start an MLflow run that ends FAILED, or KILLED on Ctrl-C / SIGTERM, never left RUNNING.

    Nested automatically when another run is active (a sweep's parent run in this process)
    or when ``parent_run_id`` is given (a sweep's parent run in another process).
    ``run_id`` reopens an existing run instead (a resumed loss comparison's parent run).
    """
    import mlflow

    if nested is None:
        nested = mlflow.active_run() is not None or parent_run_id is not None
    all_tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), **dict(tags or {})}
    run = mlflow.start_run(run_id=run_id, run_name=run_name, nested=nested, parent_run_id=parent_run_id, tags=all_tags)
    try:
        yield run
    except KeyboardInterrupt:  # lossmatch.errors.Terminated (SIGTERM) is one
        mlflow.end_run(status="KILLED")
        raise
    except Exception as exc:
        # A sweep's pruner stopped the run early (optuna.TrialPruned): not a failure.
        mlflow.end_run(status="KILLED" if type(exc).__name__ == "TrialPruned" else "FAILED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


# -- logging ---------------------------------------------------------------------------------
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


def log_params(params: Mapping[str, str]) -> None:
    import mlflow

    # log_params takes at most 100 params per call in some stores: send in chunks.
    items = list(params.items())
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))


def log_metrics(metrics: Mapping[str, float], prefix: str = "", step: int | None = None) -> None:
    """Log numeric metrics as ``<prefix><key>``; non-finite values are skipped with a warning."""
    import mlflow

    mlflow.log_metrics(finite_metrics(metrics, prefix), step=step)


def finite_metrics(metrics: Mapping[str, float], prefix: str = "") -> dict[str, float]:
    """``{<prefix><key>: float}`` of the finite values; each non-finite one is a warning."""
    clean = {}
    for key, value in metrics.items():
        value = float(value)
        if math.isfinite(value):
            clean[f"{prefix}{key}"] = value
        else:
            log.warning("metric %s%s is %s; not logged", prefix, key, value)
    return clean
