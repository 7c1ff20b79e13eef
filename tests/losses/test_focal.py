"""Tests specific to the focal loss: hand-computed values, γ = 0, clipping.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest
from loss_batch import P, Y, value

from lossmatch.losses import FocalLoss, focal_loss

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


# loss = mean(α_t·(1 − p_t)^γ·(−log p_t)) on the batch Y = [1, 0, 1, 0], P = [0.9, 0.2, 0.6, 0.1]:
#   p_t = [0.9, 0.8, 0.6, 0.9], 1 − p_t = [0.1, 0.2, 0.4, 0.1],
#   −log p_t = [0.1053605, 0.2231436, 0.5108256, 0.1053605].
# m = (1 − p_t)^γ·(−log p_t); S+ = m0 + m2 (the positives), S− = m1 + m3 (the negatives);
# loss = (α·S+ + (1 − α)·S−) / 4.
#   γ = 0.5: (1 − p_t)^0.5 = [0.3162278, 0.4472136, 0.6324555, 0.3162278]
#            m = [0.0333179, 0.0997928, 0.3230745, 0.0333179], S+ = 0.3563924, S− = 0.1331108
#   γ = 1:   m = [0.0105361, 0.0446287, 0.2043302, 0.0105361], S+ = 0.2148663, S− = 0.0551648
#   γ = 2:   m = [0.0010536, 0.0089257, 0.0817321, 0.0010536], S+ = 0.0827857, S− = 0.0099793
# A sign flip (p_t − 1)^γ gives NaN at γ = 0.5 and −loss at γ = 1, so both fail here.
@pytest.mark.parametrize(
    ("alpha", "gamma", "expected"),
    [
        (0.25, 0.5, 0.0472328),  # (0.25*0.3563924 + 0.75*0.1331108) / 4
        (0.5, 0.5, 0.0611879),  # (0.5*0.3563924 + 0.5*0.1331108) / 4
        (0.75, 0.5, 0.0751430),  # (0.75*0.3563924 + 0.25*0.1331108) / 4
        (0.25, 1.0, 0.0237725),  # (0.25*0.2148663 + 0.75*0.0551648) / 4
        (0.5, 1.0, 0.0337539),  # (0.5*0.2148663 + 0.5*0.0551648) / 4
        (0.75, 1.0, 0.0437352),  # (0.75*0.2148663 + 0.25*0.0551648) / 4
        (0.25, 2.0, 0.0070452),  # (0.25*0.0827857 + 0.75*0.0099793) / 4
        (0.5, 2.0, 0.0115956),  # (0.5*0.0827857 + 0.5*0.0099793) / 4
        (0.75, 2.0, 0.0161460),  # (0.75*0.0827857 + 0.25*0.0099793) / 4
    ],
)
def test_values_over_alpha_and_gamma(alpha, gamma, expected):
    np.testing.assert_allclose(value(focal_loss(alpha=alpha, gamma=gamma), Y, P), expected, rtol=1e-5)
    np.testing.assert_allclose(value(FocalLoss(alpha=alpha, gamma=gamma), Y, P[:, None]), expected, rtol=1e-5)


def test_alpha_extremes_keep_one_class():
    # α = 1 keeps the positives' terms only, α = 0 the negatives' (γ = 1):
    #   α = 1: S+ / 4 = 0.2148663 / 4 = 0.0537166;  α = 0: S− / 4 = 0.0551648 / 4 = 0.0137912
    np.testing.assert_allclose(value(focal_loss(alpha=1.0, gamma=1.0), Y, P), 0.0537166, rtol=1e-5)
    np.testing.assert_allclose(value(focal_loss(alpha=0.0, gamma=1.0), Y, P), 0.0137912, rtol=1e-5)


def test_rows_of_two_outputs_are_averaged_per_row():
    # A (2, 2) batch is two samples of two outputs: per-sample means, then the batch mean;
    # with sample_weight [1, 0] only row 0 counts: its mean is (0.75*0.0010536 + 0.25*0.0089257) / 2
    # = (0.00079020 + 0.00223144) / 2 = 0.00151082, over batch size 2 -> 0.00075541.
    y, p = Y.reshape(2, 2), P.reshape(2, 2)
    np.testing.assert_allclose(value(focal_loss(), y, p), PER_ELEMENT.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        value(focal_loss(), y, p, sample_weight=np.array([1.0, 0.0], "float32")), 0.00075541, rtol=1e-5
    )


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
