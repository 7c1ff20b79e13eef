"""Keras callbacks of a run: validation figures and early stopping per epoch, per-epoch metrics to MLflow.

Importing this module imports Keras (quietly, see ``lossmatch.runtime``); only the fit
stage does.
"""

from __future__ import annotations

import time

import numpy as np

from lossmatch.runtime import import_keras
from lossmatch.tracking import finite_metrics

keras = import_keras()


class MlflowEpochLogger(keras.callbacks.Callback):
    """Logs every Keras epoch's metrics (``loss``, ``val_loss``, ...) to the active MLflow run.

    Epochs are sent in batches, at most ``flush_seconds`` apart and when training ends (call
    :meth:`flush` in a ``finally`` too, as an exception skips ``on_train_end``): a SQLite
    transaction per epoch cost 25-45 ms, a quarter to half of a 100-step epoch of a small
    network, where one batch of 15 epochs costs 35 ms. Each metric keeps its epoch's time.
    ``step_offset`` lets a second training phase (e.g. after validation class weights)
    continue the epoch axis instead of restarting at 0.
    """

    def __init__(self, step_offset: int = 0, flush_seconds: float = 10.0):
        super().__init__()
        self.step_offset, self.flush_seconds = step_offset, flush_seconds
        self._pending: list = []
        self._run_id: str | None = None
        self._last_flush = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        import mlflow
        from mlflow.entities import Metric

        run = mlflow.active_run()
        # Without an active run (the Training API on its own) there is nowhere to log to.
        if not logs or run is None:
            return
        if run.info.run_id != self._run_id:
            self.flush()
            self._run_id = run.info.run_id
        now = int(time.time() * 1000)
        step = self.step_offset + epoch
        self._pending += [Metric(k, v, now, step) for k, v in finite_metrics(logs, "epoch_").items()]
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def on_train_end(self, logs=None):
        self.flush()

    def flush(self) -> None:
        """Send the epochs not logged yet, in one batch."""
        if self._pending:
            from mlflow import MlflowClient

            client = MlflowClient()
            for start in range(0, len(self._pending), 1000):  # MLflow takes 1,000 metrics per batch
                client.log_batch(self._run_id, metrics=self._pending[start : start + 1000])
        self._pending = []
        self._last_flush = time.monotonic()


class ValidationFigures(keras.callbacks.Callback):
    """Puts ``val_loss``, ``val_pr_auc`` and ``val_f1`` in every epoch's logs, from one prediction.

    ``val_f1`` is F1 at the best threshold and ``val_pr_auc`` the average precision, both
    counting the matches blocking missed, and ``val_loss`` is ``loss`` over all the pairs at
    once: the figures the run reports at the end (and a sweep optimises), per epoch. They go to
    MLflow as ``epoch_val_*``, into the training-curves plot, to early stopping
    (:class:`BestEpoch`) and to a sweep's pruner. Place it before the callbacks that read them
    (Keras calls callbacks in order; History comes last).

    Args:
        score: returns one probability per validation pair (the trainer's closure over the
            network after any scaling, an ensemble's average, or out-of-fold probabilities).
        y_val: their labels.
        loss: the run's loss.
        lists: for a listwise loss, ``(list labels, network, list inputs)``: the loss is taken
            over the candidate lists, as in training.
    """

    def __init__(self, score, y_val, loss, *, missed_matches: int = 0, lists=None):
        super().__init__()
        self.score, self.y_val, self.loss = score, np.asarray(y_val), loss
        self.missed, self.lists = int(missed_matches), lists

    def predict(self) -> np.ndarray:
        """One probability per validation pair."""
        return self.score()

    def figures(self) -> dict[str, float]:
        from lossmatch import metrics

        p = self.score()
        if self.lists is not None:
            y_lists, network, X_lists = self.lists
            loss = float(self.loss(y_lists, network(X_lists, training=False)))
        else:
            loss = float(self.loss(self.y_val.reshape(-1, 1).astype(np.float32), p.reshape(-1, 1).astype(np.float32)))
        figures = {"val_loss": loss}
        if self.y_val.sum() > 0:
            best = metrics.epoch_figures(self.y_val, p, missed_matches=self.missed)
            figures["val_pr_auc"], figures["val_f1"] = best["pr_auc"], best["f1"]
        return figures

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.figures())


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on a validation figure, budgeted in optimizer steps, best weights kept.

    After each epoch (``steps_per_epoch`` optimizer steps) the ``monitor`` figure of the logs
    (``val_pr_auc`` and ``val_f1``: higher is better; ``val_loss``: lower) is compared with the
    best so far; a tie on ``val_pr_auc`` or ``val_f1`` (common once validation is ranked
    perfectly) goes to the lower ``val_loss``. The network's weights at the best epoch are kept,
    and :meth:`restore` puts them back. Training stops once ``min_steps`` steps are done and
    the monitored figure has not improved for ``patience_steps`` steps (0: never early); a tie
    won on ``val_loss`` changes the weights kept but does not extend the patience, so a
    perfectly ranked validation split does not keep training for ever-smaller losses.

    Written here rather than with ``keras.callbacks.EarlyStopping``: that one either tracks the
    best from the start or waits ``start_from_epoch`` without tracking, and restores only at the
    end of a ``fit`` call, whereas a run with validation class weights trains in two calls.
    ``monitor="none"`` keeps the last weights.
    """

    def __init__(self, network, monitor: str, *, steps_per_epoch: int, min_steps: int = 0, patience_steps: int = 0,
                 min_delta: float = 1e-6):
        super().__init__()
        if monitor not in ("val_pr_auc", "val_f1", "val_loss", "none"):
            raise ValueError(f"early stopping monitor must be val_pr_auc, val_f1, val_loss or none, got {monitor!r}")
        self.network, self.monitor = network, monitor
        self.steps_per_epoch, self.min_steps, self.patience_steps = steps_per_epoch, min_steps, patience_steps
        self.min_delta = min_delta
        self.best: tuple[float, float] | None = None  # (monitored figure, val_loss), both "lower is better"
        self.best_epoch: int | None = None  # whose weights are kept
        self.improved_epoch: int | None = None  # the monitored figure's last real improvement
        self.weights = None

    def _key(self, logs) -> tuple[float, float] | None:
        value = logs.get(self.monitor)
        if value is None:
            return None
        loss = float(logs.get("val_loss", 0.0))
        return (float(value), loss) if self.monitor == "val_loss" else (-float(value), loss)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor == "none" or not logs:
            return
        key = self._key(logs)
        if key is not None:
            better = self.best is None or key[0] < self.best[0] - self.min_delta
            tie = self.best is not None and abs(key[0] - self.best[0]) <= self.min_delta and key[1] < self.best[1]
            if better:
                self.improved_epoch = epoch
            if better or tie:
                self.best, self.best_epoch, self.weights = key, epoch, self.network.get_weights()
        if not self.patience_steps or self.improved_epoch is None:
            return
        steps = (epoch + 1) * self.steps_per_epoch
        if steps >= self.min_steps and (epoch - self.improved_epoch) * self.steps_per_epoch >= self.patience_steps:
            self.model.stop_training = True

    def restore(self) -> None:
        """Put the best epoch's weights back (nothing to do with ``monitor="none"``)."""
        if self.weights is not None:
            self.network.set_weights(self.weights)


class TrialPruning(keras.callbacks.Callback):
    """Reports ``val_f1`` (from :class:`ValidationFigures`) after every epoch to a sweep's trial
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
