"""Pairwise soft zero-one ranking loss over lists of candidate pairs.

Follows the layout of keras-rs ``PairwiseLoss`` / ``PairwiseSoftZeroOneLoss``:
a list is, for example, all candidate right records of one left record, and the
loss asks each true match to score above each non-match of its own list.
"""

from __future__ import annotations

import keras
from keras import ops

from lossmatch.losses._base import check_number


def _pairwise(x, op):
    # (batch, list) -> (batch, list, list), where [:, i, j] = op(x_i, x_j).
    return op(ops.expand_dims(x, axis=-1), ops.expand_dims(x, axis=-2))


@keras.saving.register_keras_serializable(package="lossmatch")
class PairwiseSoftZeroOneLoss(keras.losses.Loss):
    """Pairwise soft zero-one loss for ranking the items of each list.

    For the scores s and labels y of one list, item i's loss is::

        loss_i = Σ_j I(y_i > y_j) · (1 − sigmoid((s_i − s_j) / temperature))

    a smooth count of the items j ranked above i although they should be below.
    Each per-item value lies in [0, list_size − 1]. y_pred may be scores or
    probabilities: only differences matter.

    Inputs have shape ``(list_size,)`` or ``(batch, list_size)``. Items labelled
    −1 (the padding of ``lossmatch.listwise.to_lists``) are ignored, i.e. form no
    pair. ``y_true`` may be a dict ``{"labels": ..., "mask": ...}``; the final
    mask is ``mask AND labels >= 0``. ``sample_weight`` weights each item's loss;
    its shape is the labels' shape, ``(batch,)`` (one weight per list) or scalar.

    Args:
        temperature: > 0, default 1.0. Smaller values sharpen the sigmoid
            towards the 0/1 step.
        reduction: ``"sum"``; ``"sum_over_batch_size"`` (default) and ``"mean"``:
            the sum divided by the number of items, masked ones included;
            ``"mean_with_sample_weight"``: the sum divided by the sum of the
            per-item sample weights; ``"none"`` or None: the per-item losses.
        name, dtype: as in ``keras.losses.Loss``.

    Examples:
        Item 0 (a match) is outscored by the non-match 3: σ(−(2 − 1)) + σ(−(2 − 3));
        item 2 by both non-matches: σ(−(0 − 1)) + σ(−(0 − 3)).

        >>> labels, scores = [1.0, 0.0, 1.0, 0.0], [2.0, 1.0, 0.0, 3.0]
        >>> per_item = PairwiseSoftZeroOneLoss(reduction="none")(labels, scores)
        >>> [round(v, 4) for v in per_item.numpy().tolist()]
        [1.0, 0.0, 1.6836, 0.0]
        >>> round(float(PairwiseSoftZeroOneLoss()(labels, scores)), 4)  # the sum over 4 items
        0.6709
    """

    _owner = "PairwiseSoftZeroOneLoss"
    # Tells the trainer to feed (batch, list) tensors built by lossmatch.listwise.
    expects_lists = True

    def __init__(
        self, temperature=1.0, reduction="sum_over_batch_size", name=None, dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = check_number(
            self._owner, "temperature", temperature, low=0.0, low_open=True, high_open=True
        )

    def call(self, y_true, y_pred):
        mask = None
        if isinstance(y_true, dict):
            if "labels" not in y_true:
                raise ValueError(
                    f'{self._owner}: y_true as a dict needs a "labels" key, '
                    f"got keys {sorted(y_true)}"
                )
            mask = y_true.get("mask")
            y_true = y_true["labels"]
        # Loss.__call__ leaves a Python list a list of scalars; Keras' own losses convert it too.
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if len(y_pred.shape) not in (1, 2) or len(y_true.shape) != len(y_pred.shape):
            raise ValueError(
                f"{self._owner}: y_true and y_pred must both have shape (list_size,) "
                f"or (batch, list_size), got {y_true.shape} and {y_pred.shape}"
            )
        unbatched = len(y_pred.shape) == 1
        if unbatched:
            y_true = ops.expand_dims(y_true, axis=0)
            y_pred = ops.expand_dims(y_pred, axis=0)
            mask = None if mask is None else ops.expand_dims(mask, axis=0)

        # Negative labels mark padding; the mask (arrived cast to float by
        # Loss.__call__) removes further items.
        valid = ops.greater_equal(y_true, 0.0)
        if mask is not None:
            valid = ops.logical_and(valid, ops.cast(mask, "bool"))

        # All three are (batch, list, list); [:, i, j] describes the pair (i, j).
        pair_is_ordered = ops.logical_and(
            _pairwise(y_true, ops.greater), _pairwise(valid, ops.logical_and)
        )
        score_diff = _pairwise(y_pred, ops.subtract) / self.temperature
        # 1 − sigmoid(d) written as sigmoid(−d), which stays exact for large d.
        pair_losses = ops.sigmoid(-score_diff) * ops.cast(pair_is_ordered, y_pred.dtype)

        losses = ops.sum(pair_losses, axis=-1)
        return losses[0] if unbatched else losses

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras multiplies per-item losses by sample_weight after aligning ranks
        # only when one trailing axis is 1; a (batch,) weight per list would not
        # broadcast against (batch, list), so it is expanded here first. The
        # per-item weights also make "mean_with_sample_weight" divide by their sum.
        if sample_weight is not None:
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), self.dtype)
            if len(sample_weight.shape) == 1 and len(y_pred.shape) == 2:
                sample_weight = ops.expand_dims(sample_weight, axis=-1)
            sample_weight = ops.broadcast_to(sample_weight, ops.shape(y_pred))
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
