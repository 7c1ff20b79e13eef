"""Tests for the plain binary cross-entropy factory."""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import bce_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "bce.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")


def test_is_keras_binary_cross_entropy():
    assert isinstance(bce_loss(), keras.losses.BinaryCrossentropy)


def test_hand_computed_value():
    # (0.1053605 + 0.2231436 + 0.5108256 + 0.1053605) / 4 = 0.9446902 / 4 = 0.2361726
    expected = (-np.log(0.9) - np.log(0.8) - np.log(0.6) - np.log(0.9)) / 4
    np.testing.assert_allclose(float(bce_loss()(Y, P)), expected, rtol=1e-5)


def test_no_positive_batch_is_finite():
    assert np.isfinite(float(bce_loss()(np.zeros(4, "float32"), np.array([0.0, 0.2, 0.3, 1.0], "float32"))))


def test_gradients_finite_and_nonzero():
    for y_pred in ([0.99, 0.01, 0.98, 0.02], [0.01, 0.99, 0.02, 0.98]):
        p = tf.Variable(np.asarray(y_pred, "float32"))
        with tf.GradientTape() as tape:
            loss = bce_loss()(Y, p)
        grad = tape.gradient(loss, p).numpy()
        assert np.all(np.isfinite(grad)) and np.all(grad != 0)


def test_save_reload_and_fit(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=bce_loss())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), np.array([1, 0, 0, 0, 1, 0, 0, 0], "float32")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, class_weight={0: 1.0, 1: 3.0})
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        reloaded.loss(y, reloaded.predict(x, verbose=0)), model.loss(y, model.predict(x, verbose=0)), rtol=1e-5
    )


def test_hydra_config_instantiates():
    cfg = OmegaConf.load(CONF)
    assert cfg.pop("name") == "bce"
    assert isinstance(instantiate(cfg), keras.losses.BinaryCrossentropy)
