"""Tests for the weighted binary cross-entropy loss."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import WeightedBCELoss, weighted_bce_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "weighted_bce.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


def test_hand_computed_value():
    # pos_weight = 2: (2*0.1053605 + 0.2231436 + 2*0.5108256 + 0.1053605) / 4 = 1.5608763 / 4 = 0.3902191
    expected = (2 * -np.log(0.9) + -np.log(0.8) + 2 * -np.log(0.6) + -np.log(0.9)) / 4
    np.testing.assert_allclose(_value(weighted_bce_loss(2.0), Y, P), expected, rtol=1e-5)


def test_equals_tensorflow_weighted_cross_entropy_on_logits():
    p = np.array([0.3, 0.7, 0.2, 0.95, 0.5, 1.0], "float32")  # 1.0 checks the clipping too
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], "float32")
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    reference = tf.reduce_mean(
        tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=np.log(clipped / (1 - clipped)), pos_weight=3.0)
    )
    np.testing.assert_allclose(_value(weighted_bce_loss(3.0), y, p), float(reference), rtol=1e-4)


def test_pos_weight_one_is_binary_cross_entropy():
    expected = float(keras.losses.BinaryCrossentropy()(Y, P))
    np.testing.assert_allclose(_value(weighted_bce_loss(1.0), Y, P), expected, rtol=1e-5)


def test_no_positive_batch_is_finite():
    assert np.isfinite(_value(weighted_bce_loss(5.0), np.zeros(4), [0.0, 0.2, 0.3, 1.0]))


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.01, 0.99, 0.02, 0.98]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = weighted_bce_loss(2.0)(Y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad != 0)


@pytest.mark.parametrize("bad", [0.0, -2.0, math.nan, math.inf, "3", None, True])
def test_bad_pos_weight_raises(bad):
    with pytest.raises(ValueError) as err:
        weighted_bce_loss(bad)
    assert str(err.value) == f"weighted_bce_loss: pos_weight must be a number in (0, inf), got {bad!r}"


def test_config_round_trip():
    loss = weighted_bce_loss(pos_weight=4.0)
    config = loss.get_config()
    assert config == {"name": loss.name, "reduction": "sum_over_batch_size", "pos_weight": 4.0}
    assert WeightedBCELoss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=weighted_bce_loss(3.0))
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
    assert isinstance(reloaded.loss, WeightedBCELoss) and reloaded.loss.pos_weight == 3.0
    np.testing.assert_allclose(
        reloaded.loss(y, reloaded.predict(x, verbose=0)), model.loss(y, model.predict(x, verbose=0)), rtol=1e-5
    )


def test_one_step_fit_with_sample_and_class_weights():
    model = _model()
    x, y = _data()
    for kwargs in ({}, {"sample_weight": np.arange(1, 9, dtype="float32")}, {"class_weight": {0: 1.0, 1: 3.0}}):
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, **kwargs)
        assert np.isfinite(history.history["loss"][0])


def test_hydra_config_instantiates():
    cfg = OmegaConf.load(CONF)
    assert cfg.pop("name") == "weighted_bce"
    loss = instantiate(cfg)
    assert isinstance(loss, WeightedBCELoss) and loss.pos_weight == 1.0
