"""Stage 3, fit: build the loss and the model, seed everything, train on the training split.

This is the first stage that imports TensorFlow (through ``lossmatch.runtime``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lossmatch.errors import InputError
from lossmatch.training import FitResult, SplitData, Training


@dataclass
class Fitted:
    """A trained model with what evaluating and exporting it needs."""

    model: object  # keras.Model
    loss: object  # keras.losses.Loss
    loss_name: str
    listwise: bool
    result: FitResult
    seconds: float


def build_loss(loss_cfg: Mapping) -> tuple[str, object]:
    """Instantiate the loss of the ``loss`` config group; bad parameters become an InputError."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    import lossmatch.losses  # noqa: F401  (imports Keras quietly before Hydra does)

    params = dict(loss_cfg)
    name = params.pop("name", None) or str(params.get("_target_", "loss")).rsplit(".", 1)[-1]
    try:
        return name, instantiate(params)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, (ValueError, TypeError)):
            raise InputError(f"loss={name}: {cause}") from exc
        raise


def fit(config, training: Training, splits: Mapping[str, SplitData], callbacks: Sequence = ()) -> Fitted:
    """Train the configured model with the configured loss; ``callbacks`` are added to Keras'."""
    if getattr(splits["train"], "streamed", False):  # features.streaming: batches from the features file
        from lossmatch.streaming import fit_streamed

        return fit_streamed(config, training, splits, callbacks)

    from lossmatch.callbacks import MlflowEpochLogger
    from lossmatch.runtime import seed_everything

    seed_everything(config.seed)  # same config and seed, same numbers on CPU
    loss_name, loss = build_loss(config.loss)
    listwise = bool(getattr(loss, "expects_lists", False))
    model = build_model(config.model, training, splits["train"].X, listwise=listwise)
    tr = config.trainer
    started = time.perf_counter()
    epoch_logger = MlflowEpochLogger()
    try:
        result = _fit(training, model, loss, splits, tr, config.seed, [epoch_logger, *callbacks])
    finally:  # a pruned trial or an error still leaves its epochs in MLflow
        epoch_logger.flush()
    _log_budget(result)
    return Fitted(model, loss, loss_name, listwise, result, time.perf_counter() - started)


def _fit(training: Training, model, loss, splits: Mapping[str, SplitData], tr, seed: int, callbacks: list):
    return training.fit(
        model, loss, splits["train"], splits["val"],
        max_steps=tr.max_steps, epochs=tr.epochs, min_steps=tr.min_steps,
        validation_every_steps=tr.validation_every_steps, batch_size=tr.batch_size,
        learning_rate=tr.learning_rate, early_stopping_monitor=tr.early_stopping_monitor,
        early_stopping_patience_steps=tr.early_stopping_patience_steps,
        class_weight=tr.class_weight, sampling=tr.sampling, sampling_ratio=tr.sampling_ratio,
        validation_weight_epochs=tr.validation_weight_epochs,
        validation_weight_smoothing=tr.validation_weight_smoothing,
        list_size=tr.list_size, seed=seed, steps_per_execution=tr.steps_per_execution,
        cross_fit=tr.cross_fit,
        # Training.fit puts its validation figures (val_f1, val_pr_auc, val_loss) in the epoch
        # logs before these callbacks read them.
        callbacks=callbacks,
        verbose=keras_verbose(tr.verbose),
    )


def _log_budget(result: FitResult) -> None:
    """How the step budget was spent, beside the run's figures (when a run is tracked)."""
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.log_metrics({"steps_run": result.steps_run, "best_step": result.best_step,
                            "batch_size": result.batch_size})


def build_model(model_cfg: Mapping, training: Training, X_train, *, listwise: bool):
    """The configured network for these features (``Training.fit`` adapts its scaling layer).

    Builders that group features by map key (the attribute model) also get the feature names.
    """
    import inspect

    from hydra.utils import get_object, instantiate

    accepted = inspect.signature(get_object(model_cfg["_target_"])).parameters
    if listwise and "listwise" not in accepted:
        raise InputError(f"model._target_={model_cfg['_target_']} cannot score candidate lists; use model=mlp with this loss")
    extra = {"n_features": X_train.shape[1], "listwise": listwise, "feature_names": list(training.similarity_map.feature_names)}
    return instantiate(model_cfg, **{k: v for k, v in extra.items() if k in accepted}, _convert_="all")


def keras_verbose(setting) -> int:
    """Keras' progress bar on a terminal, one line per epoch in logs and CI."""
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)
