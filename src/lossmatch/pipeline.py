"""``run(cfg)``: one matching run from a composed Hydra config, tracked in one MLflow run.

Order matters: everything a user can get wrong (loss parameters, trainer
options, files, columns, ids, blocking rules) is checked before the MLflow run
starts, so bad input never leaves a run behind. Once the run is open, any
failure ends it as FAILED rather than RUNNING.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from lossmatch import metrics as M
from lossmatch import tracking
from lossmatch.blocking import pair_completeness
from lossmatch.data.split import assign_pairs, split_by_entity
from lossmatch.errors import InputError
from lossmatch.similarity import SimilarityMap
from lossmatch.common import SPLITS, pair_keys, plain
from lossmatch.training import SplitData, Training

log = logging.getLogger(__name__)

def build_loss(loss_cfg) -> tuple[str, object]:
    """Instantiate the loss of the ``loss`` config group; bad parameters become an InputError."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    params = OmegaConf.to_container(loss_cfg, resolve=True) if isinstance(loss_cfg, DictConfig) else dict(loss_cfg)
    name = params.pop("name", None) or str(params.get("_target_", "loss")).rsplit(".", 1)[-1]
    try:
        return name, instantiate(params)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, (ValueError, TypeError)):
            raise InputError(f"loss={name}: {cause}") from exc
        raise


def check_trainer(trainer, listwise: bool) -> None:
    """Check trainer options before any data is loaded."""
    from lossmatch import imbalance

    for key in ("epochs", "batch_size"):
        value = trainer[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"trainer.{key} must be a positive integer, got {value!r}")
    lr = trainer.learning_rate
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise InputError(f"trainer.learning_rate must be a positive number, got {lr!r}")
    cw = trainer.class_weight
    if isinstance(cw, (DictConfig, dict)):
        imbalance.check_class_weight_mapping(plain(cw))
    elif cw not in (None, "none", "balanced", "validation"):
        raise InputError(
            f"trainer.class_weight must be none, balanced, validation or a mapping like {{0: 3.0, 1: 1.0}}, got {cw!r}"
        )
    if trainer.sampling is not None and trainer.sampling not in imbalance.SAMPLING_METHODS:
        raise InputError(f"trainer.sampling must be one of {', '.join(imbalance.SAMPLING_METHODS)}, got {trainer.sampling!r}")
    if listwise and (cw not in (None, "none") or trainer.sampling not in (None, "none")):
        raise InputError(
            "loss=pairwise_soft_zero_one trains on candidate lists: trainer.class_weight and trainer.sampling must be none"
        )


@dataclass
class Prepared:
    data: object
    training: Training
    pairs: dict[str, pd.DataFrame]
    missed: dict[str, int]
    blocking: list | None
    completeness: float | None
    n_candidates: int


def prepare(cfg) -> Prepared:
    """Load and check the data, block and split it: all before any run is tracked."""
    from hydra.utils import instantiate

    source = instantiate(cfg.data, _convert_="all")
    data = source.load()
    if cfg.similarity.get("map") is None:
        known = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "conf" / "similarity").glob("*.yaml"))
        raise InputError(
            f"similarity.map is not set for data={data.name}: choose similarity=<name>"
            + (f" (one of {', '.join(known)})" if known else "")
            + " or give similarity.map='{column: [jaro_winkler], left_col~right_col: [exact]}'"
        )
    similarity_map = SimilarityMap.from_dict(plain(cfg.similarity.map))
    # Name the files in messages: a user's own tables are where a column goes missing.
    training = Training(
        similarity_map, data.left, data.right, data.id_left, data.id_right,
        left_name=f"left table ({data.files['left']})" if "left" in data.files else "left table",
        right_name=f"right table ({data.files['right']})" if "right" in data.files else "right table",
    )
    n_right = len(training.df_right)
    if data.labelled_pairs is not None:
        # Benchmark data with official splits: used as they are, no blocking, no resplitting.
        pairs = {s: data.labelled_pairs[s].reset_index(drop=True) for s in SPLITS}
        return Prepared(data, training, pairs, {s: 0 for s in SPLITS}, None, None, sum(len(p) for p in pairs.values()))
    blocking = getattr(source, "blocking", None)
    if not blocking:
        raise InputError(f"data={data.name}: data.blocking must list at least one blocking rule")
    limit = int(cfg.get("max_candidate_pairs", 5_000_000))
    n_all = len(data.left) * len(data.right)
    if n_all > limit and any(rule.get("method") == "full" for rule in plain(blocking)):
        raise InputError(
            f"data.blocking: a 'full' rule compares {len(data.left):,} x {len(data.right):,} = {n_all:,} pairs, "
            f"more than max_candidate_pairs={limit:,}; block on a column instead, "
            "e.g. data.blocking='[{method: block, on: <column>}]', or raise max_candidate_pairs"
        )
    print(f"[lossmatch] blocking {len(data.left):,} x {len(data.right):,} records ...", flush=True)
    candidates = training.candidate_pairs(blocking)
    if len(candidates) > limit:
        raise InputError(
            f"data.blocking gives {len(candidates):,} candidate pairs, more than max_candidate_pairs={limit:,}: "
            "use more selective rules (block on more columns) or raise max_candidate_pairs"
        )
    completeness = pair_completeness(candidates, data.matches)
    split = getattr(source, "split", None) or {"val": 0.2, "test": 0.2}
    left_split, right_split = split_by_entity(len(data.left), len(data.right), data.matches, split, seed=int(cfg.seed))
    pairs = assign_pairs(candidates, left_split, right_split)
    found = np.isin(pair_keys(data.matches, n_right), pair_keys(candidates, n_right))
    match_split = left_split[data.matches["left"].to_numpy()]
    missed = {s: int(np.sum((match_split == s) & ~found)) for s in SPLITS}
    return Prepared(data, training, pairs, missed, plain(blocking), completeness, len(candidates))


