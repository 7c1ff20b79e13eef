"""The step-budgeted trainer: batch size from the set, epochs of fixed steps, early stopping with the
best weights restored, training on scaled features, ensembles and cross-fitting."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from lossmatch.callbacks import BestEpoch
from lossmatch.errors import InputError
from lossmatch.losses import bce_loss
from lossmatch.metrics import best_f1_threshold, pr_auc
from lossmatch.model import build_mlp
from lossmatch.model_ensemble import build_ensemble, split_members
from lossmatch.scaling import split_scaling
from lossmatch.training import (
    SplitData,
    Training,
    _sample_weights,
    auto_batch_size,
    budget_epochs,
    cross_fit_folds,
    epoch_length,
)


@pytest.mark.parametrize(
    "n,batch",
    [
        (268, 16),  # 268 / 64 = 4.2 -> 2^2 = 4, clipped up to 16 (Beer's training split)
        (1500, 32),  # 23.4 -> log2 4.55 -> 2^5 = 32
        (6874, 128),  # 107.4 -> log2 6.75 -> 2^7 = 128 (Amazon-Google)
        (50_000, 256),  # 781 -> 2^10 = 1024, clipped down to 256
        (0, 16),  # an empty split still gets a valid size
    ],
)
def test_auto_batch_size_is_the_power_of_two_nearest_n_over_64(n, batch):
    assert auto_batch_size(n) == batch


@pytest.mark.parametrize(
    "args,expected",
    [
        ((268, 16, None, 32), (17, 17)),  # one pass: ceil(268 / 16) = 17 steps, all in one execution
        ((268, 16, 100, 32), (100, 25)),  # 100 steps: 25 is the largest divisor of 100 up to 32
        ((268, 16, 100, 1), (100, 1)),
        ((268, 16, 97, 32), (97, 1)),  # a prime epoch runs step by step, never past its end
        ((10, 4, 128, 32), (128, 32)),
    ],
)
def test_epoch_length_and_executions_that_divide_it(args, expected):
    assert epoch_length(*args) == expected


def test_budget_in_steps_or_epochs_whichever_ends_first():
    assert budget_epochs(100, 4000, None) == 40
    assert budget_epochs(100, 4050, None) == 41  # the epoch that reaches max_steps runs whole
    assert budget_epochs(100, 4000, 3) == 3
    assert budget_epochs(128, None, 5) == 5
    with pytest.raises(ValueError, match="budget"):
        budget_epochs(100, None, None)


class _Weights:
    """A stand-in network: its 'weights' are the epoch at which they were taken."""

    def __init__(self):
        self.epoch = -1
        self.restored = None

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, weights):
        self.restored = weights[0]


def _drive(callback, network, logs_per_epoch):
    """Feed epoch logs to ``callback``; returns the epoch after which it stopped training (or None)."""
    callback.set_model(type("M", (), {"stop_training": False})())
    for epoch, logs in enumerate(logs_per_epoch):
        network.epoch = epoch
        callback.on_epoch_end(epoch, dict(logs))
        if callback.model.stop_training:
            return epoch
    return None


def test_best_epoch_keeps_the_best_weights_and_waits_for_min_steps():
    net = _Weights()
    cb = BestEpoch(net, "val_pr_auc", steps_per_epoch=100, min_steps=500, patience_steps=200)
    aps = [0.5, 0.8, 0.7, 0.79, 0.6, 0.6, 0.6, 0.6]
    stopped = _drive(cb, net, [{"val_pr_auc": a, "val_loss": 1.0} for a in aps])
    # Best at epoch 1 (0.8); 200 steps later is epoch 3, but min_steps=500 holds on to the end of epoch 4.
    assert stopped == 4 and cb.best_epoch == 1
    cb.restore()
    assert net.restored == 1


def test_a_tie_goes_to_the_lower_loss_without_extending_the_patience():
    net = _Weights()
    cb = BestEpoch(net, "val_f1", steps_per_epoch=10, min_steps=0, patience_steps=30)
    logs = [{"val_f1": 1.0, "val_loss": 0.5}, {"val_f1": 1.0, "val_loss": 0.3}, {"val_f1": 1.0, "val_loss": 0.2},
            {"val_f1": 1.0, "val_loss": 0.1}, {"val_f1": 1.0, "val_loss": 0.05}]
    stopped = _drive(cb, net, logs)
    # F1 last improved at epoch 0: 30 steps later (epoch 3) training stops, with epoch 3's lower loss kept.
    assert stopped == 3 and cb.best_epoch == 3


def test_val_loss_is_minimised_and_none_keeps_the_last_weights():
    net = _Weights()
    cb = BestEpoch(net, "val_loss", steps_per_epoch=1, patience_steps=0)
    assert _drive(cb, net, [{"val_loss": v} for v in (0.9, 0.4, 0.6)]) is None  # patience 0: never stops
    assert cb.best_epoch == 1
    off = BestEpoch(net, "none", steps_per_epoch=1, patience_steps=5)
    _drive(off, net, [{"val_loss": 0.1}] * 10)
    net.restored = None
    off.restore()
    assert off.best_epoch is None and net.restored is None
    with pytest.raises(ValueError, match="val_acc"):
        BestEpoch(net, "val_acc", steps_per_epoch=1)


def test_cross_fit_folds_are_stratified_and_held_out_from_their_member():
    y = np.array([1] * 10 + [0] * 40, dtype=np.float32)
    folds = cross_fit_folds(y, 5, seed=3)
    for k in range(5):
        # 10 positives and 40 negatives dealt round-robin: 2 and 8 per fold.
        assert (y[folds == k] == 1).sum() == 2 and (y[folds == k] == 0).sum() == 8
    assert np.array_equal(folds, cross_fit_folds(y, 5, seed=3))
    w = _sample_weights(y.reshape(-1, 1), {0: 1.0, 1: 3.0}, folds, 5, listwise=False)
    # Member k gets weight 0 on fold k, the class weight elsewhere.
    for k in range(5):
        assert np.all(w[folds == k, k] == 0)
        assert np.all(w[(folds != k) & (y == 1), k] == 3.0) and np.all(w[(folds != k) & (y == 0), k] == 1.0)
    assert _sample_weights(y.reshape(-1, 1), None, None, 1, listwise=False) is None


def _task(n: int, seed: int):
    """Pairs whose match depends on the first feature; features on very different scales."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.random(n), rng.random(n) * 1000.0, rng.normal(size=n)]).astype(np.float32)
    y = (X[:, 0] + 0.1 * rng.normal(size=n) > 0.7).astype(np.float32)
    pairs = pd.DataFrame({"left": np.arange(n), "right": np.arange(n)})
    return SplitData(pairs, X, y)


