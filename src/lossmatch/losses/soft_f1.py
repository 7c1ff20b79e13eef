"""Soft F1 loss: 1 − F1 computed from batch-level soft counts."""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import SoftCountLoss


@keras.saving.register_keras_serializable(package="lossmatch")
class SoftF1Loss(SoftCountLoss):
    """1 − soft F1 over the whole batch.

    With TP = Σ p·y, FP = Σ p·(1 − y), FN = Σ (1 − p)·y::

        soft F1 = (2·TP + ε) / (2·TP + FP + FN + ε),   loss = 1 − soft F1

    The loss lies in [0, 1): 0 for perfect predictions, close to 1 when every
    pair is wrong. It optimises F1 directly, so it ignores the flood of easy true
    negatives that dominates cross-entropy under heavy imbalance.

    Args:
        epsilon: > 0, default 1e-7. Keeps the ratio finite on a batch with no
            positives and no predicted positives (the loss is then 0).
        name, reduction, dtype: as in ``keras.losses.Loss``. The value is a
            batch-level scalar, so ``reduction`` has no effect.

    Examples:
        TP = 0.9 + 0.6 = 1.5, FP = 0.2 + 0.1 = 0.3, FN = 0.1 + 0.4 = 0.5: 1 − 3 / 3.8.

        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(SoftF1Loss()(y_true, y_pred)), 4)
        0.2105

        Sample weights weight the counts: TP = 2.7, FP = 0.8, FN = 1.3, so 1 − 5.4 / 7.5.

        >>> round(float(SoftF1Loss()(y_true, y_pred, sample_weight=[1.0, 2.0, 3.0, 4.0])), 4)
        0.28
    """

    _owner = "soft_f1_loss"

    def loss_from_counts(self, tp, fp, fn):
        eps = ops.cast(self.epsilon, tp.dtype)
        return 1.0 - (2.0 * tp + eps) / (2.0 * tp + fp + fn + eps)


def soft_f1_loss(epsilon=1e-7):
    """Returns ``SoftF1Loss(epsilon)``: loss = 1 − (2·TP + ε) / (2·TP + FP + FN + ε).

    Examples:
        A large ε shows where it enters: 1 − (3 + 1) / (3.8 + 1) = 1/6.

        >>> round(float(soft_f1_loss(epsilon=1.0)([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.1667
    """
    return SoftF1Loss(epsilon=epsilon)
