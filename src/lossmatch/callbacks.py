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


class TrialPruning(keras.callbacks.Callback):
    """Reports validation F1 after every epoch to a sweep's trial and stops a pruned trial.

    F1 is the figure the sweep optimises (at the best threshold on validation, as the run
    chooses it), so the pruner compares like with like. The fit ends normally when the trial
    is pruned; ``pruned_at`` says after which epoch (``lossmatch.pipeline`` then records the
    trial PRUNED).
    """

    def __init__(self, trial, training, val, *, listwise: bool, list_size):
        super().__init__()
        self.trial, self.training, self.val = trial, training, val
        self.listwise, self.list_size = listwise, list_size
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        from lossmatch import metrics

        p = self.training.predict_raw(self.model, self.val, listwise=self.listwise, list_size=self.list_size)
        threshold = metrics.best_f1_threshold(self.val.y, p, missed_matches=self.val.missed_matches)
        f1 = metrics.evaluate(self.val.y, p, threshold, missed_matches=self.val.missed_matches)["f1"]
        self.trial.report(f1, step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True
