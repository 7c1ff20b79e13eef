"""Training and prediction straight from a features file (``features.streaming=true``).

With streaming, the features stage writes every pair's features chunk by chunk to one
Parquet file (:mod:`lossmatch.feature_store`, cached like the in-memory matrix) and each
split is a :class:`StreamedSplit`: its pairs and labels in memory (16 bytes a pair),
its features read back through ``tf.data`` in row groups. :func:`fit_streamed` is the fit
stage for such splits: the same loss, model, callbacks and Keras loop as
``lossmatch.stages.fit.fit``, fed by :func:`lossmatch.feature_store.tf_dataset`.

Results do not depend on ``features.chunk_size``: the file's content and row groups are
the same for every chunk size, and so are the batches read from it. They differ from the
in-memory path's (another shuffling order), as two seeds would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossmatch.feature_store import FeatureFile, predict_file

__all__ = ["SCALING_SAMPLE", "StreamedSplit", "fit_streamed", "scaling_sample"]

# A model's scaling layer is adapted on at most this many training rows (evenly spaced):
# 1,000,000 rows x 29 features are 116 MB, where every training row may not fit.
SCALING_SAMPLE = 1_000_000


@dataclass
class StreamedSplit:
    """One split of a run whose features live in a file: the ``rows`` (a boolean mask over the
    file) that belong to it, with their pairs, labels and missed matches in memory."""

    pairs: pd.DataFrame
    y: np.ndarray
    file: FeatureFile
    rows: np.ndarray
    missed_matches: int = 0
    streamed = True  # what Training.predict_raw and the fit stage ask

    def __post_init__(self):
        if len(self.pairs) != len(self.y) or int(self.rows.sum()) != len(self.y):
            raise ValueError(f"StreamedSplit: {len(self.pairs)} pairs, {len(self.y)} labels, {int(self.rows.sum())} rows")

    @property
    def n_pos(self) -> int:
        return int(self.y.sum())

    def predict(self, model, *, batch_size: int = 8192) -> np.ndarray:
        """The model's outputs for this split's rows, in file order (float64, as ``predict_raw``)."""
        return predict_file(model, self.file, batch_size=batch_size, rows=self.rows).astype(np.float64)

    def dataset(self, *, batch_size: int, shuffle: bool = False, seed: int = 0):
        """``(features, labels)`` batches of this split's rows (``lossmatch.feature_store.tf_dataset``)."""
        from lossmatch.feature_store import tf_dataset

        return tf_dataset(self.file, batch_size=batch_size, shuffle=shuffle, seed=seed, rows=self.rows)


def scaling_sample(split: StreamedSplit, limit: int = SCALING_SAMPLE) -> np.ndarray:
    """The split's features (all of them, or ``limit`` evenly spaced rows) to adapt a scaling layer on."""
    chosen = np.flatnonzero(split.rows)
    if len(chosen) > limit:
        chosen = chosen[np.linspace(0, len(chosen) - 1, limit).astype(np.int64)]
    mask = np.zeros(len(split.file), dtype=bool)
    mask[chosen] = True
    blocks = [X for X, _ in split.file.blocks(labels=False, rows=mask)]
    return np.concatenate(blocks) if blocks else np.zeros((0, len(split.file.feature_names)), np.float32)


def fit_streamed(config, training, splits: Mapping[str, StreamedSplit], callbacks: Sequence = ()):
    """``lossmatch.stages.fit.fit`` for streamed splits: Keras reads batches from the features file."""
    from lossmatch.callbacks import BestEpoch, MlflowEpochLogger, ValidationFigures
    from lossmatch.runtime import import_keras, seed_everything
    from lossmatch.stages.fit import Fitted, build_loss, build_model, keras_verbose
    from lossmatch.training import (
        FitResult,
        _build_optimizer,
        _initial_class_weight,
        _merge_history,
        _non_finite_guard,
        auto_batch_size,
        budget_epochs,
    )

    keras = import_keras()
    seed_everything(config.seed)
    loss_name, loss = build_loss(config.loss)
    train, val = splits["train"], splits["val"]
    model = build_model(config.model, training, scaling_sample(train), listwise=False)
    tr = config.trainer
    started = time.perf_counter()
    optimizer = keras.optimizers.Adam(tr.learning_rate)
    metrics = [keras.metrics.AUC(curve="PR", name="pr_auc")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, steps_per_execution=tr.steps_per_execution)
    _build_optimizer(optimizer, model.trainable_variables)
    # The trainer's step budget in whole passes over the file (a pass of a large file is long,
    # so the epoch is the pass): enough passes for max_steps, at most trainer.epochs; early
    # stopping (BestEpoch, as the in-memory trainer) counts min_steps and patience in steps.
    batch_size = auto_batch_size(len(train.y)) if tr.batch_size == "auto" else int(tr.batch_size)
    pass_steps = max(1, math.ceil(len(train.y) / batch_size))
    epochs = budget_epochs(pass_steps, tr.max_steps, tr.epochs)
    best = BestEpoch(model, tr.early_stopping_monitor, steps_per_epoch=pass_steps, min_steps=tr.min_steps,
                     patience_steps=tr.early_stopping_patience_steps)
    figures = ValidationFigures(lambda: val.predict(model).reshape(-1), val.y, loss, missed_matches=val.missed_matches)
    epoch_logger = MlflowEpochLogger()
    cbs = [_non_finite_guard(keras), figures, best, epoch_logger, *callbacks]
    weight = _initial_class_weight(tr.class_weight, train.y)
    try:
        history = model.fit(
            train.dataset(batch_size=batch_size, shuffle=True, seed=config.seed), epochs=epochs,
            class_weight=weight, callbacks=cbs,
            verbose=keras_verbose(tr.verbose), shuffle=False,  # the dataset shuffles, seeded, per epoch
        )
    finally:  # a pruned trial or an error still leaves its epochs in MLflow
        epoch_logger.flush()
    best.restore()
    if tr.steps_per_execution != 1:  # as Training.fit: the saved model predicts one batch per call
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    result = FitResult(class_weight=weight, batch_size=batch_size)
    _merge_history(result.history, history.history)
    result.epochs_run = len(result.history.get("loss", []))
    result.steps_run = int(optimizer.iterations)
    result.best_step = ((best.best_epoch + 1) * pass_steps) if best.best_epoch is not None else result.steps_run
    return Fitted(model, loss, loss_name, False, result, time.perf_counter() - started)
