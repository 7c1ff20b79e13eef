"""Tests specific to the soft Jaccard loss: hand-computed values, relation to soft F1.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest
from loss_batch import P, Y, value

from lossmatch.losses import soft_f1_loss, soft_jaccard_loss


def test_hand_computed_value():
    # TP = 1.5, FP = 0.3, FN = 0.5: loss = 1 - 1.5 / (1.5 + 0.3 + 0.5) = 0.8 / 2.3
    np.testing.assert_allclose(value(soft_jaccard_loss(), Y, P), 0.8 / 2.3, rtol=1e-5)


def test_epsilon_enters_numerator_and_denominator():
    # ε = 1: 1 − (1.5 + 1) / (1.5 + 0.3 + 0.5 + 1) = 1 − 2.5 / 3.3 = 0.8 / 3.3
    np.testing.assert_allclose(value(soft_jaccard_loss(epsilon=1.0), Y, P), 0.8 / 3.3, rtol=1e-5)


def test_relation_to_soft_f1():
    # F1 = 2J / (1 + J) holds for the soft counts too (epsilon aside).
    j = 1.0 - value(soft_jaccard_loss(), Y, P)
    f1 = 1.0 - value(soft_f1_loss(), Y, P)
    np.testing.assert_allclose(f1, 2 * j / (1 + j), rtol=1e-5)


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 2.7, FP = 0.8, FN = 1.3: loss = 1 - 2.7 / 4.8 = 2.1 / 4.8
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(value(soft_jaccard_loss(), Y, P[:, None], sample_weight=w), 2.1 / 4.8, rtol=1e-5)


def test_perfect_worst_and_no_positive_batches():
    # Perfect: TP = 2 -> 0. Worst: TP = 0, FP = FN = 2 -> 1 - eps / (4 + eps) ~ 1.
    np.testing.assert_allclose(value(soft_jaccard_loss(), Y, Y), 0.0, atol=1e-6)
    np.testing.assert_allclose(value(soft_jaccard_loss(), Y, 1.0 - Y), 1.0, rtol=1e-5)
    # No positives, nothing predicted: eps / eps -> 0, not NaN.
    assert value(soft_jaccard_loss(), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)
