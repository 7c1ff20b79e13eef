"""Tests for the combined soft F1 + focal loss."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import CombinedLoss, combined_loss, focal_loss, soft_f1_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "combined.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")
# Soft F1 term: TP = 1.5, FP = 0.3, FN = 0.5 -> 1 - 3 / 3.8 = 0.8 / 3.8 = 0.2105263
F1_TERM = 0.8 / 3.8
# Focal term with the combined default alpha = 0.25 (positives 0.25, negatives 0.75), gamma = 2:
#   (0.25*0.1^2*0.1053605 + 0.75*0.2^2*0.2231436 + 0.25*0.4^2*0.5108256 + 0.75*0.1^2*0.1053605) / 4
#   = (0.00026340 + 0.00669431 + 0.02043302 + 0.00079020) / 4 = 0.00704523
FOCAL_TERM = (0.25 * 0.01 * -np.log(0.9) + 0.75 * 0.04 * -np.log(0.8)
              + 0.25 * 0.16 * -np.log(0.6) + 0.75 * 0.01 * -np.log(0.9)) / 4


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


def test_hand_computed_value():
    # 0.5 * 0.2105263 + 0.5 * 0.00704523 = 0.1087858
    np.testing.assert_allclose(_value(combined_loss(), Y, P), 0.5 * F1_TERM + 0.5 * FOCAL_TERM, rtol=1e-5)
    # weight_f1 = 0.25: 0.25 * 0.2105263 + 0.75 * 0.00704523 = 0.0579155
    np.testing.assert_allclose(
        _value(combined_loss(weight_f1=0.25), Y, P[:, None]), 0.25 * F1_TERM + 0.75 * FOCAL_TERM, rtol=1e-5
    )


def test_extreme_weights_give_the_parts():
    # weight_f1 = 1 is soft F1 alone, 0 is focal alone (with the combined alpha).
    np.testing.assert_allclose(_value(combined_loss(weight_f1=1.0), Y, P), _value(soft_f1_loss(), Y, P), rtol=1e-6)
    np.testing.assert_allclose(
        _value(combined_loss(weight_f1=0.0), Y, P), _value(focal_loss(alpha=0.25), Y, P), rtol=1e-6
    )


def test_sample_weight_reaches_both_terms():
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    # Soft F1 with weighted counts is 2.1 / 7.5 = 0.28 (see test_soft_f1); focal is the weighted mean.
    expected = 0.5 * 0.28 + 0.5 * _value(focal_loss(alpha=0.25), Y, P[:, None], sample_weight=w)
    np.testing.assert_allclose(_value(combined_loss(), Y, P[:, None], sample_weight=w), expected, rtol=1e-5)


def test_no_positive_batch_is_finite():
    assert np.isfinite(_value(combined_loss(), np.zeros(4), [0.0, 0.2, 0.3, 1.0]))


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.01, 0.99, 0.02, 0.98]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = combined_loss()(Y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad != 0)


@pytest.mark.parametrize(
    ("param", "bad", "interval"),
    [
        ("weight_f1", 1.5, "[0, 1]"),
        ("weight_f1", -0.5, "[0, 1]"),
        ("weight_f1", math.nan, "[0, 1]"),
        ("weight_f1", "half", "[0, 1]"),
        ("weight_f1", None, "[0, 1]"),
        ("epsilon", 0.0, "(0, inf)"),
        ("epsilon", math.inf, "(0, inf)"),
        ("alpha", 2.0, "[0, 1]"),
        ("alpha", math.nan, "[0, 1]"),
        ("gamma", -0.5, "[0, inf)"),
        ("gamma", math.inf, "[0, inf)"),
        ("gamma", None, "[0, inf)"),
    ],
)
def test_bad_parameters_raise(param, bad, interval):
    with pytest.raises(ValueError) as err:
        combined_loss(**{param: bad})
    assert str(err.value) == f"combined_loss: {param} must be a number in {interval}, got {bad!r}"


def test_defaults_and_config_round_trip():
    loss = combined_loss()
    # The combined default alpha (0.25) differs from focal_loss's (0.75) on purpose.
    assert (loss.weight_f1, loss.epsilon, loss.alpha, loss.gamma) == (0.5, 1e-7, 0.25, 2.0)
    config = combined_loss(weight_f1=0.3, epsilon=1e-6, alpha=0.6, gamma=1.0).get_config()
    assert {k: v for k, v in config.items() if k != "name"} == {
        "reduction": "sum_over_batch_size", "weight_f1": 0.3, "epsilon": 1e-6, "alpha": 0.6, "gamma": 1.0
    }
    assert CombinedLoss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=combined_loss())
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
    assert isinstance(reloaded.loss, CombinedLoss) and reloaded.loss.alpha == 0.25
    np.testing.assert_allclose(
        reloaded.loss(y, reloaded.predict(x, verbose=0)), model.loss(y, model.predict(x, verbose=0)), rtol=1e-5
    )


def test_one_step_fit_with_sample_and_class_weights():
    model = _model()
    x, y = _data()
    w = np.arange(1, 9, dtype="float32")
    np.testing.assert_allclose(
        model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0),
        model.loss(y, model.predict(x, verbose=0), sample_weight=w),
        rtol=1e-5,
    )
    for kwargs in ({}, {"sample_weight": w}, {"class_weight": {0: 1.0, 1: 3.0}}):
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, **kwargs)
        assert np.isfinite(history.history["loss"][0])


def test_hydra_config_instantiates():
    cfg = OmegaConf.load(CONF)
    assert cfg.pop("name") == "combined"
    loss = instantiate(cfg)
    assert isinstance(loss, CombinedLoss)
    assert (loss.weight_f1, loss.epsilon, loss.alpha, loss.gamma) == (0.5, 1e-7, 0.25, 2.0)
