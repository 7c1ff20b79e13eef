"""The shared pieces in lossmatch.losses._base: the parameter check, soft counts with
weights and masks, and the per-sample mean that Keras' reductions build on."""

import math

import numpy as np
import pytest
import tensorflow as tf
from loss_batch import P, Y, value

from lossmatch.losses import FocalLoss, SoftF1Loss, WeightedBCELoss
from lossmatch.losses._base import check_number, soft_counts


@pytest.mark.parametrize(
    ("bounds", "good", "bad", "interval"),
    [
        ({}, [-1e300, 0.0, 1e300], [math.inf, "1"], "[-inf, inf]"),
        ({"low": 0.0, "high": 1.0}, [0.0, 1.0, 0.5], [-1e-9, 1.000001], "[0, 1]"),
        ({"low": 0.0, "high": 1.0, "low_open": True}, [1e-12, 1.0], [0.0, -1.0], "(0, 1]"),
        ({"low": 0.0, "high": 1.0, "high_open": True}, [0.0, 0.999999], [1.0, 2.0], "[0, 1)"),
        ({"low": -2.5, "high": 0.25, "low_open": True, "high_open": True}, [-2.4, 0.2], [-2.5, 0.25], "(-2.5, 0.25)"),
    ],
)
def test_check_number_bounds_and_message(bounds, good, bad, interval):
    for value_ in good:
        # Accepted values come back as floats, ints included.
        assert check_number("f", "x", value_, **bounds) == float(value_)
    for value_ in bad:
        with pytest.raises(ValueError) as err:
            check_number("f", "x", value_, **bounds)
        assert str(err.value) == f"f: x must be a number in {interval}, got {value_!r}"
    # An int inside the bounds comes back as a float.
    inside = int(good[-1])
    assert type(check_number("f", "x", inside, **bounds)) is float


def test_soft_counts_with_weights_and_mask():
    y, p = tf.constant(Y), tf.constant(P)
    # TP = 0.9 + 0.6, FP = 0.2 + 0.1, FN = 0.1 + 0.4
    np.testing.assert_allclose([float(c) for c in soft_counts(y, p)], [1.5, 0.3, 0.5], rtol=1e-6)
    # weights [1, 2, 3, 4]: TP = 0.9 + 1.8, FP = 0.4 + 0.4, FN = 0.1 + 1.2
    w = tf.constant([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose([float(c) for c in soft_counts(y, p, w)], [2.7, 0.8, 1.3], rtol=1e-6)
    # A mask removes item 2 (p = 0.6, a match): TP = 0.9, FP = 0.3, FN = 0.1; with the weights
    # as well: TP = 0.9, FP = 0.8, FN = 0.1.
    mask = tf.constant([1.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose([float(c) for c in soft_counts(y, p, mask=mask)], [0.9, 0.3, 0.1], rtol=1e-6)
    np.testing.assert_allclose([float(c) for c in soft_counts(y, p, w, mask)], [0.9, 0.8, 0.1], rtol=1e-6)
    # (batch,) weights against (batch, 1) predictions weight each row.
    counts = soft_counts(tf.reshape(y, (4, 1)), tf.reshape(p, (4, 1)), w)
    np.testing.assert_allclose([float(c) for c in counts], [2.7, 0.8, 1.3], rtol=1e-6)


def test_keras_mask_on_predictions_reaches_the_soft_counts():
    # Keras puts a masking layer's mask on the output as `_keras_mask`; masked pairs drop out.
    # Item 2 masked: TP = 0.9, FP = 0.3, FN = 0.1 -> 1 - 1.8 / (1.8 + 0.4) = 0.4 / 2.2
    p = tf.constant(P)
    p._keras_mask = tf.constant([True, True, False, True])
    np.testing.assert_allclose(float(SoftF1Loss()(tf.constant(Y), p)), 0.4 / 2.2, rtol=1e-5)


def test_per_sample_mean_over_the_last_axis():
    # Two samples of two outputs each: "none" gives the two per-sample means, "sum" their sum.
    # Focal per element (see test_focal): [0.00079020, 0.00223144, 0.06129907, 0.00026340].
    y, p = Y.reshape(2, 2), P.reshape(2, 2)
    per_sample = [(0.00079020 + 0.00223144) / 2, (0.06129907 + 0.00026340) / 2]
    np.testing.assert_allclose(FocalLoss(reduction="none")(y, p).numpy(), per_sample, rtol=1e-5)
    np.testing.assert_allclose(value(FocalLoss(reduction="sum"), y, p), sum(per_sample), rtol=1e-5)
    # Weighted BCE likewise: rows [−2 log 0.9, −log 0.8] / 2 and [−2 log 0.6, −log 0.9] / 2 with w = 2.
    bce_rows = [(2 * 0.1053605 + 0.2231436) / 2, (2 * 0.5108256 + 0.1053605) / 2]
    np.testing.assert_allclose(WeightedBCELoss(2.0, reduction="none")(y, p).numpy(), bce_rows, rtol=1e-5)
    # A rank-1 batch is already one value per sample.
    assert FocalLoss(reduction="none")(Y, P).shape == (4,)
