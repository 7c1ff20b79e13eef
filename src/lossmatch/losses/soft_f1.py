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
    """

    _owner = "soft_f1_loss"

    def loss_from_counts(self, tp, fp, fn):
        eps = ops.cast(self.epsilon, tp.dtype)
        return 1.0 - (2.0 * tp + eps) / (2.0 * tp + fp + fn + eps)


def soft_f1_loss(epsilon=1e-7):
    """Returns ``SoftF1Loss(epsilon)``: loss = 1 − (2·TP + ε) / (2·TP + FP + FN + ε)."""
    return SoftF1Loss(epsilon=epsilon)
