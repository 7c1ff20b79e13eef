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
    steps_run: int = 0
    best_step: int = 0  # optimizer steps at the end of the epoch whose weights were kept
    batch_size: int = 0
    # Cross-fitting only: the threshold chosen on out-of-fold probabilities of train + valid,
    # and the validation pairs' out-of-fold probabilities (what evaluation reports for them).
    threshold: float | None = None
    validation_probabilities: np.ndarray | None = None


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
        max_steps: int | None = 4000,
        epochs: int | None = None,
        min_steps: int = 0,
        validation_every_steps: int | None = 100,
        batch_size: int | str = "auto",
        learning_rate: float = 1e-3,
        early_stopping_monitor: str = "val_pr_auc",
        early_stopping_patience_steps: int = 0,
        class_weight=None,
        sampling: str = "none",
        sampling_ratio: float = 0.5,
        validation_weight_epochs: int = 2,
        validation_weight_smoothing: float = 1.0,
        list_size: int | None = 32,
        seed: int = 0,
        steps_per_execution: int = 1,
        cross_fit: bool = False,
        callbacks: Sequence = (),
        verbose="auto",
    ) -> FitResult:
        """Compile ``model`` with ``loss`` and train it on ``train`` for a budget of optimizer steps.

        The budget is ``max_steps`` optimizer steps and/or ``epochs`` epochs, whichever ends
        first. An epoch is ``validation_every_steps`` steps drawn from the training pairs,
        reshuffled at every pass (None: one pass, ceil(pairs / batch) steps), run in executions
        of up to ``steps_per_execution`` steps that divide it. After each epoch the model
        is scored on ``val`` (``val_loss``, ``val_pr_auc``, ``val_f1`` in the epoch's logs,
        :class:`lossmatch.callbacks.ValidationFigures`); the weights of the epoch with the best
        ``early_stopping_monitor`` are restored at the end, and training stops once
        ``min_steps`` are done and that figure has not improved for
        ``early_stopping_patience_steps`` steps (0: train the whole budget). ``batch_size="auto"``
        takes :func:`auto_batch_size` of the training split.

        A scaling layer in front of the network (``lossmatch.scaling``) is adapted on the
        training features and applied to them once; the optimizer then trains the network alone
        on the scaled features (the rank transform would otherwise run at every step). An
        ensemble (``lossmatch.model_ensemble``) trains each member with ``loss`` on its own
        output and is validated on their average. ``model`` itself, the one that is exported,
        keeps taking raw features and is compiled with ``loss`` at the end.

        ``cross_fit=True`` (an ensemble of K members only) trains on train + valid together:
        the pairs are split into K folds (stratified by label, seeded) and member k never sees
        fold k. Each pair's out-of-fold probability comes from the member that did not train on
        it; early stopping and the decision threshold (``FitResult.threshold``) use those over
        all train + valid pairs, and the validation pairs' out-of-fold probabilities are
        ``FitResult.validation_probabilities`` (honest validation figures). Every member
        trains on (K-1)/K of train + valid, more than the training split alone, and the
        threshold rests on all their positives rather than the validation split's few.

        ``class_weight``: None/"none", "balanced", "validation" (train
        ``validation_weight_epochs`` epochs, measure per-class log loss on
        validation, then continue with those weights) or a mapping {0: w0, 1: w1}; the weights
        are applied as per-pair sample weights. ``sampling`` resamples the training split only;
        predictions are then corrected back to the true prior in ``predict``. A loss that turns
        NaN or infinite stops training with :class:`TrainingDiverged`.
        """
        from lossmatch import imbalance
        from lossmatch.callbacks import BestEpoch, ValidationFigures
        from lossmatch.model_ensemble import split_members
        from lossmatch.runtime import import_keras
        from lossmatch.scaling import adapt_scaling, scale_features, split_scaling

        keras = import_keras()

        listwise = bool(getattr(loss, "expects_lists", False))
        scaling, network = split_scaling(model)
        members = split_members(network)
        fit_model = members if members is not None else network
        n_outputs = len(fit_model.outputs)
        result = FitResult()
        if cross_fit:
            _check_cross_fit(n_outputs, listwise, sampling, class_weight)
            X = np.concatenate([train.X, val.X])
            y = np.concatenate([train.y, val.y])
            folds = cross_fit_folds(y, n_outputs, seed)
        else:
            X, y = train.X, train.y
        # The scaling is fitted on the training pairs as they are (before any resampling).
        adapt_scaling(model, X)
        if sampling and sampling != "none":
            prior = float(y.mean())
            X, y = imbalance.resample(X, y, sampling, sampling_ratio, seed)
            result.prior = (prior, float(np.mean(y)))
        weight = _initial_class_weight(class_weight, y)
        if cross_fit:
            Xt, yt = X, y.reshape(-1, 1)
            Xv, yv, index_v = Xt, y, None
        else:
            Xt, yt, _ = _model_inputs(train.pairs, X, y, listwise, list_size)
            Xv, yv, index_v = _model_inputs(val.pairs, val.X, val.y, listwise, list_size)
        if scaling is not None:
            Xt = scale_features(scaling, Xt)
            Xv = Xt if cross_fit else scale_features(scaling, Xv)
        batch = auto_batch_size(len(Xt)) if batch_size == "auto" else int(batch_size)
        epoch_steps, execution = epoch_length(len(Xt), batch, validation_every_steps, steps_per_execution)
        n_epochs = budget_epochs(epoch_steps, max_steps, epochs)
        optimizer = keras.optimizers.Adam(learning_rate)
        # An ensemble's members each learn from the loss on their own output (the same as
        # training them apart, with shared batches); 1/K keeps the loss on the run's scale.
        fit_model.compile(
            optimizer=optimizer, loss=[loss] * n_outputs if n_outputs > 1 else loss,
            loss_weights=[1.0 / n_outputs] * n_outputs if n_outputs > 1 else None, steps_per_execution=execution,
        )
        _build_optimizer(optimizer, fit_model.trainable_variables)
        if cross_fit:
            # Each pair is scored by the member that never trained on it: out-of-fold figures
            # over train + valid, many more positives than the validation split alone.
            validation = ValidationFigures(lambda: _out_of_fold(members, Xt, folds), y, loss)
        else:
            validation = ValidationFigures(_scorer(network, Xv, index_v, len(val.y)), val.y, loss,
                                           missed_matches=val.missed_matches,
                                           lists=(yv, network, Xv) if listwise else None)
        best = BestEpoch(network, early_stopping_monitor, steps_per_epoch=epoch_steps, min_steps=min_steps,
                         patience_steps=early_stopping_patience_steps)
        # Validation first: it puts val_* in the epoch logs that the others read.
        cbs = [_non_finite_guard(keras), validation, best, *callbacks]

        def run(weights, first_epoch: int, last_epoch: int):
            sample_weight = _sample_weights(yt, weights, folds if cross_fit else None, n_outputs, listwise)
            data = _training_dataset(Xt, yt, sample_weight, batch, seed=seed, outputs=n_outputs)
            history = fit_model.fit(data, epochs=last_epoch, initial_epoch=first_epoch, steps_per_epoch=epoch_steps,
                                    shuffle=False, callbacks=cbs, verbose=verbose)  # the dataset shuffles
            _merge_history(result.history, history.history)

        first_epochs = n_epochs
        if class_weight == "validation":
            first_epochs = min(int(validation_weight_epochs), n_epochs)
        run(weight, 0, first_epochs)
        if class_weight == "validation" and first_epochs < n_epochs and not fit_model.stop_training:
            p_val = validation.predict()
            w = imbalance.validation_class_weights(val.y, p_val, smoothing=validation_weight_smoothing)
            weight = {0: float(w[0]), 1: float(w[1])}
            log.info("validation class weights: %s", weight)
            run(weight, first_epochs, n_epochs)
        best.restore()
        if cross_fit:
            from lossmatch.metrics import best_f1_threshold

            oof = validation.predict()
            result.threshold = best_f1_threshold(y, oof)
            result.validation_probabilities = oof[len(train.y):]
        # The exported model: raw features in, the run's loss compiled, one batch per predict call.
        model.compile(optimizer=optimizer, loss=loss)
        result.class_weight = weight
        result.epochs_run = len(result.history.get("loss", []))
        result.steps_run = result.epochs_run * epoch_steps
        result.best_step = (best.best_epoch + 1) * epoch_steps if best.best_epoch is not None else result.steps_run
        result.batch_size = batch
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


