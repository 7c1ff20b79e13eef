"""A trained matcher on disk: the model, its similarity map, blocking and threshold.

Layout of an export directory::

    <target>/<model_name>/
        model.keras            Keras model, custom lossmatch losses registered
        similarity_map.yaml    the safe format
        similarity_map.dill    for tools that expect dill (loading it runs code)
        export.yaml            threshold, blocking rules, id columns, feature names
        metrics.csv            when evaluations were given

Writes go to a temporary sibling directory that is renamed into place, so an
interrupted export never leaves a half-written directory under the final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import yaml

import lossmatch.losses  # noqa: F401  (registers the custom losses for load_model)
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap, load_similarity_map, save_similarity_map

MODEL_FILE = "model.keras"
META_FILE = "export.yaml"
SIMILARITY_YAML = "similarity_map.yaml"
SIMILARITY_DILL = "similarity_map.dill"


@dataclass
class Export:
    """What a matcher needs to score new tables."""

    model: keras.Model
    similarity_map: SimilarityMap
    threshold: float
    blocking: list | None = None
    id_left: str = "id"
    id_right: str = "id"
    listwise: bool = False
    metadata: dict = field(default_factory=dict)


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
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
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
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def save_export_contents(directory: Path, model: keras.Model, similarity_map: SimilarityMap, meta: dict) -> None:
    directory = Path(directory)
    model.save(directory / MODEL_FILE)
    save_similarity_map(similarity_map, directory / SIMILARITY_YAML)
    save_similarity_map(similarity_map, directory / SIMILARITY_DILL)
    with open(directory / META_FILE, "w", encoding="utf-8") as f:
        yaml.safe_dump(meta, f, sort_keys=False)


def load_export(source: str | os.PathLike, *, tracking_uri: str | None = None) -> Export:
    """Load a matcher from an export directory or an MLflow model URI (``runs:/<run_id>/model``).

    For an MLflow URI, the run's ``export`` artifact directory (logged next to
    the model by ``train.py``) supplies the model, similarity map and threshold;
    ``tracking_uri`` names the store (default: MLflow's current one).
    """
    text = str(source)
    if "://" in text or text.startswith("runs:/") or text.startswith("models:/"):
        return _load_mlflow_export(text, tracking_uri)
    directory = Path(source)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise InputError(f"not a lossmatch export: {directory} has no {META_FILE}")
    with open(meta_path, encoding="utf-8") as f:
        meta = yaml.safe_load(f) or {}
    model = keras.saving.load_model(directory / MODEL_FILE)
    similarity_map = load_similarity_map(directory / SIMILARITY_YAML)
    return Export(
        model=model,
        similarity_map=similarity_map,
        threshold=float(meta["threshold"]),
        blocking=meta.get("blocking"),
        id_left=meta.get("id_left", "id"),
        id_right=meta.get("id_right", "id"),
        listwise=bool(meta.get("listwise", False)),
        metadata=meta,
    )


def _load_mlflow_export(uri: str, tracking_uri: str | None) -> Export:
    import mlflow

    if not uri.startswith("runs:/"):
        raise InputError(f"export: only runs:/<run_id>/model URIs are supported, got {uri}")
    run_id = uri[len("runs:/") :].split("/")[0]
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="export", tracking_uri=tracking_uri)
    except mlflow.exceptions.MlflowException as exc:
        raise InputError(f"export={uri}: no lossmatch export in that MLflow run ({exc.message})") from exc
    return load_export(local)
