"""Tests for the soft Jaccard loss."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import SoftJaccardLoss, soft_f1_loss, soft_jaccard_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "soft_jaccard.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


def test_hand_computed_value():
    # TP = 1.5, FP = 0.3, FN = 0.5: loss = 1 - 1.5 / (1.5 + 0.3 + 0.5) = 0.8 / 2.3
    np.testing.assert_allclose(_value(soft_jaccard_loss(), Y, P), 0.8 / 2.3, rtol=1e-5)


def test_relation_to_soft_f1():
    # F1 = 2J / (1 + J) holds for the soft counts too (epsilon aside).
    j = 1.0 - _value(soft_jaccard_loss(), Y, P)
    f1 = 1.0 - _value(soft_f1_loss(), Y, P)
    np.testing.assert_allclose(f1, 2 * j / (1 + j), rtol=1e-5)


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 2.7, FP = 0.8, FN = 1.3: loss = 1 - 2.7 / 4.8 = 2.1 / 4.8
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(_value(soft_jaccard_loss(), Y, P[:, None], sample_weight=w), 2.1 / 4.8, rtol=1e-5)


def test_perfect_worst_and_no_positive_batches():
    # Perfect: TP = 2 -> 0. Worst: TP = 0, FP = FN = 2 -> 1 - eps / (4 + eps) ~ 1.
    np.testing.assert_allclose(_value(soft_jaccard_loss(), Y, Y), 0.0, atol=1e-6)
    np.testing.assert_allclose(_value(soft_jaccard_loss(), Y, 1.0 - Y), 1.0, rtol=1e-5)
    # No positives, nothing predicted: eps / eps -> 0, not NaN.
    assert _value(soft_jaccard_loss(), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.0, 1.0, 0.0, 1.0]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = soft_jaccard_loss()(Y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "1e-7", None])
def test_bad_epsilon_raises(bad):
    with pytest.raises(ValueError) as err:
        soft_jaccard_loss(epsilon=bad)
    assert str(err.value) == f"soft_jaccard_loss: epsilon must be a number in (0, inf), got {bad!r}"


def test_config_round_trip():
    loss = soft_jaccard_loss(epsilon=1e-5)
    config = loss.get_config()
    assert config == {"name": loss.name, "reduction": "sum_over_batch_size", "epsilon": 1e-5}
    assert SoftJaccardLoss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=soft_jaccard_loss())
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
    assert isinstance(reloaded.loss, SoftJaccardLoss)
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
    assert cfg.pop("name") == "soft_jaccard"
    loss = instantiate(cfg)
    assert isinstance(loss, SoftJaccardLoss) and loss.epsilon == 1e-7
