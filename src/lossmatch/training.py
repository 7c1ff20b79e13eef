"""The Training API: one object per pair of tables, with each step of a matching run.

``Training`` holds the two tables and the similarity map and offers blocking, features,
fitting, prediction, evaluation tables and the export. The command line's pipeline
(``lossmatch.pipeline``) runs its stages through these same methods, so there is one
code path. Keras is imported by the methods that train or predict, not by this module,
so building pairs and features never waits for TensorFlow.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lossmatch.blocking import candidate_pairs
from lossmatch.common import pair_keys, plain
from lossmatch.data.base import positions
from lossmatch.data.checks import check_columns, check_matches_known, check_not_empty, check_unique_ids
from lossmatch.export import load_export, save_export_contents, write_export
from lossmatch.imbalance import correct_prior
from lossmatch.listwise import from_lists, to_lists
from lossmatch.similarity import SimilarityMap

__all__ = ["FitResult", "SplitData", "Training", "TrainingDiverged", "load_export"]

log = logging.getLogger(__name__)

_EVAL_COLUMNS = ["TP", "FP", "TN", "FN", "Loss", "Accuracy", "Recall", "Precision", "F1", "MCC"]


@dataclass
class SplitData:
    """Candidate pairs of one split with their features and labels."""

    pairs: pd.DataFrame  # columns left, right: row positions
    X: np.ndarray
    y: np.ndarray
    missed_matches: int = 0  # true matches of this split that blocking never proposed

    def __post_init__(self):
        if len(self.pairs) != len(self.X) or len(self.X) != len(self.y):
            raise ValueError(f"SplitData: {len(self.pairs)} pairs, {len(self.X)} feature rows and {len(self.y)} labels")

    @property
    def n_pos(self) -> int:
        return int(self.y.sum())


@dataclass
class FitResult:
    history: dict = field(default_factory=dict)
    epochs_run: int = 0
    class_weight: dict | None = None
    prior: tuple[float, float] | None = None  # (true training prior, prior after resampling)


class Training:
    """Train and evaluate a matcher of ``df_left`` against ``df_right``.

    Args:
        similarity_map: a ``SimilarityMap`` or the dict that defines one.
        df_left, df_right: the two tables; each must have its id column with unique ids.
        id_left, id_right: the id column names.
        left_name, right_name: how error messages name the tables (e.g. with their file).
    """

    def __init__(
        self,
        similarity_map,
        df_left: pd.DataFrame,
        df_right: pd.DataFrame,
        id_left: str = "id",
        id_right: str = "id",
        *,
        left_name: str = "left table",
        right_name: str = "right table",
    ):
        if not isinstance(similarity_map, SimilarityMap):
            similarity_map = SimilarityMap.from_dict(similarity_map)
        for df, col, where in ((df_left, id_left, left_name), (df_right, id_right, right_name)):
            check_not_empty(df, where)
            check_columns(df, [col], where)
            check_unique_ids(df, col, where)
        similarity_map.validate(df_left, df_right, left_name=left_name, right_name=right_name)
        self.similarity_map = similarity_map
        self.df_left = df_left.reset_index(drop=True)
        self.df_right = df_right.reset_index(drop=True)
        self.id_left = id_left
        self.id_right = id_right

    # -- pairs ---------------------------------------------------------------
    def matches_reorder(self, matches: pd.DataFrame, matches_id_left: str, matches_id_right: str) -> pd.DataFrame:
        """Row positions (columns ``left``, ``right``) in df_left/df_right of each matching pair."""
        check_columns(matches, [matches_id_left, matches_id_right], "matches")
        left_ids = self.df_left[self.id_left].astype(str)
        right_ids = self.df_right[self.id_right].astype(str)
        ml = matches[matches_id_left].astype(str)
        mr = matches[matches_id_right].astype(str)
        check_matches_known(
            pd.DataFrame({matches_id_left: ml, matches_id_right: mr}),
            matches_id_left, matches_id_right, set(left_ids), set(right_ids), "matches",
        )
        return pd.DataFrame({"left": positions(left_ids, ml), "right": positions(right_ids, mr)}).drop_duplicates(
            ignore_index=True
        )

    def candidate_pairs(self, rules) -> pd.DataFrame:
        """Candidate pairs from recordlinkage indexers (see ``lossmatch.blocking``)."""
        return candidate_pairs(self.df_left, self.df_right, rules)

    def features(self, pairs: pd.DataFrame, *, progress: bool | None = None) -> np.ndarray:
        return self.similarity_map.transform(
            self.df_left, self.df_right, pairs["left"].to_numpy(), pairs["right"].to_numpy(), progress=progress
        )

    @staticmethod
    def labels(pairs: pd.DataFrame, matches: pd.DataFrame, n_right: int) -> np.ndarray:
        """1 for candidate pairs that are known matches, else 0."""
        return np.isin(pair_keys(pairs, n_right), pair_keys(matches, n_right)).astype(np.float32)

    # -- fitting -------------------------------------------------------------
    def fit(
        self,
        model,
        loss,
        train: SplitData,
        val: SplitData,
        *,
        epochs: int = 10,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        class_weight=None,
        sampling: str = "none",
        sampling_ratio: float = 0.5,
        validation_weight_epochs: int = 2,
        validation_weight_smoothing: float = 1.0,
        early_stopping_patience: int = 0,
        list_size: int | None = 32,
        seed: int = 0,
        steps_per_execution: int = 1,
        callbacks: Sequence = (),
        verbose="auto",
    ) -> FitResult:
        """Compile ``model`` with ``loss`` and fit it on ``train``, validating on ``val``.

        ``class_weight``: None/"none", "balanced", "validation" (train
        ``validation_weight_epochs`` epochs, measure per-class log loss on
        validation, then continue with those weights) or a mapping {0: w0, 1: w1}.
        ``sampling`` resamples the training split only; predictions are then
        corrected back to the true prior in ``predict``. A loss that turns NaN or
        infinite stops training with :class:`TrainingDiverged`.

        ``steps_per_execution`` runs that many optimizer steps per call into TensorFlow
        (the same steps in the same order: same weights, less Python overhead per step for
        small models). Prediction goes back to one batch per call afterwards, where
        larger executions only add padding work.
        """
        from lossmatch import imbalance
        from lossmatch.runtime import import_keras

        keras = import_keras()

        listwise = bool(getattr(loss, "expects_lists", False))
        # Area under the precision-recall curve per epoch: threshold-free, and what matters
        # under heavy imbalance (ROC AUC looks good even for poor matchers). Lists carry
        # -1 padding labels, which AUC cannot take, so listwise training tracks the loss only.
        metrics = [] if listwise else [keras.metrics.AUC(curve="PR", name="pr_auc")]
        optimizer = keras.optimizers.Adam(learning_rate)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, steps_per_execution=steps_per_execution)
        X, y = train.X, train.y
        result = FitResult()
        if sampling and sampling != "none":
            prior = float(y.mean())
            X, y = imbalance.resample(X, y, sampling, sampling_ratio, seed)
            result.prior = (prior, float(np.mean(y)))
        weight = _initial_class_weight(class_weight, y)
        cbs = [_non_finite_guard(keras), *callbacks]
        if early_stopping_patience:
            cbs.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(early_stopping_patience), restore_best_weights=True)
            )
        Xt, yt, _ = _model_inputs(train.pairs, X, y, listwise, list_size)
        Xv, yv, _ = _model_inputs(val.pairs, val.X, val.y, listwise, list_size)
        fit_kwargs = dict(batch_size=batch_size, validation_data=(Xv, yv), verbose=verbose, shuffle=True)
        first_epochs = epochs
        if class_weight == "validation":
            first_epochs = min(int(validation_weight_epochs), epochs)
        history = model.fit(Xt, yt, epochs=first_epochs, class_weight=weight, callbacks=cbs, **fit_kwargs)
        _merge_history(result.history, history.history)
        if class_weight == "validation" and first_epochs < epochs:
            p_val = self.predict(model, val, listwise=listwise, list_size=list_size)
            w = imbalance.validation_class_weights(val.y, p_val, smoothing=validation_weight_smoothing)
            weight = {0: float(w[0]), 1: float(w[1])}
            log.info("validation class weights: %s", weight)
            for cb in cbs:
                if hasattr(cb, "step_offset"):
                    cb.step_offset = first_epochs
            history = model.fit(
                Xt, yt, epochs=epochs - first_epochs, class_weight=weight, callbacks=cbs, **fit_kwargs
            )
            _merge_history(result.history, history.history)
        if steps_per_execution != 1:
            # Same optimizer object and state; the saved model predicts one batch per call.
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        result.class_weight = weight
        result.epochs_run = len(result.history.get("loss", []))
        return result

    def predict(
        self,
        model,
        split: SplitData,
        *,
        listwise: bool = False,
        list_size: int | None = 32,
        batch_size: int = 4096,
        prior: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """Match probabilities for the pairs of ``split`` (prior-corrected after resampling)."""
        p = self.predict_raw(model, split, listwise=listwise, list_size=list_size, batch_size=batch_size)
        return correct_prior(p, *prior) if prior is not None else p

    def predict_raw(
        self, model, split: SplitData, *, listwise: bool = False, list_size: int | None = 32, batch_size: int = 4096
    ) -> np.ndarray:
        """The model's own outputs for the pairs of ``split``, one per pair (float64)."""
        if len(split.y) == 0:
            return np.zeros(0, dtype=np.float64)
        if getattr(split, "streamed", False):  # features in a file (lossmatch.streaming.StreamedSplit)
            return split.predict(model)
        X, _, index = _model_inputs(split.pairs, split.X, split.y, listwise, list_size)
        p = predict_in_batches(model, X, batch_size)
        p = from_lists(p, index, len(split.y)) if listwise else p.reshape(-1)
        return np.asarray(p, dtype=np.float64)

    def loss_value(
        self, model, split: SplitData, *, outputs: np.ndarray | None = None, listwise: bool = False,
        list_size: int | None = 32,
    ) -> float:
        """The compiled loss over all pairs of ``split`` (NaN for an empty split).

        ``outputs`` are the model's raw outputs for the split (``predict_raw``); given, they
        are reused rather than running the model again. The loss is taken over the whole
        split at once: for per-pair losses that is the mean over pairs (what
        ``model.evaluate`` reports); for the batch-level soft-count losses it is the soft
        score of the whole split rather than an average over batches.
        """
        if len(split.y) == 0:
            return math.nan
        if outputs is None:
            outputs = self.predict_raw(model, split, listwise=listwise, list_size=list_size)
        if listwise:
            y, p, _ = to_lists(split.pairs["left"].to_numpy(), outputs.astype(np.float32), split.y, list_size=list_size)
        else:
            y, p = split.y.reshape(-1, 1), outputs.astype(np.float32).reshape(-1, 1)
        return float(model.loss(y, p))

    # -- reporting -----------------------------------------------------------
    @staticmethod
    def evaluate_dataframe(evaluation_test: Mapping, evaluation_train: Mapping, **more: Mapping) -> pd.DataFrame:
        """One row per data set ("test", "train", then any ``more``) with columns
        data, TP, FP, TN, FN, Loss, Accuracy, Recall, Precision, F1, MCC, timestamp.

        An evaluation is a mapping such as ``lossmatch.metrics.evaluate`` returns
        (lower-case keys) or with the column names themselves; missing figures are NaN.
        """
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        rows = []
        for name, ev in (("test", evaluation_test), ("train", evaluation_train), *more.items()):
            if not ev:
                continue
            lower = {str(k).lower(): v for k, v in ev.items()}
            row = {"data": name}
            for col in _EVAL_COLUMNS:
                row[col] = lower.get(col.lower(), math.nan)
            row["timestamp"] = stamp
            rows.append(row)
        return pd.DataFrame(rows, columns=["data", *_EVAL_COLUMNS, "timestamp"])

    def performance_statistics_export(
        self,
        model,
        model_name: str,
        target_directory,
        evaluation_train: Mapping | None = None,
        evaluation_test: Mapping | None = None,
        *,
        threshold: float = 0.5,
        blocking=None,
        metadata: Mapping | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write ``target_directory/model_name/``: model, similarity map (dill and YAML),
        decision threshold and blocking (export.yaml) and, when evaluations are
        given, metrics.csv. Atomic; refuses to replace an export unless ``overwrite``."""
        evaluation_train = evaluation_train or {}
        evaluation_test = evaluation_test or {}
        meta = {
            "threshold": float(threshold),
            "blocking": plain(blocking),
            "id_left": self.id_left,
            "id_right": self.id_right,
            "feature_names": list(self.similarity_map.feature_names),
            "listwise": bool(getattr(model.loss, "expects_lists", False)),
            **dict(metadata or {}),
        }

        def contents(tmp: Path) -> None:
            save_export_contents(tmp, model, self.similarity_map, meta)
            if evaluation_train or evaluation_test:
                self.evaluate_dataframe(evaluation_test, evaluation_train).to_csv(tmp / "metrics.csv", index=False)

        return write_export(Path(target_directory) / model_name, overwrite=overwrite, write_contents=contents)


def _model_inputs(pairs: pd.DataFrame, X: np.ndarray, y: np.ndarray, listwise: bool, list_size: int | None):
    """What the model is fed: rows and (n, 1) labels, or candidate lists per left record
    (with the row index of each list item, to map list outputs back to pairs)."""
    if listwise:
        return to_lists(pairs["left"].to_numpy(), X, y, list_size=list_size)
    return X, y.reshape(-1, 1), None


def predict_in_batches(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    """``model.predict(X, batch_size=batch_size)`` without its ``tf.data`` pipeline.

    The same batches in the same order through the same predict function, so the same
    numbers; ``model.predict`` builds a dataset and an iterator on every call, which cost
    0.2-0.4 s each time (per epoch for the validation F1, three times per evaluation).
    Memory stays bounded by one batch of outputs at a time plus the result.
    """
    outputs = [np.asarray(model.predict_on_batch(X[start:start + batch_size]))
               for start in range(0, len(X), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, 1), dtype=np.float32)


def _initial_class_weight(class_weight, y) -> dict | None:
    from lossmatch import imbalance

    if class_weight in (None, "none", "validation"):
        return None
    if class_weight == "balanced":
        return imbalance.balanced_class_weights(y.astype(int))
    return imbalance.check_class_weight_mapping(class_weight)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite: the run stops rather than train on garbage."""


def _non_finite_guard(keras):
    """A callback that raises :class:`TrainingDiverged` at the first non-finite batch loss.

    Keras' own ``TerminateOnNaN`` only stops the loop quietly, which would let a useless
    model be evaluated and exported as if it had trained.
    """

    class NonFiniteLossGuard(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                # The optimizer's own count: Keras' batch index is the end of a block of
                # steps_per_execution steps, not the step that diverged.
                steps = int(self.model.optimizer.iterations)
                raise TrainingDiverged(
                    f"training loss became {float(loss)} in epoch {self.epoch + 1}, after {steps} optimizer "
                    f"step{'s' if steps != 1 else ''}: lower trainer.learning_rate or check the loss parameters"
                )

    return NonFiniteLossGuard()


def _merge_history(into: dict, new: Mapping) -> None:
    for k, v in new.items():
        into.setdefault(k, []).extend(float(x) for x in v)
