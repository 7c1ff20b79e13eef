"""Combined loss: a convex mix of the soft F1 loss and the focal loss."""

from __future__ import annotations

import keras

from lossmatch.losses._base import (
    check_alpha,
    check_epsilon,
    check_gamma,
    check_number,
)
from lossmatch.losses.focal import FocalLoss
from lossmatch.losses.soft_f1 import SoftF1Loss


@keras.saving.register_keras_serializable(package="lossmatch")
class CombinedLoss(keras.losses.Loss):
    """weight_f1 · SoftF1Loss(ε) + (1 − weight_f1) · FocalLoss(α, γ).

    Soft F1 targets the metric but its gradient is weak when the batch has few
    positives; the focal term keeps a per-pair signal. The soft F1 term is a
    batch-level scalar (sample weights weight its soft counts), the focal term
    is its weighted mean over the batch, so the result is always a scalar and
    ``reduction`` has no effect. Range [0, ~16.1]; with weight_f1 = 1 it is
    [0, 1).

    Args:
        weight_f1: in [0, 1], default 0.5: share of the soft F1 term.
        epsilon: > 0, default 1e-7: soft F1 smoothing.
        alpha: in [0, 1], default 0.25 (note: focal_loss defaults to 0.75).
        gamma: >= 0, default 2.0.
        name, reduction, dtype: as in ``keras.losses.Loss``.

    Examples:
        Soft F1 term 0.8 / 3.8 = 0.2105, focal term (α = 0.25, γ = 2) 0.0070:

        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(CombinedLoss()(y_true, y_pred)), 4)  # 0.5 · 0.2105 + 0.5 · 0.0070
        0.1088
        >>> round(float(CombinedLoss(weight_f1=1.0)(y_true, y_pred)), 4)  # soft F1 alone
        0.2105
    """

    _owner = "combined_loss"
    expects_lists = False

    def __init__(
        self,
        weight_f1=0.5,
        epsilon=1e-7,
        alpha=0.25,
        gamma=2.0,
        name=None,
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.weight_f1 = check_number(self._owner, "weight_f1", weight_f1, low=0.0, high=1.0)
        self.epsilon = check_epsilon(self._owner, epsilon)
        self.alpha = check_alpha(self._owner, alpha)
        self.gamma = check_gamma(self._owner, gamma)
        self._soft_f1 = SoftF1Loss(epsilon=self.epsilon, dtype=dtype)
        # The focal term always uses the mean, whatever `reduction` says: a sum
        # would make weight_f1 depend on the batch size.
        self._focal = FocalLoss(alpha=self.alpha, gamma=self.gamma, dtype=dtype)

    def call(self, y_true, y_pred):
        return self.__call__(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Each term applies sample_weight its own way (see the class docstring),
        # so Loss.__call__, which would weight the scalar again, is bypassed.
        f1_term = self._soft_f1(y_true, y_pred, sample_weight=sample_weight)
        focal_term = self._focal(y_true, y_pred, sample_weight=sample_weight)
        return self.weight_f1 * f1_term + (1.0 - self.weight_f1) * focal_term

    def get_config(self):
        return {
            **super().get_config(),
            "weight_f1": self.weight_f1,
            "epsilon": self.epsilon,
            "alpha": self.alpha,
            "gamma": self.gamma,
        }


def combined_loss(weight_f1=0.5, epsilon=1e-7, alpha=0.25, gamma=2.0):
    """Returns ``CombinedLoss``: weight_f1·SoftF1(ε) + (1 − weight_f1)·Focal(α, γ).

    Examples:
        0.3 · 1/6 (soft F1, ε = 1) + 0.7 · 0.0668 (focal, α = 0.6, γ = 0.5):

        >>> loss = combined_loss(weight_f1=0.3, epsilon=1.0, alpha=0.6, gamma=0.5)
        >>> round(float(loss([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.0967
    """
    return CombinedLoss(weight_f1=weight_f1, epsilon=epsilon, alpha=alpha, gamma=gamma)
