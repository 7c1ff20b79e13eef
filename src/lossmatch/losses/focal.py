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
    # Loss.__call__ leaves a Python list a list of scalars; Keras' own losses convert it too.
    y_pred = ops.convert_to_tensor(y_pred)
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

    Examples:
        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(FocalLoss()(y_true, y_pred)), 4)  # α = 0.75, γ = 2
        0.0161
        >>> round(float(FocalLoss(alpha=0.25, gamma=0.5)(y_true, y_pred)), 4)
        0.0472
        >>> per_pair = FocalLoss(reduction=None)(y_true, y_pred)
        >>> [round(v, 4) for v in per_pair.numpy().tolist()]
        [0.0008, 0.0022, 0.0613, 0.0003]
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
    """Returns ``FocalLoss``: mean of α_t·(1 − p_t)^γ·(−log p_t).

    Examples:
        >>> loss = focal_loss(alpha=0.5, gamma=1.0)
        >>> round(float(loss([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.0338
    """
    return FocalLoss(alpha=alpha, gamma=gamma)
