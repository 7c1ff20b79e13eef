"""Tests specific to the soft F1 loss: hand-computed values on small batches.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest
from loss_batch import P, Y, value

from lossmatch.losses import soft_f1_loss


def test_hand_computed_value():
    # TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5
    # loss = 1 - 2*1.5 / (2*1.5 + 0.3 + 0.5) = 0.8 / 3.8
    np.testing.assert_allclose(value(soft_f1_loss(), Y, P), 0.8 / 3.8, rtol=1e-5)


def test_epsilon_enters_numerator_and_denominator():
    # ε = 1 makes the smoothing visible: 1 − (2·1.5 + 1) / (2·1.5 + 0.3 + 0.5 + 1) = 1 − 4 / 4.8 = 1/6
    np.testing.assert_allclose(value(soft_f1_loss(epsilon=1.0), Y, P), 1 / 6, rtol=1e-5)


def test_column_shape_gives_same_value():
    # Keras feeds (batch,) labels with (batch, 1) outputs; counts must not broadcast to (4, 4).
    np.testing.assert_allclose(value(soft_f1_loss(), Y, P[:, None]), 0.8 / 3.8, rtol=1e-5)


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 1*0.9 + 3*0.6 = 2.7, FP = 2*0.2 + 4*0.1 = 0.8,
    # FN = 1*0.1 + 3*0.4 = 1.3; loss = 1 - 5.4 / (5.4 + 2.1) = 2.1 / 7.5 = 0.28
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(value(soft_f1_loss(), Y, P[:, None], sample_weight=w), 0.28, rtol=1e-5)


def test_perfect_and_worst():
    # Perfect: TP = 2, FP = FN = 0 -> F1 = 1 -> loss 0.
    np.testing.assert_allclose(value(soft_f1_loss(), Y, Y), 0.0, atol=1e-6)
    # Worst: TP = 0, FP = FN = 2 -> F1 = eps / (4 + eps) -> loss ~ 1.
    np.testing.assert_allclose(value(soft_f1_loss(), Y, 1.0 - Y), 1.0, rtol=1e-5)


def test_no_positive_batch_values():
    # TP = 0, FP = 0.1 + 0.2 + 0.3 + 0.4 = 1.0, FN = 0: loss = 1 - eps / (1 + eps) ~ 1.
    np.testing.assert_allclose(value(soft_f1_loss(), np.zeros(4), [0.1, 0.2, 0.3, 0.4]), 1.0, rtol=1e-5)
    # All counts 0: epsilon makes the ratio eps / eps = 1, so the loss is 0, not NaN.
    assert value(soft_f1_loss(), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)
