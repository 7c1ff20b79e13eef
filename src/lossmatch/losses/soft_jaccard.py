"""Soft Jaccard (IoU) loss: 1 − TP / (TP + FP + FN) from batch-level soft counts."""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import SoftCountLoss


@keras.saving.register_keras_serializable(package="lossmatch")
class SoftJaccardLoss(SoftCountLoss):
    """1 − soft Jaccard index over the whole batch.

    With TP = Σ p·y, FP = Σ p·(1 − y), FN = Σ (1 − p)·y::

        soft J = (TP + ε) / (TP + FP + FN + ε),   loss = 1 − soft J

    Jaccard J and F1 are monotone in each other (F1 = 2J / (1 + J)), but J
    punishes a partly wrong batch harder, so its gradients stay larger near the
    optimum. The loss lies in [0, 1).

    Args:
        epsilon: > 0, default 1e-7; keeps the ratio finite on an empty batch.
        name, reduction, dtype: as in ``keras.losses.Loss``. The value is a
            batch-level scalar, so ``reduction`` has no effect.

    Examples:
        TP = 1.5, FP = 0.3, FN = 0.5: 1 − 1.5 / 2.3.

        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(SoftJaccardLoss()(y_true, y_pred)), 4)
        0.3478
    """

    _owner = "soft_jaccard_loss"

    def loss_from_counts(self, tp, fp, fn):
        eps = ops.cast(self.epsilon, tp.dtype)
        return 1.0 - (tp + eps) / (tp + fp + fn + eps)


def soft_jaccard_loss(epsilon=1e-7):
    """Returns ``SoftJaccardLoss(epsilon)``: loss = 1 − (TP + ε) / (TP + FP + FN + ε).

    Examples:
        ε = 1: 1 − (1.5 + 1) / (2.3 + 1) = 0.8 / 3.3.

        >>> loss = soft_jaccard_loss(epsilon=1.0)
        >>> round(float(loss([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.2424
    """
    return SoftJaccardLoss(epsilon=epsilon)
