"""Tests specific to the weighted BCE loss: hand-computed value, TensorFlow's
weighted cross-entropy on logits, pos_weight = 1 is plain BCE.

The checks every loss shares are in test_common.py.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from loss_batch import P, Y, value

from lossmatch.losses import WeightedBCELoss, weighted_bce_loss


def test_hand_computed_value():
    # pos_weight = 2: (2*0.1053605 + 0.2231436 + 2*0.5108256 + 0.1053605) / 4 = 1.5608763 / 4 = 0.3902191
    expected = (2 * -np.log(0.9) + -np.log(0.8) + 2 * -np.log(0.6) + -np.log(0.9)) / 4
    np.testing.assert_allclose(value(weighted_bce_loss(2.0), Y, P), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("pos_weight", "expected"),
    [
        # loss = mean(−w·y·log p − (1 − y)·log(1 − p)); on Y, P the positives give
        # −log 0.9 = 0.1053605 and −log 0.6 = 0.5108256, the negatives −log 0.8 = 0.2231436
        # and −log 0.9 = 0.1053605, so loss = (w·0.6161861 + 0.3285041) / 4.
        (0.5, 0.1591493),  # (0.3080930 + 0.3285041) / 4; w < 1 favours precision
        (1.0, 0.2361726),  # (0.6161861 + 0.3285041) / 4, plain BCE
        (3.0, 0.5442656),  # (1.8485583 + 0.3285041) / 4
    ],
)
def test_values_over_pos_weight(pos_weight, expected):
    np.testing.assert_allclose(value(weighted_bce_loss(pos_weight), Y, P), expected, rtol=1e-5)


def test_probabilities_are_clipped():
    # A positive at p = 0 costs w·(−log 1e-7) = 2 · 16.1180957 = 32.2361913 with w = 2.
    np.testing.assert_allclose(value(weighted_bce_loss(2.0), [1.0], [0.0]), 32.2361913, rtol=1e-5)
    # A negative at p = 1 costs −log(1 − (1 − 1e-7)); float32 rounds 1 − 1e-7 to 1 − 2^-23,
    # so −log(2^-23) = 15.9423851, not weighted.
    np.testing.assert_allclose(value(weighted_bce_loss(2.0), [0.0], [1.0]), 15.9423851, rtol=1e-5)


def test_equals_tensorflow_weighted_cross_entropy_on_logits():
    p = np.array([0.3, 0.7, 0.2, 0.95, 0.5, 1.0], "float32")  # 1.0 checks the clipping too
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], "float32")
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    reference = tf.reduce_mean(
        tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=np.log(clipped / (1 - clipped)), pos_weight=3.0)
    )
    np.testing.assert_allclose(value(weighted_bce_loss(3.0), y, p), float(reference), rtol=1e-4)


def test_pos_weight_one_is_binary_cross_entropy():
    expected = float(keras.losses.BinaryCrossentropy()(Y, P))
    np.testing.assert_allclose(value(weighted_bce_loss(1.0), Y, P), expected, rtol=1e-5)


def test_the_default_pos_weight_is_one():
    # WeightedBCELoss() without a pos_weight is plain binary cross-entropy.
    expected = float(keras.losses.BinaryCrossentropy()(Y, P))
    np.testing.assert_allclose(value(WeightedBCELoss(), Y, P), expected, rtol=1e-5)
