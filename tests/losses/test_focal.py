"""Tests for the focal loss: hand-computed values, gradients, checks, saving, fit."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import FocalLoss, focal_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "focal.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")
# Per element, alpha = 0.75, gamma = 2: alpha_t * (1 - p_t)^2 * -log(p_t)
#   pos p=0.9: p_t=0.9, alpha_t=0.75 -> 0.75 * 0.1^2 * 0.1053605 = 0.00079020
#   neg p=0.2: p_t=0.8, alpha_t=0.25 -> 0.25 * 0.2^2 * 0.2231436 = 0.00223144
#   pos p=0.6: p_t=0.6, alpha_t=0.75 -> 0.75 * 0.4^2 * 0.5108256 = 0.06129907
#   neg p=0.1: p_t=0.9, alpha_t=0.25 -> 0.25 * 0.1^2 * 0.1053605 = 0.00026340
PER_ELEMENT = np.array([0.75 * 0.01 * -np.log(0.9), 0.25 * 0.04 * -np.log(0.8),
                        0.75 * 0.16 * -np.log(0.6), 0.25 * 0.01 * -np.log(0.9)])


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


def test_hand_computed_value():
    # mean = (0.00079020 + 0.00223144 + 0.06129907 + 0.00026340) / 4 = 0.01614603
    np.testing.assert_allclose(_value(focal_loss(), Y, P), PER_ELEMENT.mean(), rtol=1e-5)
    np.testing.assert_allclose(_value(focal_loss(), Y, P[:, None]), 0.01614603, rtol=1e-5)


def test_gamma_zero_is_alpha_weighted_cross_entropy():
    # gamma = 0, alpha = 0.75: (0.75*0.1053605 + 0.25*0.2231436 + 0.75*0.5108256 + 0.25*0.1053605) / 4
    expected = (0.75 * -np.log(0.9) + 0.25 * -np.log(0.8) + 0.75 * -np.log(0.6) + 0.25 * -np.log(0.9)) / 4
    np.testing.assert_allclose(_value(focal_loss(gamma=0.0), Y, P), expected, rtol=1e-5)


def test_sample_weight_is_a_weighted_mean_over_the_batch():
    # Keras "sum_over_batch_size": (1*l0 + 2*l1 + 3*l2 + 4*l3) / 4
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(
        _value(focal_loss(), Y, P[:, None], sample_weight=w), (PER_ELEMENT * w).sum() / 4, rtol=1e-5
    )


def test_probabilities_are_clipped():
    # A positive predicted at p = 0 costs 0.75 * (1 - 1e-7)^2 * -log(1e-7) = 12.0886, not inf.
    np.testing.assert_allclose(_value(focal_loss(), [1.0], [0.0]), 0.75 * -np.log(1e-7), rtol=1e-5)


def test_no_positive_batch_is_finite():
    # Only negatives: 0.25 * p^2 * -log(1 - p), finite for every p, including p = 1 (clipped).
    assert np.isfinite(_value(focal_loss(), np.zeros(4), [0.1, 0.2, 0.3, 1.0]))


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.01, 0.99, 0.02, 0.98]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    # The worst case stays just inside the clip range: at exactly 0 or 1 the clip
    # stops the gradient, as in Keras' own probability losses.
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = focal_loss()(Y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad != 0)


@pytest.mark.parametrize(
    ("param", "bad", "interval"),
    [
        ("alpha", 1.5, "[0, 1]"),
        ("alpha", -0.1, "[0, 1]"),
        ("alpha", math.nan, "[0, 1]"),
        ("alpha", math.inf, "[0, 1]"),
        ("alpha", "0.5", "[0, 1]"),
        ("alpha", None, "[0, 1]"),
        ("gamma", -1.0, "[0, inf)"),
        ("gamma", math.nan, "[0, inf)"),
        ("gamma", math.inf, "[0, inf)"),
        ("gamma", "2", "[0, inf)"),
        ("gamma", None, "[0, inf)"),
        ("gamma", False, "[0, inf)"),
    ],
)
def test_bad_parameters_raise(param, bad, interval):
    with pytest.raises(ValueError) as err:
        focal_loss(**{param: bad})
    # The message names the factory, the parameter, the range and the value.
    assert str(err.value) == f"focal_loss: {param} must be a number in {interval}, got {bad!r}"


def test_spec_example_message():
    with pytest.raises(ValueError, match=r"^focal_loss: alpha must be a number in \[0, 1\], got 1.5$"):
        focal_loss(alpha=1.5)


def test_defaults_and_config_round_trip():
    assert (focal_loss().alpha, focal_loss().gamma) == (0.75, 2.0)
    loss = focal_loss(alpha=0.5, gamma=1.0)
    config = loss.get_config()
    assert config == {"name": loss.name, "reduction": "sum_over_batch_size", "alpha": 0.5, "gamma": 1.0}
    assert FocalLoss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=focal_loss())
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
    assert isinstance(reloaded.loss, FocalLoss) and reloaded.loss.alpha == 0.75
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
    assert cfg.pop("name") == "focal"
    loss = instantiate(cfg)
    assert isinstance(loss, FocalLoss) and (loss.alpha, loss.gamma) == (0.75, 2.0)
