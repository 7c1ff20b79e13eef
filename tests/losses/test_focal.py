"""Tests specific to the focal loss: hand-computed values, γ = 0, clipping.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest
from loss_batch import P, Y, value

from lossmatch.losses import focal_loss

# Per element, alpha = 0.75, gamma = 2: alpha_t * (1 - p_t)^2 * -log(p_t)
#   pos p=0.9: p_t=0.9, alpha_t=0.75 -> 0.75 * 0.1^2 * 0.1053605 = 0.00079020
#   neg p=0.2: p_t=0.8, alpha_t=0.25 -> 0.25 * 0.2^2 * 0.2231436 = 0.00223144
#   pos p=0.6: p_t=0.6, alpha_t=0.75 -> 0.75 * 0.4^2 * 0.5108256 = 0.06129907
#   neg p=0.1: p_t=0.9, alpha_t=0.25 -> 0.25 * 0.1^2 * 0.1053605 = 0.00026340
PER_ELEMENT = np.array([0.75 * 0.01 * -np.log(0.9), 0.25 * 0.04 * -np.log(0.8),
                        0.75 * 0.16 * -np.log(0.6), 0.25 * 0.01 * -np.log(0.9)])


def test_hand_computed_value():
    # mean = (0.00079020 + 0.00223144 + 0.06129907 + 0.00026340) / 4 = 0.01614603
    np.testing.assert_allclose(value(focal_loss(), Y, P), PER_ELEMENT.mean(), rtol=1e-5)
    np.testing.assert_allclose(value(focal_loss(), Y, P[:, None]), 0.01614603, rtol=1e-5)


def test_gamma_zero_is_alpha_weighted_cross_entropy():
    # gamma = 0, alpha = 0.75: (0.75*0.1053605 + 0.25*0.2231436 + 0.75*0.5108256 + 0.25*0.1053605) / 4
    expected = (0.75 * -np.log(0.9) + 0.25 * -np.log(0.8) + 0.75 * -np.log(0.6) + 0.25 * -np.log(0.9)) / 4
    np.testing.assert_allclose(value(focal_loss(gamma=0.0), Y, P), expected, rtol=1e-5)


def test_sample_weight_is_a_weighted_mean_over_the_batch():
    # Keras "sum_over_batch_size": (1*l0 + 2*l1 + 3*l2 + 4*l3) / 4
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(
        value(focal_loss(), Y, P[:, None], sample_weight=w), (PER_ELEMENT * w).sum() / 4, rtol=1e-5
    )


def test_probabilities_are_clipped():
    # A positive predicted at p = 0 costs 0.75 * (1 - 1e-7)^2 * -log(1e-7) = 12.0886, not inf.
    np.testing.assert_allclose(value(focal_loss(), [1.0], [0.0]), 0.75 * -np.log(1e-7), rtol=1e-5)


def test_spec_example_message():
    with pytest.raises(ValueError, match=r"^focal_loss: alpha must be a number in \[0, 1\], got 1.5$"):
        focal_loss(alpha=1.5)
