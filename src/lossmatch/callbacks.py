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
