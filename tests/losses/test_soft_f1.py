"""Tests for the soft F1 loss: hand-computed values, gradients, checks, saving, fit."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import SoftF1Loss, soft_f1_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "soft_f1.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


def test_hand_computed_value():
    # TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5
    # loss = 1 - 2*1.5 / (2*1.5 + 0.3 + 0.5) = 0.8 / 3.8
    np.testing.assert_allclose(_value(soft_f1_loss(), Y, P), 0.8 / 3.8, rtol=1e-5)


def test_column_shape_gives_same_value():
    # Keras feeds (batch,) labels with (batch, 1) outputs; counts must not broadcast to (4, 4).
    np.testing.assert_allclose(_value(soft_f1_loss(), Y, P[:, None]), 0.8 / 3.8, rtol=1e-5)


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 1*0.9 + 3*0.6 = 2.7, FP = 2*0.2 + 4*0.1 = 0.8,
    # FN = 1*0.1 + 3*0.4 = 1.3; loss = 1 - 5.4 / (5.4 + 2.1) = 2.1 / 7.5 = 0.28
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(_value(soft_f1_loss(), Y, P[:, None], sample_weight=w), 0.28, rtol=1e-5)


def test_perfect_and_worst():
    # Perfect: TP = 2, FP = FN = 0 -> F1 = 1 -> loss 0.
    np.testing.assert_allclose(_value(soft_f1_loss(), Y, Y), 0.0, atol=1e-6)
    # Worst: TP = 0, FP = FN = 2 -> F1 = eps / (4 + eps) -> loss ~ 1.
    np.testing.assert_allclose(_value(soft_f1_loss(), Y, 1.0 - Y), 1.0, rtol=1e-5)


def test_no_positive_batch_is_finite():
    # TP = 0, FP = 0.1 + 0.2 + 0.3 + 0.4 = 1.0, FN = 0: loss = 1 - eps / (1 + eps) ~ 1.
    np.testing.assert_allclose(_value(soft_f1_loss(), np.zeros(4), [0.1, 0.2, 0.3, 0.4]), 1.0, rtol=1e-5)
    # All counts 0: epsilon makes the ratio eps / eps = 1, so the loss is 0, not NaN.
    assert _value(soft_f1_loss(), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.0, 1.0, 0.0, 1.0]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = soft_f1_loss()(Y, p)
    grad = tape.gradient(loss, p).numpy()
    # The soft counts are smooth in p, so even the extreme batch has a gradient.
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize("bad", [0.0, -1e-7, math.nan, math.inf, "1e-7", None, True])
def test_bad_epsilon_raises(bad):
    with pytest.raises(ValueError, match=r"soft_f1_loss: epsilon must be a number in \(0, inf\)") as err:
        soft_f1_loss(epsilon=bad)
    # The message echoes the value received.
    assert repr(bad) in str(err.value)


def test_config_round_trip():
    loss = soft_f1_loss(epsilon=1e-5)
    config = loss.get_config()
    # Exactly the constructor arguments plus the Loss base arguments.
    assert config == {"name": loss.name, "reduction": "sum_over_batch_size", "epsilon": 1e-5}
    assert SoftF1Loss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=soft_f1_loss())
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), np.array([1, 0, 0, 0, 1, 0, 0, 0], "float32")


def test_save_and_reload_without_custom_objects(tmp_path):
    model = _model()
    x, y = _data()
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    # The registered class comes back, and so does the value.
    assert isinstance(reloaded.loss, SoftF1Loss)
    np.testing.assert_allclose(
        reloaded.loss(y, reloaded.predict(x, verbose=0)), model.loss(y, model.predict(x, verbose=0)), rtol=1e-5
    )


def test_one_step_fit_with_sample_and_class_weights():
    model = _model()
    x, y = _data()
    w = np.arange(1, 9, dtype="float32")
    # Keras must hand sample_weight to the loss, which weights the soft counts,
    # rather than rescale the scalar: evaluate equals the direct weighted call.
    np.testing.assert_allclose(
        model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0),
        model.loss(y, model.predict(x, verbose=0), sample_weight=w),
        rtol=1e-5,
    )
    for kwargs in ({}, {"sample_weight": np.arange(1, 9, dtype="float32")}, {"class_weight": {0: 1.0, 1: 3.0}}):
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, **kwargs)
        assert np.isfinite(history.history["loss"][0])


def test_hydra_config_instantiates():
    cfg = OmegaConf.load(CONF)
    assert cfg.pop("name") == "soft_f1"
    loss = instantiate(cfg)
    assert isinstance(loss, SoftF1Loss) and loss.epsilon == 1e-7
