"""Tests for the soft F-beta loss."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.losses import SoftFBetaLoss, soft_f1_loss, soft_fbeta_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "soft_fbeta.yaml"

Y = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
P = np.array([0.9, 0.2, 0.6, 0.1], dtype="float32")
# Soft counts: TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5


def _value(loss, y_true, y_pred, **kwargs):
    return float(loss(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"), **kwargs))


@pytest.mark.parametrize(
    ("beta", "expected"),
    [
        # beta = 2: 1 - 5*1.5 / (5*1.5 + 4*0.5 + 0.3) = 1 - 7.5 / 9.8 = 2.3 / 9.8
        (2.0, 2.3 / 9.8),
        # beta = 1: 1 - 2*1.5 / (2*1.5 + 0.5 + 0.3) = 0.8 / 3.8 (the soft F1 loss)
        (1.0, 0.8 / 3.8),
        # beta = 0.5: 1 - 1.25*1.5 / (1.25*1.5 + 0.25*0.5 + 0.3) = 1 - 1.875 / 2.3 = 0.425 / 2.3
        (0.5, 0.425 / 2.3),
    ],
)
def test_hand_computed_values(beta, expected):
    np.testing.assert_allclose(_value(soft_fbeta_loss(beta=beta), Y, P), expected, rtol=1e-5)


def test_beta_one_equals_soft_f1():
    p = np.array([0.3, 0.7, 0.2, 0.95, 0.5, 0.05], "float32")
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], "float32")
    np.testing.assert_allclose(_value(soft_fbeta_loss(1.0), y, p), _value(soft_f1_loss(), y, p), rtol=1e-6)


def test_large_beta_punishes_missed_matches_more():
    # One FN-heavy batch (p low on positives) and one FP-heavy batch (p high on negatives).
    fn_heavy = _value(soft_fbeta_loss(beta=3.0), Y, [0.3, 0.0, 0.3, 0.0])
    fp_heavy = _value(soft_fbeta_loss(beta=3.0), Y, [1.0, 0.7, 1.0, 0.7])
    assert fn_heavy > fp_heavy


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 2.7, FP = 0.8, FN = 1.3; beta = 2:
    # 1 - 5*2.7 / (5*2.7 + 4*1.3 + 0.8) = 1 - 13.5 / 19.5 = 6 / 19.5
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(
        _value(soft_fbeta_loss(beta=2.0), Y, P[:, None], sample_weight=w), 6.0 / 19.5, rtol=1e-5
    )


def test_no_positive_batch_is_finite():
    # TP = FN = 0, FP = 1.0: loss = 1 - eps / (1 + eps) ~ 1; all zero: eps / eps -> loss 0.
    np.testing.assert_allclose(_value(soft_fbeta_loss(2.0), np.zeros(4), [0.1, 0.2, 0.3, 0.4]), 1.0, rtol=1e-5)
    assert _value(soft_fbeta_loss(2.0), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("y_pred", [[0.99, 0.01, 0.98, 0.02], [0.0, 1.0, 0.0, 1.0]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(y_pred):
    p = tf.Variable(np.asarray(y_pred, "float32"))
    with tf.GradientTape() as tape:
        loss = soft_fbeta_loss(beta=2.0)(Y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize(
    ("param", "bad"),
    [("beta", 0.0), ("beta", -1.0), ("beta", math.nan), ("beta", math.inf), ("beta", "2"), ("beta", None),
     ("epsilon", 0.0), ("epsilon", math.nan), ("epsilon", math.inf), ("epsilon", "x"), ("epsilon", None)],
)
def test_bad_parameters_raise(param, bad):
    with pytest.raises(ValueError) as err:
        soft_fbeta_loss(**{param: bad})
    assert str(err.value) == f"soft_fbeta_loss: {param} must be a number in (0, inf), got {bad!r}"


def test_config_round_trip():
    loss = soft_fbeta_loss(beta=2.0, epsilon=1e-6)
    config = loss.get_config()
    assert config == {"name": loss.name, "reduction": "sum_over_batch_size", "beta": 2.0, "epsilon": 1e-6}
    assert SoftFBetaLoss.from_config(config).get_config() == config


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=soft_fbeta_loss(beta=2.0))
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
    assert isinstance(reloaded.loss, SoftFBetaLoss) and reloaded.loss.beta == 2.0
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
    assert cfg.pop("name") == "soft_fbeta"
    loss = instantiate(cfg)
    assert isinstance(loss, SoftFBetaLoss) and (loss.beta, loss.epsilon) == (1.0, 1e-7)
