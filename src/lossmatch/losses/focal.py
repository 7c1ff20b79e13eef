"""Focal loss (Lin et al. 2017): cross-entropy that down-weights easy pairs."""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import (
    align,
    check_alpha,
    check_gamma,
    clip_probabilities,
    mean_last_axis,
)


def focal_values(y_true, y_pred, alpha, gamma):
    """Element-wise focal loss α_t·(1 − p_t)^γ·(−log p_t) on clipped probabilities."""
    y_true = align(y_true, y_pred)
    p = clip_probabilities(y_pred)
    p_t = y_true * p + (1.0 - y_true) * (1.0 - p)
    alpha_t = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
    return alpha_t * ops.power(1.0 - p_t, gamma) * -ops.log(p_t)


@keras.saving.register_keras_serializable(package="lossmatch")
class FocalLoss(keras.losses.Loss):
    """Binary focal loss on probabilities, averaged over all elements.

    With p clipped to [1e-7, 1 − 1e-7], p_t = p for positives and 1 − p for
    negatives, α_t = α for positives and 1 − α for negatives::

        loss = mean(α_t · (1 − p_t)^γ · (−log p_t))

    (1 − p_t)^γ shrinks the loss of pairs already classified with confidence,
    which under heavy imbalance are mostly easy non-matches; γ = 0 gives
    α-weighted cross-entropy. The loss lies in [0, ~16.1] (−log 1e-7 ≈ 16.1).

    Args:
        alpha: in [0, 1], default 0.75: weight of the positive class.
        gamma: >= 0, default 2.0: focusing exponent.
        name, reduction, dtype: as in ``keras.losses.Loss``; with the default
            reduction the per-sample values (mean over the last axis) are
            averaged over the batch, weighted by ``sample_weight``.
    """

    _owner = "focal_loss"
    expects_lists = False

    def __init__(
        self,
        alpha=0.75,
        gamma=2.0,
        name=None,
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = check_alpha(self._owner, alpha)
        self.gamma = check_gamma(self._owner, gamma)

    def call(self, y_true, y_pred):
        return mean_last_axis(focal_values(y_true, y_pred, self.alpha, self.gamma))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}


def focal_loss(alpha=0.75, gamma=2.0):
    """Returns ``FocalLoss``: mean of α_t·(1 − p_t)^γ·(−log p_t)."""
    return FocalLoss(alpha=alpha, gamma=gamma)