@pytest.fixture
def training():
    frame = pd.DataFrame({"id": ["a"], "name": ["x"]})
    return Training({"name": ["exact"]}, frame, frame)


def test_fit_restores_the_best_epoch_and_trains_the_network_on_scaled_features(training):
    train, val = _task(256, 0), _task(128, 1)
    keras.utils.set_random_seed(0)
    model = build_mlp(3, hidden_units=[8], scaling="rank")
    result = training.fit(model, bce_loss(), train, val, max_steps=120, validation_every_steps=20, batch_size="auto",
                          early_stopping_monitor="val_pr_auc", steps_per_execution=5, seed=0)
    assert result.batch_size == 16  # 256 / 64 = 4 -> clipped to 16
    assert result.steps_run == 120 and len(result.history["val_pr_auc"]) == 6
    assert set(result.history) >= {"loss", "val_loss", "val_pr_auc", "val_f1"}
    # The model that comes back, on raw features, is the best epoch's: its validation AP is the history's best.
    p = training.predict(model, val)
    assert pr_auc(val.y, p) == pytest.approx(max(result.history["val_pr_auc"]), abs=1e-6)
    assert result.best_step == 20 * (1 + int(np.argmax(result.history["val_pr_auc"])))
    # The scaling layer kept its training quantiles: training touched the network only.
    scaling, _ = split_scaling(model)
    assert np.allclose(keras.ops.convert_to_numpy(scaling.quantiles)[-1], train.X.max(axis=0))
    # The exported model carries the run's loss and predicts one batch per call.
    assert type(model.loss).__name__ == type(bce_loss()).__name__ and model.steps_per_execution == 1


def test_an_ensemble_trains_every_member_and_predicts_their_average(training, tmp_path):
    train, val = _task(200, 2), _task(100, 3)
    keras.utils.set_random_seed(1)
    model = build_ensemble(3, members=3, hidden_units=[4], scaling="standard")
    training.fit(model, bce_loss(), train, val, max_steps=40, validation_every_steps=20, seed=1)
    scaling, network = split_scaling(model)
    members = split_members(network)
    scaled = keras.ops.convert_to_numpy(scaling(val.X))
    outputs = [keras.ops.convert_to_numpy(o).reshape(-1) for o in members(scaled)]
    assert len(outputs) == 3
    # Members start from different weights, so they differ; the model is their mean.
    assert not np.allclose(outputs[0], outputs[1])
    np.testing.assert_allclose(model.predict(val.X, verbose=0).reshape(-1), np.mean(outputs, axis=0), rtol=1e-5)
    assert split_members(build_mlp(3)) is None
    # Saved and reloaded, the ensemble predicts the same on raw features.
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(val.X, verbose=0), model.predict(val.X, verbose=0), rtol=1e-6)