def auto_batch_size(n_train: int) -> int:
    """The power of two nearest ``n_train / 64``, clipped to [16, 256].

    About 64 optimizer steps per pass on a small set (268 pairs: batch 16, 17 steps per
    pass), 256 on large ones, where a bigger batch only costs more time per step.
    """
    return int(np.clip(2 ** round(math.log2(max(n_train, 1) / 64)), 16, 256))


def epoch_length(n_train: int, batch_size: int, validation_every_steps: int | None, steps_per_execution: int):
    """``(steps per epoch, steps per execution)``: ``validation_every_steps`` (None: one pass,
    ceil(n / batch)), run in executions of the largest divisor of it up to ``steps_per_execution``.

    Keras runs whole executions on an endless dataset, so an execution that does not divide the
    epoch would silently run more steps than the epoch counts; a divisor keeps every setting of
    ``steps_per_execution`` on the same steps (and the same weights).
    """
    steps = int(validation_every_steps or max(1, math.ceil(n_train / batch_size)))
    execution = max(d for d in range(1, max(1, min(int(steps_per_execution), steps)) + 1) if steps % d == 0)
    return steps, execution


def budget_epochs(epoch_steps: int, max_steps: int | None, epochs: int | None) -> int:
    """Epochs to run: enough for ``max_steps`` (the epoch that reaches it runs whole), at most ``epochs``."""
    if max_steps is None and epochs is None:
        raise ValueError("Training.fit: max_steps and epochs are both None; set a budget")
    by_steps = math.ceil(max_steps / epoch_steps) if max_steps is not None else math.inf
    return int(min(by_steps, epochs if epochs is not None else math.inf))


