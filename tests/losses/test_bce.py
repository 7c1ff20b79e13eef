"""Tests specific to the plain binary cross-entropy factory.

The checks every loss shares are in test_common.py.
"""

import keras
import numpy as np
from loss_batch import P, Y

from lossmatch.losses import bce_loss


def test_is_keras_binary_cross_entropy():
    assert isinstance(bce_loss(), keras.losses.BinaryCrossentropy)


def test_hand_computed_value():
    # (0.1053605 + 0.2231436 + 0.5108256 + 0.1053605) / 4 = 0.9446902 / 4 = 0.2361726
    expected = (-np.log(0.9) - np.log(0.8) - np.log(0.6) - np.log(0.9)) / 4
    np.testing.assert_allclose(float(bce_loss()(Y, P)), expected, rtol=1e-5)
