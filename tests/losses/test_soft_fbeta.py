"""Tests specific to the soft F-beta loss: hand-computed values, β = 1 is soft F1.

The checks every loss shares are in test_common.py.
"""

import numpy as np
import pytest
from loss_batch import P, Y, value

from lossmatch.losses import SoftFBetaLoss, soft_f1_loss, soft_fbeta_loss

# Soft counts: TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5


@pytest.mark.parametrize(
    ("beta", "expected"),
    [
        # beta = 2: 1 - 5*1.5 / (5*1.5 + 4*0.5 + 0.3) = 1 - 7.5 / 9.8 = 2.3 / 9.8
        (2.0, 2.3 / 9.8),
        # beta = 1: 1 - 2*1.5 / (2*1.5 + 0.5 + 0.3) = 0.8 / 3.8 (the soft F1 loss)
        (1.0, 0.8 / 3.8),
        # beta = 0.5: 1 - 1.25*1.5 / (1.25*1.5 + 0.25*0.5 + 0.3) = 1 - 1.875 / 2.3 = 0.425 / 2.3
        (0.5, 0.425 / 2.3),
    ],
)
def test_hand_computed_values(beta, expected):
    np.testing.assert_allclose(value(soft_fbeta_loss(beta=beta), Y, P), expected, rtol=1e-5)


def test_the_default_beta_is_one():
    # SoftFBetaLoss() is the soft F1 loss: 0.8 / 3.8 on the batch above.
    np.testing.assert_allclose(value(SoftFBetaLoss(), Y, P), 0.8 / 3.8, rtol=1e-5)


def test_epsilon_enters_numerator_and_denominator():
    # β = 2, ε = 1: 1 − (5·1.5 + 1) / (5·1.5 + 4·0.5 + 0.3 + 1) = 1 − 8.5 / 10.8 = 2.3 / 10.8
    np.testing.assert_allclose(value(soft_fbeta_loss(beta=2.0, epsilon=1.0), Y, P), 2.3 / 10.8, rtol=1e-5)


def test_beta_one_equals_soft_f1():
    p = np.array([0.3, 0.7, 0.2, 0.95, 0.5, 0.05], "float32")
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], "float32")
    np.testing.assert_allclose(value(soft_fbeta_loss(1.0), y, p), value(soft_f1_loss(), y, p), rtol=1e-6)


def test_large_beta_punishes_missed_matches_more():
    # One FN-heavy batch (p low on positives) and one FP-heavy batch (p high on negatives).
    fn_heavy = value(soft_fbeta_loss(beta=3.0), Y, [0.3, 0.0, 0.3, 0.0])
    fp_heavy = value(soft_fbeta_loss(beta=3.0), Y, [1.0, 0.7, 1.0, 0.7])
    assert fn_heavy > fp_heavy


def test_sample_weight_weights_the_counts():
    # w = [1, 2, 3, 4]: TP = 2.7, FP = 0.8, FN = 1.3; beta = 2:
    # 1 - 5*2.7 / (5*2.7 + 4*1.3 + 0.8) = 1 - 13.5 / 19.5 = 6 / 19.5
    w = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(
        value(soft_fbeta_loss(beta=2.0), Y, P[:, None], sample_weight=w), 6.0 / 19.5, rtol=1e-5
    )


def test_no_positive_batch_values():
    # TP = FN = 0, FP = 1.0: loss = 1 - eps / (1 + eps) ~ 1; all zero: eps / eps -> loss 0.
    np.testing.assert_allclose(value(soft_fbeta_loss(2.0), np.zeros(4), [0.1, 0.2, 0.3, 0.4]), 1.0, rtol=1e-5)
    assert value(soft_fbeta_loss(2.0), np.zeros(4), np.zeros(4)) == pytest.approx(0.0, abs=1e-6)
