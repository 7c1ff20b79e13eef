"""A trained matcher on disk: the model, its similarity map, blocking and threshold.

Layout of an export directory::

    <target>/<model_name>/
        model.keras            Keras model, custom lossmatch losses registered
        similarity_map.yaml    the safe format
        similarity_map.dill    for tools that expect dill (loading it runs code)
        export.yaml            threshold, blocking rules, id columns, feature names
        metrics.csv            when evaluations were given

Writes go to a temporary sibling directory that is renamed into place, so an
interrupted export never leaves a half-written directory under the final name. The
temporary name carries the host and process id (``.export.<host>.<pid>.<random>.tmp``) so
that a later run can tell a dead process's leftover from a live writer's folder.

Loading checks every file and answers a damaged or tampered export with one line naming
the file and what is wrong (an :class:`~lossmatch.errors.InputError`).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap, load_similarity_map, save_similarity_map

MODEL_FILE = "model.keras"
META_FILE = "export.yaml"
SIMILARITY_YAML = "similarity_map.yaml"
SIMILARITY_DILL = "similarity_map.dill"


@dataclass
class Export:
    """What a matcher needs to score new tables."""

    model: Any  # keras.Model
    similarity_map: SimilarityMap
    threshold: float
    blocking: list | None = None
    id_left: str = "id"
    id_right: str = "id"
    listwise: bool = False
    metadata: dict = field(default_factory=dict)
    # (train_prior, sampled_prior) when training resampled the classes: the threshold was
    # chosen on probabilities mapped back to the true prior, so every prediction is mapped too.
    prior: tuple[float, float] | None = None

    def probabilities(self, outputs):
        """The model's outputs on the scale the threshold was chosen on."""
        if self.prior is None:
            return outputs
        from lossmatch.imbalance import correct_prior

        return correct_prior(outputs, *self.prior)


def temp_prefix(name: str) -> str:
    """Prefix of the temporary folder an export of ``name`` is written into (see the module doc)."""
    return f".{name}.{socket.gethostname()}.{os.getpid()}."


def remove_abandoned_exports(root: Path, *, depth: int = 3) -> list[Path]:
    """Delete temporary export folders under ``root`` whose writer (a process of this host) is dead.

    A run killed with SIGKILL cannot remove its ``.export.<host>.<pid>.<random>.tmp``; the
    next run does. Folders of other hosts and of live processes are left alone.
    """
    from lossmatch.tracking import _process_alive

    host = socket.gethostname()
    removed = []
    for level in range(1, depth + 1):
        pattern = "/".join(["*"] * (level - 1) + [".*.tmp"])
        for tmp in Path(root).glob(pattern):
            parts = tmp.name.split(".")  # ['', name, host..., pid, random, 'tmp']
            if not tmp.is_dir() or len(parts) < 6 or not parts[-3].isdigit():
                continue
            if ".".join(parts[2:-3]) == host and not _process_alive(int(parts[-3])):
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
    return removed


