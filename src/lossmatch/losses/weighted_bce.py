"""Weighted binary cross-entropy: the positive term is multiplied by pos_weight."""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import align, check_number, clip_probabilities, mean_last_axis


@keras.saving.register_keras_serializable(package="lossmatch")
class WeightedBCELoss(keras.losses.Loss):
    """Binary cross-entropy on probabilities with a weighted positive term.

    With p clipped to [1e-7, 1 − 1e-7] and w = pos_weight::

        loss = mean(−w·y·log p − (1 − y)·log(1 − p))

    This equals ``tf.nn.weighted_cross_entropy_with_logits(y, log(p / (1 − p)), w)``
    averaged. w > 1 makes a missed match cost more (favours recall); w < 1
    favours precision; w = 1 is plain binary cross-entropy. A common choice is
    w = negatives / positives of the training split. Range [0, ~16.1·max(w, 1)].

    Args:
        pos_weight: > 0, default 1.0.
        name, reduction, dtype: as in ``keras.losses.Loss``.

    Examples:
        >>> y_true, y_pred = [1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1]
        >>> round(float(WeightedBCELoss(pos_weight=2.0)(y_true, y_pred)), 4)
        0.3902
        >>> round(float(WeightedBCELoss(pos_weight=1.0)(y_true, y_pred)), 4)  # plain BCE
        0.2362
    """

    _owner = "weighted_bce_loss"
    expects_lists = False

    def __init__(
        self, pos_weight=1.0, name=None, reduction="sum_over_batch_size", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.pos_weight = check_number(
            self._owner, "pos_weight", pos_weight, low=0.0, low_open=True, high_open=True
        )

    def call(self, y_true, y_pred):
        # Loss.__call__ leaves a Python list a list of scalars; Keras' own losses convert it too.
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = align(y_true, y_pred)
        p = clip_probabilities(y_pred)
        values = -self.pos_weight * y_true * ops.log(p) - (1.0 - y_true) * ops.log(1.0 - p)
        return mean_last_axis(values)

    def get_config(self):
        return {**super().get_config(), "pos_weight": self.pos_weight}


def weighted_bce_loss(pos_weight=1.0):
    """Returns ``WeightedBCELoss``: mean of −w·y·log p − (1 − y)·log(1 − p).

    Examples:
        >>> round(float(weighted_bce_loss(0.5)([1.0, 0.0, 1.0, 0.0], [0.9, 0.2, 0.6, 0.1])), 4)
        0.1591
    """
    return WeightedBCELoss(pos_weight=pos_weight)
