"""Tests specific to the combined loss: it is the weighted sum of soft F1 and focal.

The checks every loss shares are in test_common.py.
"""

import numpy as np
from loss_batch import P, Y, value

from lossmatch.losses import combined_loss, focal_loss, soft_f1_loss

# Soft F1 term: TP = 1.5, FP = 0.3, FN = 0.5 -> 1 - 3 / 3.8 = 0.8 / 3.8 = 0.2105263
F1_TERM = 0.8 / 3.8
# Focal term with the combined default alpha = 0.25 (positives 0.25, negatives 0.75), gamma = 2:
#   (0.25*0.1^2*0.1053605 + 0.75*0.2^2*0.2231436 + 0.25*0.4^2*0.5108256 + 0.75*0.1^2*0.1053605) / 4
#   = (0.00026340 + 0.00669431 + 0.02043302 + 0.00079020) / 4 = 0.00704523
FOCAL_TERM = (0.25 * 0.01 * -np.log(0.9) + 0.75 * 0.04 * -np.log(0.8)
              + 0.25 * 0.16 * -np.log(0.6) + 0.75 * 0.01 * -np.log(0.9)) / 4


def test_hand_computed_value():
    # 0.5 * 0.2105263 + 0.5 * 0.00704523 = 0.1087858
    np.testing.assert_allclose(value(combined_loss(), Y, P), 0.5 * F1_TERM + 0.5 * FOCAL_TERM, rtol=1e-5)
    # weight_f1 = 0.25: 0.25 * 0.2105263 + 0.75 * 0.00704523 = 0.0579155
    np.testing.assert_allclose(
        value(combined_loss(weight_f1=0.25), Y, P[:, None]), 0.25 * F1_TERM + 0.75 * FOCAL_TERM, rtol=1e-5
    )


def test_every_parameter_reaches_its_term():
    # weight_f1 = 0.3, ε = 1, α = 0.6, γ = 0.5 (no default left):
    #   soft F1 term with ε = 1: 1 − (3 + 1) / (3.8 + 1) = 1/6 (see test_soft_f1)
    #   focal term: (0.6·S+ + 0.4·S−) / 4 with S+ = 0.3563924, S− = 0.1331108 at γ = 0.5 (see
    #   test_focal) = (0.2138354 + 0.0532443) / 4 = 0.0667699
    #   0.3 · 1/6 + 0.7 · 0.0667699 = 0.05 + 0.0467390 = 0.0967390
    loss = combined_loss(weight_f1=0.3, epsilon=1.0, alpha=0.6, gamma=0.5)
    np.testing.assert_allclose(value(loss, Y, P), 0.0967390, rtol=1e-5)


def test_extreme_weights_give_the_parts():
    # weight_f1 = 1 is soft F1 alone, 0 is focal alone (with the combined alpha).
    np.testing.assert_allclose(value(combined_loss(weight_f1=1.0), Y, P), value(soft_f1_loss(), Y, P), rtol=1e-6)
    np.testing.assert_allclose(
        value(combined_loss(weight_f1=0.0), Y, P), value(focal_loss(alpha=0.25), Y, P), rtol=1e-6
    )


def test_sample_weight_reaches_both_terms():
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    # Soft F1 with weighted counts is 2.1 / 7.5 = 0.28 (see test_soft_f1); focal is the weighted mean.
    expected = 0.5 * 0.28 + 0.5 * value(focal_loss(alpha=0.25), Y, P[:, None], sample_weight=w)
    np.testing.assert_allclose(value(combined_loss(), Y, P[:, None], sample_weight=w), expected, rtol=1e-5)