def write_export(
    target: Path,
    *,
    overwrite: bool,
    write_contents: Callable[[Path], None],
) -> Path:
    """Create ``target`` atomically: ``write_contents(tmp)`` fills a temporary directory
    that is then renamed to ``target``. An existing ``target`` is kept unless ``overwrite``."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise InputError(f"export directory already exists: {target} (pass overwrite=True to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent))
    try:
        write_contents(tmp)
        if target.exists():
            # Move the old export aside first so that a failed rename loses nothing.
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        # Also on SIGTERM (raised as an exception by lossmatch.cli) and Ctrl-C.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def save_export_contents(directory: Path, model, similarity_map: SimilarityMap, meta: dict) -> None:
    directory = Path(directory)
    model.save(directory / MODEL_FILE)
    save_similarity_map(similarity_map, directory / SIMILARITY_YAML)
    save_similarity_map(similarity_map, directory / SIMILARITY_DILL)
    with open(directory / META_FILE, "w", encoding="utf-8") as f:
        yaml.safe_dump(meta, f, sort_keys=False)


def load_export(source: str | os.PathLike, *, tracking_uri: str | None = None) -> Export:
    """Load a matcher from an export directory or an MLflow URI (``runs:/<run_id>/model``).

    For an MLflow URI, the run's ``export`` artifact directory (logged next to the model
    by ``train.py``) supplies the model, similarity map and threshold. ``tracking_uri``
    names the store; by default it is this project's store (``$MLFLOW_TRACKING_URI`` if
    set, else ``mlruns/mlflow.db`` of the current directory or of the lossmatch checkout).
    Reading never creates a store.

    Raises:
        InputError: a missing or damaged file, named with what is wrong.
    """
    text = str(source)
    if "://" in text or text.startswith(("runs:/", "models:/")):
        return _load_mlflow_export(text, tracking_uri)
    directory = Path(source)
    meta = _read_meta(directory)
    similarity_map = _read_similarity_map(directory / SIMILARITY_YAML)
    names = meta.get("feature_names")
    if names is not None and list(names) != list(similarity_map.feature_names):
        raise InputError(
            f"{directory / META_FILE}: feature_names do not match {SIMILARITY_YAML} "
            f"({len(names)} names against {len(similarity_map.feature_names)} features): the export was altered"
        )
    model = _read_model(directory / MODEL_FILE)
    n_inputs = model.input_shape[-1]
    if n_inputs != len(similarity_map.feature_names):
        raise InputError(
            f"{directory / MODEL_FILE}: the model takes {n_inputs} features but {SIMILARITY_YAML} "
            f"gives {len(similarity_map.feature_names)}: model and map come from different runs"
        )
    return Export(
        model=model,
        similarity_map=similarity_map,
        threshold=meta["threshold"],
        blocking=meta.get("blocking"),
        id_left=meta.get("id_left", "id"),
        id_right=meta.get("id_right", "id"),
        listwise=bool(meta.get("listwise", False)),
        metadata=meta,
        prior=meta.get("prior"),
    )


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _read_meta(directory: Path) -> dict:
    path = directory / META_FILE
    if not directory.is_dir():
        raise InputError(f"export: not a directory: {directory}")
    if not path.is_file():
        raise InputError(f"not a lossmatch export: {directory} has no {META_FILE}")
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not readable YAML ({_one_line(err)})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a mapping of export settings, got {type(meta).__name__}")
    threshold = meta.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
        math.isfinite(threshold) and 0.0 <= threshold <= 1.0
    ):
        raise InputError(f"{path}: threshold must be a number in [0, 1], got {threshold!r}")
    meta["threshold"] = float(threshold)
    prior = meta.get("prior")
    if prior is not None:
        if not (
            isinstance(prior, list) and len(prior) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1 for v in prior)
        ):
            raise InputError(f"{path}: prior must be [train_prior, sampled_prior], two numbers in (0, 1), got {prior!r}")
        meta["prior"] = (float(prior[0]), float(prior[1]))
    for key in ("id_left", "id_right"):
        if key in meta and not isinstance(meta[key], str):
            raise InputError(f"{path}: {key} must be a column name, got {meta[key]!r}")
    blocking = meta.get("blocking")
    if blocking is not None:
        from lossmatch.blocking import validate_rules

        validate_rules(blocking, where=f"{path}: blocking")
    names = meta.get("feature_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise InputError(f"{path}: feature_names must be a list of names")
    return meta


def _read_similarity_map(path: Path) -> SimilarityMap:
    if not path.is_file():
        raise InputError(f"{path}: missing; an export holds the similarity map as YAML")
    try:
        return load_similarity_map(path)
    except InputError as err:
        raise InputError(f"{path}: {_one_line(err)}") from None


def _read_model(path: Path):
    from lossmatch.runtime import import_keras

    keras = import_keras()
    # Registers the custom losses and layers (scaling, attribute model) for load_model.
    import lossmatch.losses  # noqa: F401
    import lossmatch.model_attribute  # noqa: F401
    import lossmatch.scaling  # noqa: F401

    if not path.is_file():
        raise InputError(f"{path}: missing; an export holds the Keras model")
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # zip, h5 and deserialisation errors all mean "not a usable model"
        raise InputError(f"{path}: not a loadable Keras model ({type(err).__name__}: {_one_line(err)[:200]})") from None


def default_tracking_uri() -> str:
    """The store ``runs:/`` URIs refer to when none is given (see :func:`load_export`)."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    here = Path.cwd() / "mlruns" / "mlflow.db"
    checkout = Path(__file__).resolve().parents[2] / "mlruns" / "mlflow.db"
    db = here if here.is_file() or not checkout.is_file() else checkout
    return f"sqlite:///{db}"


def _load_mlflow_export(uri: str, tracking_uri: str | None) -> Export:
    if not uri.startswith("runs:/"):
        raise InputError(f"export: only runs:/<run_id>/model URIs are supported, got {uri}")
    tracking_uri = tracking_uri or default_tracking_uri()
    if tracking_uri.startswith("sqlite:///"):
        # MLflow would create an empty database here: reading must not create a store.
        db = Path(tracking_uri[len("sqlite:///") :])
        if not db.is_file():
            raise InputError(f"export={uri}: no MLflow store at {db} (set tracking.uri or MLFLOW_TRACKING_URI)")
    import mlflow

    run_id = uri[len("runs:/") :].split("/")[0]
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="export", tracking_uri=tracking_uri)
    except mlflow.exceptions.MlflowException as exc:
        raise InputError(f"export={uri}: no lossmatch export in that MLflow run ({_one_line(exc)[:300]})") from None
    return load_export(local)
