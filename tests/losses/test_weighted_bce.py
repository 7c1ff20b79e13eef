"""Tests specific to the weighted BCE loss: hand-computed value, TensorFlow's
weighted cross-entropy on logits, pos_weight = 1 is plain BCE.

The checks every loss shares are in test_common.py.
"""

import keras
import numpy as np
import tensorflow as tf
from loss_batch import P, Y, value

from lossmatch.losses import weighted_bce_loss


def test_hand_computed_value():
    # pos_weight = 2: (2*0.1053605 + 0.2231436 + 2*0.5108256 + 0.1053605) / 4 = 1.5608763 / 4 = 0.3902191
    expected = (2 * -np.log(0.9) + -np.log(0.8) + 2 * -np.log(0.6) + -np.log(0.9)) / 4
    np.testing.assert_allclose(value(weighted_bce_loss(2.0), Y, P), expected, rtol=1e-5)


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