def cross_fit_folds(y, k: int, seed: int) -> np.ndarray:
    """Fold 0..k-1 of each pair: positives and negatives each dealt round-robin in a seeded
    random order, so every fold holds the same share of matches."""
    y = np.asarray(y).reshape(-1)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        where = np.flatnonzero(y == label)
        folds[rng.permutation(where)] = np.arange(len(where)) % k
    return folds


def _check_cross_fit(n_members: int, listwise: bool, sampling, class_weight) -> None:
    from lossmatch.errors import InputError

    if n_members < 2:
        raise InputError("trainer.cross_fit needs an ensemble of at least 2 members (model=ensemble, model.members)")
    if listwise:
        raise InputError("trainer.cross_fit cannot train on candidate lists (loss=pairwise_soft_zero_one)")
    if (sampling or "none") != "none" or class_weight == "validation":
        raise InputError("trainer.cross_fit needs trainer.sampling=none and a class_weight other than validation")


def _out_of_fold(members, X, folds: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Each row's probability from the member of its own fold (the one that never trained on it)."""
    from lossmatch.runtime import import_keras

    keras = import_keras()
    p = np.empty(len(X), dtype=np.float64)
    for start in range(0, len(X), chunk):
        outs = members(X[start:start + chunk], training=False)
        stacked = np.concatenate([keras.ops.convert_to_numpy(o).reshape(-1, 1) for o in outs], axis=1)
        rows = np.arange(len(stacked))
        p[start:start + chunk] = stacked[rows, folds[start:start + chunk]]
    return p


def _scorer(network, X, list_index, n_pairs: int, chunk: int = 65536):
    """A function giving ``network``'s probability for each pair of ``X`` (a direct call, in chunks:
    ``model.predict`` builds a dataset every time, slow for many small validations)."""
    from lossmatch.runtime import import_keras

    keras = import_keras()

    def score() -> np.ndarray:
        parts = [keras.ops.convert_to_numpy(network(X[i:i + chunk], training=False)) for i in range(0, len(X), chunk)]
        out = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
        if list_index is not None:
            return np.asarray(from_lists(out, list_index, n_pairs), dtype=np.float64)
        return out.reshape(-1).astype(np.float64)

    return score


def _build_optimizer(optimizer, variables) -> None:
    """Make the optimizer's slot variables now (zeros, as Keras would make them in the first step).

    Made inside the first traced training step instead, they make TensorFlow trace that step
    twice (a tf.function that creates variables is traced again without): about 0.4 s a run.
    """
    optimizer.build(variables)


def _sample_weights(y, class_weight: dict | None, folds: np.ndarray | None, outputs: int, listwise: bool):
    """Per-pair weights, one column per output, or None: class weights (what Keras' ``class_weight``
    does, written out so that it also works for several outputs), times 0 for a cross-fitted
    member's held-out fold."""
    if listwise or (not class_weight and folds is None):
        return None
    labels = np.asarray(y).reshape(len(y), -1)[:, 0].astype(int)
    w = np.ones(len(labels), dtype=np.float32)
    if class_weight:
        w = np.array([class_weight.get(k, 1.0) for k in (0, 1)], dtype=np.float32)[labels]
    columns = np.repeat(w[:, None], outputs, axis=1)
    if folds is not None:
        columns[folds[:, None] == np.arange(outputs)[None, :]] = 0.0
    return columns


def _training_dataset(X, y, sample_weight, batch_size: int, *, seed: int, outputs: int = 1):
    """An endless tf.data stream of shuffled training batches (reshuffled at every pass).

    Pair indices are shuffled and gathered, not the rows themselves, so the shuffle buffer
    holds integers. ``sample_weight`` has one column per output (or is None). Batches are
    taken after the repeat, so every batch is full, which the soft-count losses prefer.
    """
    import tensorflow as tf

    n = len(X)
    X_t, y_t = tf.constant(X, dtype=tf.float32), tf.constant(y, dtype=tf.float32)
    w_t = None if sample_weight is None else tf.constant(sample_weight, dtype=tf.float32)

    def gather(index):
        x, target = tf.gather(X_t, index), tf.gather(y_t, index)
        targets = (target,) * outputs if outputs > 1 else target
        if w_t is None:
            return x, targets
        w = tf.gather(w_t, index)
        return x, targets, (tuple(w[:, k] for k in range(outputs)) if outputs > 1 else w[:, 0])

    index = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    return index.batch(batch_size).map(gather).prefetch(2)


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
