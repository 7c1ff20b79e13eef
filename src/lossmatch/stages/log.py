"""Stage 5, log: what a finished run leaves behind, in MLflow and in its run directory.

MLflow gets readable params (no ``_target_`` paths, no paths of this machine, no secrets),
tags, the final ``train_*``/``val_*``/``test_*`` metrics (F1, precision, recall, MCC,
PR-AUC, log loss, Brier score, calibration error, ...), the resolved config,
``metrics.csv``/``metrics.json``, the validation and test predictions, plots, the export,
the pyfunc ``matcher`` and the Keras model. The run directory gets ``metrics.csv``,
``metrics.json`` and ``export/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from lossmatch import tracking
from lossmatch.common import SPLITS
from lossmatch.run_naming import RunIdentity
from lossmatch.stages.evaluate import Evaluation
from lossmatch.stages.fit import Fitted
from lossmatch.stages.prepare import Prepared
from lossmatch.training import SplitData, Training


def start(identity: RunIdentity, prepared: Prepared) -> None:
    """What a run records as soon as it opens (so that a failed run still shows its settings).

    ``identity`` (``lossmatch.run_naming.run_identity``) holds readable params (no
    ``_target_`` paths, no folders of this machine, no secrets) and the tags.
    """
    import mlflow

    tracking.log_params(identity.params)
    mlflow.set_tags(identity.tags)
    if prepared.completeness is not None:
        mlflow.log_metrics(
            {"blocking_pair_completeness": prepared.completeness, "blocking_candidates": prepared.n_candidates}
        )
    for s in SPLITS:
        n_pos = int(prepared.labels[s].sum())
        mlflow.log_metrics({f"{s}_pairs": len(prepared.labels[s]), f"{s}_matches": n_pos + prepared.missed[s]})


def finish(config, config_yaml: str, prepared: Prepared, splits: Mapping[str, SplitData], fitted: Fitted,
           evaluation: Evaluation, out: Path, run_info: Mapping) -> dict:
    """Log metrics and artifacts, write the export and ``metrics.json``; returns the run's figures."""
    import mlflow

    from lossmatch import plots

    fit = fitted.result
    mlflow.log_metric("train_seconds", fitted.seconds)
    if fit.prior:
        mlflow.log_metrics({"train_prior": fit.prior[0], "sampled_prior": fit.prior[1]})
    if fit.class_weight:
        tracking.log_metrics({f"class_weight_{k}": v for k, v in fit.class_weight.items()})
    for s in SPLITS:
        tracking.log_metrics(evaluation.metrics[s], prefix=f"{s}_")
    mlflow.log_metric("threshold", evaluation.threshold)
    mlflow.log_text(tracking.redact(config_yaml), "config.yaml")
    ev = evaluation.metrics
    Training.evaluate_dataframe(ev["test"], ev["train"], val=ev["val"]).to_csv(out / "metrics.csv", index=False)
    mlflow.log_artifact(str(out / "metrics.csv"))
    _log_predictions(prepared, splits, evaluation, out)
    probs = evaluation.probabilities
    figures = plots.run_figures(
        splits["val"].y, probs["val"], evaluation.threshold, fit.history, y_test=splits["test"].y,
        p_test=probs["test"], missed_val=splits["val"].missed_matches, missed_test=splits["test"].missed_matches,
    )
    for name, fig in figures.items():
        mlflow.log_figure(fig, f"plots/{name}.png")
        plots.close(fig)
    export_dir = _export(prepared, fitted, evaluation, out, run_info["run_id"])
    if config.tracking.log_model:
        _log_matcher(prepared, fitted, evaluation, export_dir)
    if config.tracking.log_keras_model:
        log_keras_model(fitted.model)
    result = {
        "loss": fitted.loss_name,
        "threshold": evaluation.threshold,
        **{s: ev[s] for s in ("val", "test", "train")},
        "blocking": {"candidates": prepared.n_candidates, "pair_completeness": prepared.completeness},
        "epochs_run": fit.epochs_run,
        "mlflow_run_id": run_info["run_id"],
        "mlflow_experiment_id": run_info["experiment_id"],
        "export_dir": str(export_dir),
        "optimized_metric": config.optimized_metric,
    }
    return result