def test_cross_fit_chooses_the_threshold_out_of_fold(training):
    train, val = _task(200, 4), _task(100, 5)
    keras.utils.set_random_seed(2)
    model = build_ensemble(3, members=4, hidden_units=[4], scaling="rank")
    result = training.fit(model, bce_loss(), train, val, max_steps=40, validation_every_steps=20, cross_fit=True,
                          seed=2)
    oof_val = result.validation_probabilities
    assert oof_val.shape == (100,)
    # Out-of-fold probabilities are not the model's own (each comes from one member, not the mean).
    assert not np.allclose(oof_val, training.predict(model, val))
    # The batch comes from train + valid (300 pairs: 300 / 64 = 4.7 -> 4 -> 16), and so does the threshold:
    # the best F1 threshold of out-of-fold probabilities over all 300 pairs.
    assert result.batch_size == 16
    assert 0.0 < result.threshold < 1.0
    with pytest.raises(InputError, match="ensemble of at least 2"):
        training.fit(build_mlp(3), bce_loss(), train, val, max_steps=20, cross_fit=True)


def test_out_of_fold_threshold_is_the_best_f1_one(training, monkeypatch):
    """With one fold per member, the threshold is best_f1_threshold of the out-of-fold scores of train + valid."""
    from lossmatch import training as training_module

    seen = {}
    original = training_module._out_of_fold

    def spy(members, X, folds, chunk=65536):
        seen["p"] = original(members, X, folds, chunk)
        return seen["p"]

    monkeypatch.setattr(training_module, "_out_of_fold", spy)
    train, val = _task(120, 6), _task(60, 7)
    keras.utils.set_random_seed(3)
    result = training.fit(build_ensemble(3, members=2, hidden_units=[4]), bce_loss(), train, val, max_steps=20,
                          validation_every_steps=20, cross_fit=True, early_stopping_monitor="none", seed=3)
    y = np.concatenate([train.y, val.y])
    assert result.threshold == pytest.approx(best_f1_threshold(y, seen["p"]))
    np.testing.assert_allclose(result.validation_probabilities, seen["p"][120:])


BAD_TRAINER = [
    (["trainer.batch_size=0"], ["trainer.batch_size", "auto", "0"]),
    (["trainer.batch_size=big"], ["trainer.batch_size", "big"]),
    (["trainer.early_stopping_monitor=val_acc"], ["trainer.early_stopping_monitor", "val_acc", "val_pr_auc"]),
    (["trainer.min_steps=5000", "trainer.max_steps=4000"], ["min_steps=5000", "max_steps=4000"]),
    (["trainer.max_steps=null", "trainer.epochs=null"], ["max_steps", "epochs", "budget"]),
    (["trainer.validation_every_steps=0"], ["trainer.validation_every_steps", "0"]),
    (["+trainer.early_stopping_patience=3"], ["trainer.early_stopping_patience", "unknown key", "early_stopping_patience_steps"]),
    (["trainer.cross_fit=true"], ["trainer.cross_fit", "model=ensemble", "model=build_mlp"]),
    (["trainer.cross_fit=true", "model=ensemble", "model.members=1"], ["members >= 2", "members=1"]),
    (["trainer.cross_fit=true", "model=ensemble", "trainer.sampling=oversample"], ["cross_fit", "sampling"]),
    (["model=ensemble", "model.member=tree"], ["model.member", "mlp, attribute", "tree"]),
    (["threshold_rule=median"], ["threshold_rule", "max_f1", "half_best_f1", "median"]),
    (["trainer.cross_fit=true", "model=ensemble", "threshold_rule=half_best_f1"], ["cross_fit", "threshold_rule=half_best_f1"]),
    (["model=ensemble", "model.members=0"], ["model.members", "0"]),
]


@pytest.mark.parametrize("overrides,words", BAD_TRAINER, ids=[" ".join(o) for o, _ in BAD_TRAINER])
def test_bad_trainer_and_ensemble_settings_are_one_line_input_errors(overrides, words, compose_cfg):
    from lossmatch.config import validate

    with pytest.raises(InputError) as info:
        validate(compose_cfg(overrides))
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_the_training_step_is_traced_once_with_the_weights_of_keras_own_lazy_build(training, monkeypatch):
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    import lossmatch.training as training_module

    traces = []
    step = TensorFlowTrainer.train_step
    monkeypatch.setattr(TensorFlowTrainer, "train_step", lambda self, data: traces.append(1) or step(self, data))
    train, val = _task(200, 6), _task(100, 7)

    def weights_after_fit():
        traces.clear()
        keras.utils.set_random_seed(3)
        model = build_mlp(3, hidden_units=[4], dropout=0.1)
        training.fit(model, bce_loss(), train, val, max_steps=40, validation_every_steps=20, steps_per_execution=5,
                     seed=3)
        return model.get_weights(), len(traces)

    built, built_traces = weights_after_fit()
    # Keras left to make Adam's slots inside the first step: the step is traced twice.
    monkeypatch.setattr(training_module, "_build_optimizer", lambda optimizer, variables: None)
    lazy, lazy_traces = weights_after_fit()
    assert (built_traces, lazy_traces) == (1, 2)
    for a, b in zip(built, lazy, strict=True):
        np.testing.assert_array_equal(a, b)