def _labelled(prepared: Prepared, name: str, features: np.ndarray) -> SplitData:
    pairs = prepared.pairs[name]
    if "label" in pairs.columns:
        y = pairs["label"].to_numpy(np.float32)
    else:
        y = Training.labels(pairs, prepared.data.matches, len(prepared.training.df_right))
    return SplitData(pairs=pairs[["left", "right"]], X=features, y=y, missed_matches=prepared.missed[name])


def _output_dir(output_dir) -> Path:
    if output_dir is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            output_dir = HydraConfig.get().runtime.output_dir
        except ValueError:
            output_dir = tempfile.mkdtemp(prefix="lossmatch-")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def run(cfg, output_dir=None) -> dict:
    """Train, choose the threshold on validation, evaluate on test, track; returns the figures."""
    import keras
    import mlflow
    import tensorflow as tf

    from lossmatch import plots

    started = time.perf_counter()
    logging.getLogger("recordlinkage").setLevel(logging.WARNING)  # we print our own blocking summary
    seed = int(cfg.seed)
    loss_name, loss = build_loss(cfg.loss)
    listwise = bool(getattr(loss, "expects_lists", False))
    check_trainer(cfg.trainer, listwise)
    prepared = prepare(cfg)
    training = prepared.training
    out = _output_dir(output_dir)

    # A sweep runs many jobs in one process: drop the previous job's graphs and layer names.
    keras.backend.clear_session()
    # Same config and seed give the same numbers on CPU.
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    experiment_id = tracking.setup_tracking(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_location)
    run_name = cfg.tracking.get("run_name") or f"{prepared.data.name}-{loss_name}-seed{seed}"
    with tracking.mlflow_run(run_name) as active:
        run_id = active.info.run_id
        tracking.log_params(plain(cfg))
        mlflow.set_tags({"loss": loss_name, "data": prepared.data.name, "seed": str(seed)})
        if prepared.completeness is not None:
            mlflow.log_metrics({"blocking_pair_completeness": prepared.completeness, "blocking_candidates": prepared.n_candidates})

        t = time.perf_counter()
        all_pairs = pd.concat([prepared.pairs[s][["left", "right"]] for s in SPLITS], ignore_index=True)
        print(f"[lossmatch] computing {len(training.similarity_map.feature_names)} similarity features for {len(all_pairs):,} pairs ...", flush=True)
        X_all = training.features(all_pairs)
        bounds = np.cumsum([0] + [len(prepared.pairs[s]) for s in SPLITS])
        splits = {s: _labelled(prepared, s, X_all[bounds[i] : bounds[i + 1]]) for i, s in enumerate(SPLITS)}
        mlflow.log_metric("feature_seconds", time.perf_counter() - t)
        for s in SPLITS:
            mlflow.log_metrics({f"{s}_pairs": len(splits[s].y), f"{s}_matches": splits[s].n_pos + splits[s].missed_matches})
        if splits["train"].n_pos == 0:
            raise InputError("the training split has no matching pair: check data.matches and data.blocking")

        from hydra.utils import instantiate

        model = instantiate(cfg.model, n_features=X_all.shape[1], listwise=listwise)
        tr = cfg.trainer
        t = time.perf_counter()
        fit = training.fit(
            model, loss, splits["train"], splits["val"],
            epochs=tr.epochs, batch_size=tr.batch_size, learning_rate=tr.learning_rate,
            class_weight=plain(tr.class_weight), sampling=tr.sampling, sampling_ratio=tr.sampling_ratio,
            validation_weight_epochs=tr.validation_weight_epochs,
            validation_weight_smoothing=tr.validation_weight_smoothing,
            early_stopping_patience=tr.early_stopping_patience, list_size=tr.list_size, seed=seed,
            callbacks=[tracking.MlflowEpochLogger()], verbose=_keras_verbose(tr.verbose),
        )
        mlflow.log_metric("train_seconds", time.perf_counter() - t)
        if fit.prior:
            mlflow.log_metrics({"train_prior": fit.prior[0], "sampled_prior": fit.prior[1]})
        if fit.class_weight:
            tracking.log_metrics({f"class_weight_{k}": v for k, v in fit.class_weight.items()})

        probs = {
            s: training.predict(model, splits[s], listwise=listwise, list_size=tr.list_size, prior=fit.prior)
            for s in SPLITS
        }
        # The threshold comes from validation only; test is evaluated once, at that threshold.
        threshold = M.best_f1_threshold(splits["val"].y, probs["val"], missed_matches=splits["val"].missed_matches)
        evaluations = {
            s: M.evaluate(splits[s].y, probs[s], threshold, missed_matches=splits[s].missed_matches) for s in SPLITS
        }
        for s in SPLITS:
            evaluations[s]["loss"] = training.loss_value(
                model, splits[s], listwise=listwise, list_size=tr.list_size, batch_size=tr.batch_size
            )
            tracking.log_metrics(evaluations[s], prefix=f"{s}_")
        mlflow.log_metric("threshold", threshold)

        # Artifacts: resolved config, similarity map, metrics table, plots, model, export.
        mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        frame = Training.evaluate_dataframe(evaluations["test"], evaluations["train"], val=evaluations["val"])
        metrics_csv = out / "metrics.csv"
        frame.to_csv(metrics_csv, index=False)
        mlflow.log_artifact(str(metrics_csv))
        for name, fig in plots.run_figures(splits["val"].y, probs["val"], threshold, fit.history).items():
            mlflow.log_figure(fig, f"plots/{name}.png")
            plots.close(fig)
        export_dir = training.performance_statistics_export(
            model, "export", out, evaluation_train=evaluations["train"], evaluation_test=evaluations["test"],
            threshold=threshold, blocking=prepared.blocking,
            metadata={"loss": loss_name, "data": prepared.data.name, "mlflow_run_id": run_id},
            overwrite=True,
        )
        mlflow.log_artifacts(str(export_dir), "export")
        if cfg.tracking.get("log_model", True):
            _log_keras_model(model)

        result = {
            "loss": loss_name,
            "threshold": threshold,
            "val": evaluations["val"],
            "test": evaluations["test"],
            "train": evaluations["train"],
            "blocking": {"candidates": prepared.n_candidates, "pair_completeness": prepared.completeness},
            "epochs_run": fit.epochs_run,
            "seconds": round(time.perf_counter() - started, 2),
            "mlflow_run_id": run_id,
            "mlflow_experiment_id": experiment_id,
            "export_dir": str(export_dir),
            "optimized_metric": cfg.get("optimized_metric", "val_f1"),
        }
        with open(out / "metrics.json", "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        mlflow.log_artifact(str(out / "metrics.json"))
    _print_summary(result, cfg.tracking.uri)
    return result


def _keras_verbose(setting):
    """Keras' progress bar on a terminal, one line per epoch in logs and CI."""
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)


def _log_keras_model(model) -> None:
    """Log the model with MLflow's keras flavour, as an inference-only (uncompiled) copy.

    The compiled model carries its lossmatch loss, which Keras can only rebuild
    after ``import lossmatch.losses``; the uncompiled copy has the same weights
    and predictions and loads anywhere with plain Keras (``mlflow.keras.load_model``,
    ``mlflow.pyfunc``). The full compiled model is in the run's ``export/``.
    """
    import keras
    import mlflow.keras
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


def _print_summary(result: dict, uri: str) -> None:
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
    print("\n".join(lines), flush=True)
