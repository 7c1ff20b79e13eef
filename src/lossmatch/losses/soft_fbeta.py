"""Soft F-beta loss: 1 − Fβ from batch-level soft counts; β > 1 favours recall."""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import SoftCountLoss, check_number


@keras.saving.register_keras_serializable(package="lossmatch")
class SoftFBetaLoss(SoftCountLoss):
    """1 − soft Fβ over the whole batch.

    With TP = Σ p·y, FP = Σ p·(1 − y), FN = Σ (1 − p)·y::

        soft Fβ = ((1 + β²)·TP + ε) / ((1 + β²)·TP + β²·FN + FP + ε)
        loss    = 1 − soft Fβ

    β = 1 gives the soft F1 loss. β > 1 makes a missed match (FN) cost β² times
    a false match (FP), so it trades precision for recall; β < 1 the reverse.
    The loss lies in [0, 1).

    Args:
        beta: > 0, default 1.0.
        epsilon: > 0, default 1e-7; keeps the ratio finite on an empty batch.
        name, reduction, dtype: as in ``keras.losses.Loss``. The value is a
            batch-level scalar, so ``reduction`` has no effect.

    Examples:
        TP = 1.5, FP = 0.3, FN = 0.5; β = 2 weighs the missed matches 4 times: 1 − 7.5 / 9.8.

        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(SoftFBetaLoss(beta=2.0)(y_true, y_pred)), 4)
        0.2347
        >>> round(float(SoftFBetaLoss(beta=0.5)(y_true, y_pred)), 4)  # 1 − 1.875 / 2.3
        0.1848
    """

    _owner = "soft_fbeta_loss"

    def __init__(
        self,
        beta=1.0,
        epsilon=1e-7,
        name=None,
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        # beta is checked before epsilon (in SoftCountLoss), so a bad beta is reported first.
        beta = check_number(self._owner, "beta", beta, low=0.0, low_open=True, high_open=True)
        super().__init__(epsilon=epsilon, name=name, reduction=reduction, dtype=dtype)
        self.beta = beta

    def loss_from_counts(self, tp, fp, fn):
        beta2 = ops.cast(self.beta**2, tp.dtype)
        eps = ops.cast(self.epsilon, tp.dtype)
        numerator = (1.0 + beta2) * tp + eps
        return 1.0 - numerator / (numerator + beta2 * fn + fp)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


def soft_fbeta_loss(beta=1.0, epsilon=1e-7):
    """Returns ``SoftFBetaLoss``: 1 − ((1+β²)·TP + ε) / ((1+β²)·TP + β²·FN + FP + ε).

    Examples:
        β = 2, ε = 1: 1 − (7.5 + 1) / (9.8 + 1) = 2.3 / 10.8.

        >>> loss = soft_fbeta_loss(beta=2.0, epsilon=1.0)
        >>> round(float(loss([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.213
    """
    return SoftFBetaLoss(beta=beta, epsilon=epsilon)
