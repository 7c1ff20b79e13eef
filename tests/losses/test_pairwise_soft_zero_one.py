"""Tests for the pairwise soft zero-one ranking loss."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from omegaconf import OmegaConf

from hydra.utils import instantiate
from lossmatch.listwise import to_lists
from lossmatch.losses import PairwiseSoftZeroOneLoss, focal_loss

CONF = Path(__file__).resolve().parents[2] / "conf" / "loss" / "pairwise_soft_zero_one.yaml"


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# List 1: labels [1, 0, 1, 0], scores [2, 1, 0, 3]. Item i pays sigmoid(-(s_i - s_j)) for each j with y_j < y_i:
#   item 0: j = 1, 3 -> sig(-(2-1)) + sig(-(2-3)) = sig(-1) + sig(1) = 1
#   item 2: j = 1, 3 -> sig(-(0-1)) + sig(-(0-3)) = sig(1) + sig(3) = 0.7310586 + 0.9525741 = 1.6836327
#   items 1, 3 (label 0): no lower label -> 0
# List 2: labels [0, 1, -1, 1], scores [0, 0, 5, 2]; item 2 is padding, so it forms no pair:
#   item 1: j = 0 -> sig(-(0-0)) = 0.5;  item 3: j = 0 -> sig(-(2-0)) = sig(-2) = 0.1192029
LABELS = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, -1.0, 1.0]], "float32")
SCORES = np.array([[2.0, 1.0, 0.0, 3.0], [0.0, 0.0, 5.0, 2.0]], "float32")
PER_ITEM = np.array([[sig(-1) + sig(1), 0.0, sig(1) + sig(3), 0.0], [0.0, 0.5, 0.0, sig(-2)]])
TOTAL = PER_ITEM.sum()  # 1 + 1.6836327 + 0.5 + 0.1192029 = 3.3028356


def _value(loss, y_true, y_pred, **kwargs):
    return np.asarray(loss(y_true, y_pred, **kwargs))


def test_unbatched_per_item():
    loss = PairwiseSoftZeroOneLoss(reduction="none")
    np.testing.assert_allclose(_value(loss, LABELS[0], SCORES[0]), PER_ITEM[0], rtol=1e-5)


def test_batched_per_item_ignores_padding():
    for reduction in ("none", None):
        loss = PairwiseSoftZeroOneLoss(reduction=reduction)
        np.testing.assert_allclose(_value(loss, LABELS, SCORES), PER_ITEM, rtol=1e-5)


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        ("sum", TOTAL),  # 3.3028356
        ("sum_over_batch_size", TOTAL / 8),  # 3.3028356 / 8 items (the padded one included) = 0.4128545
        ("mean", TOTAL / 8),
        ("mean_with_sample_weight", TOTAL / 8),  # no sample_weight: falls back to the item count
    ],
)
def test_reductions(reduction, expected):
    loss = PairwiseSoftZeroOneLoss(reduction=reduction)
    np.testing.assert_allclose(_value(loss, LABELS, SCORES), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        # One weight per list, [1, 2]: sum = 2.6836327 + 2 * 0.6192029 = 3.9220385
        ("none", PER_ITEM * np.array([[1.0], [2.0]])),
        ("sum", 2.6836327 + 2 * 0.6192029),
        ("sum_over_batch_size", (2.6836327 + 2 * 0.6192029) / 8),
        ("mean", (2.6836327 + 2 * 0.6192029) / 8),
        # Divided by the per-item weights' sum, 4 * 1 + 4 * 2 = 12: 3.9220385 / 12 = 0.3268365
        ("mean_with_sample_weight", (2.6836327 + 2 * 0.6192029) / 12),
    ],
)
def test_per_list_sample_weight(reduction, expected):
    loss = PairwiseSoftZeroOneLoss(reduction=reduction)
    out = _value(loss, LABELS, SCORES, sample_weight=np.array([1.0, 2.0], "float32"))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_per_item_sample_weight():
    # Weight 0 on item 2 of list 1 removes its 1.6836327; weights sum to 7.
    w = np.array([[1.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]], "float32")
    # (1 + 0.5 + 0.1192029) / 7 = 0.2313147
    loss = PairwiseSoftZeroOneLoss(reduction="mean_with_sample_weight")
    np.testing.assert_allclose(_value(loss, LABELS, SCORES, sample_weight=w), (1 + 0.5 + sig(-2)) / 7, rtol=1e-5)


def test_dict_mask_removes_items():
    # Masking item 3 of list 1 leaves item 0 with j = 1 only -> sig(-1) = 0.2689414,
    # and item 2 with j = 1 only -> sig(1) = 0.7310586. List 2 is unchanged.
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    loss = PairwiseSoftZeroOneLoss(reduction="none")
    out = _value(loss, {"labels": LABELS, "mask": mask}, SCORES)
    np.testing.assert_allclose(out, [[sig(-1), 0.0, sig(1), 0.0], PER_ITEM[1]], rtol=1e-5)


def test_temperature():
    # temperature 0.5 doubles the differences. List 1: item 0 -> sig(-2) + sig(2) = 1,
    # item 2 -> sig(2) + sig(6) = 0.8807971 + 0.9975274 = 1.8783245.
    loss = PairwiseSoftZeroOneLoss(temperature=0.5, reduction="none")
    np.testing.assert_allclose(_value(loss, LABELS[0], SCORES[0]), [1.0, 0.0, sig(2) + sig(6), 0.0], rtol=1e-5)


def test_all_padding_or_no_positive_is_zero_not_nan():
    loss = PairwiseSoftZeroOneLoss()
    assert float(loss(-np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))) == 0.0
    assert float(loss(np.zeros((2, 3), "float32"), np.ones((2, 3), "float32"))) == 0.0


@pytest.mark.parametrize("scores", [[[5.0, -5.0, 4.0, -4.0]], [[-5.0, 5.0, -4.0, 4.0]]], ids=["near_perfect", "worst"])
def test_gradients_finite_and_nonzero(scores):
    s = tf.Variable(np.asarray(scores, "float32"))
    with tf.GradientTape() as tape:
        loss = PairwiseSoftZeroOneLoss()(LABELS[:1], s)
    grad = tape.gradient(loss, s).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad != 0)


def test_bad_rank_and_dict_without_labels_raise():
    loss = PairwiseSoftZeroOneLoss()
    with pytest.raises(ValueError, match="shape"):
        loss(np.ones((2, 3, 4), "float32"), np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match='"labels"'):
        loss({"mask": np.ones((2, 4), bool)}, SCORES)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "1", None])
def test_bad_temperature_raises(bad):
    with pytest.raises(ValueError) as err:
        PairwiseSoftZeroOneLoss(temperature=bad)
    assert str(err.value) == f"PairwiseSoftZeroOneLoss: temperature must be a number in (0, inf), got {bad!r}"


def test_expects_lists_flag():
    # The trainer feeds lists only to losses that set the flag.
    assert PairwiseSoftZeroOneLoss.expects_lists is True
    assert focal_loss().expects_lists is False


def test_config_round_trip():
    loss = PairwiseSoftZeroOneLoss(temperature=0.5, reduction="sum")
    config = loss.get_config()
    assert config == {"name": loss.name, "reduction": "sum", "temperature": 0.5}
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, PairwiseSoftZeroOneLoss) and restored.get_config() == config


def _model_and_lists():
    # 11 candidate pairs of 4 left records, grouped into lists of up to 4 candidates.
    rng = np.random.default_rng(0)
    group = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3])
    X = rng.normal(size=(11, 3)).astype("float32")
    y = np.array([1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0], "float32")
    X_lists, y_lists, _ = to_lists(group, X, y)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 3))
    scores = keras.layers.Reshape((4,))(keras.layers.Dense(1)(inputs))
    model = keras.Model(inputs, scores)
    model.compile(optimizer="sgd", loss=PairwiseSoftZeroOneLoss())
    return model, X_lists, y_lists


def test_one_step_fit_on_batch_of_lists():
    model, X_lists, y_lists = _model_and_lists()
    assert X_lists.shape == (4, 4, 3) and y_lists.shape == (4, 4)
    for kwargs in ({}, {"sample_weight": np.array([1.0, 2.0, 1.0, 0.5], "float32")}):
        history = model.fit(X_lists, y_lists, batch_size=4, epochs=1, verbose=0, **kwargs)
        assert np.isfinite(history.history["loss"][0])


def test_save_and_reload_without_custom_objects(tmp_path):
    model, X_lists, y_lists = _model_and_lists()
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.loss, PairwiseSoftZeroOneLoss)
    np.testing.assert_allclose(
        reloaded.loss(y_lists, reloaded.predict(X_lists, verbose=0)),
        model.loss(y_lists, model.predict(X_lists, verbose=0)),
        rtol=1e-5,
    )


def test_hydra_config_instantiates():
    cfg = OmegaConf.load(CONF)
    assert cfg.pop("name") == "pairwise_soft_zero_one"
    loss = instantiate(cfg)
    assert isinstance(loss, PairwiseSoftZeroOneLoss) and loss.temperature == 1.0
