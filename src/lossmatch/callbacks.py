"""Keras callbacks of a tracked run: per-epoch metrics to MLflow.

Importing this module imports Keras (quietly, see ``lossmatch.runtime``); only the fit
stage does.
"""

from __future__ import annotations

from lossmatch.runtime import import_keras
from lossmatch.tracking import log_metrics

keras = import_keras()


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


class ValidationF1(keras.callbacks.Callback):
    """Adds ``val_f1`` to every epoch's logs: F1 on validation at its best threshold.

    The same figure the run reports at the end (and a sweep optimises), per epoch: it goes
    to MLflow as ``epoch_val_f1``, into the training-curves plot, and to a sweep's pruner.
    It costs one prediction over the validation pairs per epoch. Place it before the
    callbacks that read it (Keras calls callbacks in order; History comes last).
    """

    def __init__(self, training, val, *, listwise: bool, list_size):
        super().__init__()
        self.training, self.val = training, val
        self.listwise, self.list_size = listwise, list_size

    def on_epoch_end(self, epoch, logs=None):
        from lossmatch import metrics

        if logs is None or self.val.n_pos == 0:
            return
        p = self.training.predict_raw(self.model, self.val, listwise=self.listwise, list_size=self.list_size)
        missed = self.val.missed_matches
        threshold = metrics.best_f1_threshold(self.val.y, p, missed_matches=missed)
        logs["val_f1"] = metrics.evaluate(self.val.y, p, threshold, missed_matches=missed)["f1"]


class TrialPruning(keras.callbacks.Callback):
    """Reports ``val_f1`` (from :class:`ValidationF1`) after every epoch to a sweep's trial
    and stops the fit when the trial's pruner says so.

    F1 is the figure the sweep optimises, so the pruner compares like with like.
    ``pruned_at`` says after which epoch the fit was stopped (``lossmatch.sweep`` then
    records the trial PRUNED).
    """

    def __init__(self, trial):
        super().__init__()
        self.trial = trial
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if not logs or "val_f1" not in logs:
            return
        self.trial.report(logs["val_f1"], step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True