def _log_predictions(prepared: Prepared, splits: Mapping[str, SplitData], evaluation: Evaluation, out: Path) -> None:
    """``predictions.parquet``: the validation and test pairs (ids), labels and probabilities,
    for ensembles and precision-recall overlays built later from MLflow alone."""
    import mlflow
    import pandas as pd

    training = prepared.training
    frames = []
    for s in ("val", "test"):
        pairs = splits[s].pairs
        frames.append(pd.DataFrame({
            "split": s,
            "left_id": training.df_left[training.id_left].to_numpy()[pairs["left"].to_numpy()],
            "right_id": training.df_right[training.id_right].to_numpy()[pairs["right"].to_numpy()],
            "label": splits[s].y.astype("int8"),
            "probability": evaluation.probabilities[s],
        }))
    path = out / "predictions.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    mlflow.log_artifact(str(path))


def _export(prepared: Prepared, fitted: Fitted, evaluation: Evaluation, out: Path, run_id: str) -> Path:
    import mlflow

    ev = evaluation.metrics
    export_dir = prepared.training.performance_statistics_export(
        fitted.model, "export", out, evaluation_train=ev["train"], evaluation_test=ev["test"],
        threshold=evaluation.threshold, blocking=prepared.blocking,
        metadata={"loss": fitted.loss_name, "data": prepared.data.name, "mlflow_run_id": run_id,
                  **({"prior": [float(v) for v in fitted.result.prior]} if fitted.result.prior else {})},
    )
    mlflow.log_artifacts(str(export_dir), "export")
    return export_dir


def _log_matcher(prepared: Prepared, fitted: Fitted, evaluation: Evaluation, export_dir: Path) -> None:
    """The pyfunc ``matcher``: record pairs in, probability and decision out (``lossmatch.serving``)."""
    from lossmatch.export import Export
    from lossmatch.serving import log_matcher, pairs_frame

    training = prepared.training
    exported = Export(fitted.model, training.similarity_map, evaluation.threshold, prepared.blocking,
                      training.id_left, training.id_right, fitted.listwise,
                      prior=tuple(fitted.result.prior) if fitted.result.prior else None)
    example = pairs_frame(training.df_left, training.df_right, prepared.pairs["val"].head(3), training.similarity_map)
    log_matcher(exported, export_dir, example)


def write_metrics_json(result: dict, out: Path) -> None:
    """``metrics.json`` in the run directory and as an artifact: the interface scoring scripts read."""
    import mlflow

    path = out / "metrics.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    mlflow.log_artifact(str(path))


def log_keras_model(model) -> None:
    """Log the model with MLflow's keras flavour, as an inference-only (uncompiled) copy.

    The compiled model carries its lossmatch loss, which Keras can only rebuild
    after ``import lossmatch.losses``; the uncompiled copy has the same weights
    and predictions and loads anywhere with plain Keras (``mlflow.keras.load_model``,
    ``mlflow.pyfunc``). The full compiled model is in the run's ``export/``.
    """
    import keras
    import mlflow.keras
    import numpy as np
    import tensorflow as tf
    from mlflow.models import infer_signature

    # From the architecture config: Keras 3's clone_model would copy the compiled loss too.
    inference = type(model).from_config(model.get_config())
    inference.set_weights(model.get_weights())
    # One example row (one list of one candidate for a listwise model) for the signature.
    example = np.zeros([1 if d is None else d for d in model.input_shape], dtype=np.float32)
    # Pinned requirements skip MLflow's slow import-scanning inference.
    mlflow.keras.log_model(
        inference,
        name="model",
        pip_requirements=[f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}"],
        signature=infer_signature(example, inference.predict(example, verbose=0)),
    )


def summary(result: dict, uri: str) -> str:
    """The lines printed at the end of a run (the tracking URI without secrets)."""
    v, t = result["val"], result["test"]
    lines = [
        "",
        f"lossmatch run {result['mlflow_run_id']}  loss={result['loss']}  threshold={result['threshold']:.4f}  ({result['seconds']:.1f} s)",
    ]
    if result["blocking"]["pair_completeness"] is not None:
        lines.append(
            f"  blocking   : {result['blocking']['candidates']:,} candidates, pair completeness {result['blocking']['pair_completeness']:.4f}"
        )
    lines += [
        f"  validation : F1 {v['f1']:.4f}  precision {v['precision']:.4f}  recall {v['recall']:.4f}",
        f"  test       : F1 {t['f1']:.4f}  precision {t['precision']:.4f}  recall {t['recall']:.4f}  MCC {t['mcc']:.4f}  (tp {t['tp']} fp {t['fp']} fn {t['fn']} tn {t['tn']})",
        f"  export     : {result['export_dir']}",
        f"  MLflow UI  : {tracking.ui_command(uri)}",
    ]
    return "\n".join(lines)
