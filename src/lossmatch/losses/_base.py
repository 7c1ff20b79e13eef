"""Shared pieces of the lossmatch losses: parameter checks and the soft-count base.

Contract for every loss in this package:

- ``y_pred`` holds probabilities in [0, 1] (the output of a sigmoid), not logits.
- Constructor arguments are checked eagerly; a bad value raises ``ValueError``
  whose message names the factory, the parameter, the allowed range and the
  value received, e.g. ``focal_loss: alpha must be a number in [0, 1], got 1.5``.
- ``get_config`` returns exactly the constructor arguments plus the base
  ``keras.losses.Loss`` arguments (``name``, ``reduction``, ``dtype``), so the
  default ``from_config`` (``cls(**config)``) round-trips.
- Each class is registered with ``register_keras_serializable(package="lossmatch")``
  in its own module, so importing ``lossmatch.losses`` is enough for
  ``keras.saving.load_model`` to rebuild a compiled model.
"""

from __future__ import annotations

import keras
from keras import ops

# The checks live in a TensorFlow-free module so the config schema can run them early.
from lossmatch.loss_params import check_alpha, check_epsilon, check_gamma, check_number  # noqa: F401

# Probabilities are clipped to [CLIP_EPSILON, 1 - CLIP_EPSILON] before any log,
# the same value as keras.config.epsilon() by default, so log(0) never appears.
CLIP_EPSILON = 1e-7


def clip_probabilities(y_pred):
    """Clips probabilities to [CLIP_EPSILON, 1 - CLIP_EPSILON] so logs stay finite."""
    return ops.clip(y_pred, CLIP_EPSILON, 1.0 - CLIP_EPSILON)


def align(y_true, y_pred):
    """Reshapes ``y_true`` to ``y_pred``'s shape: Keras feeds (batch,) labels with (batch, 1) outputs."""
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.reshape(y_true, ops.shape(y_pred))


def mean_last_axis(values):
    """Per-sample mean over the last axis (rank >= 2), as Keras' own losses do.

    Keras' ``sum_over_batch_size`` reduction then averages over the batch, so the
    final value is the mean over all elements, and a (batch,) ``sample_weight``
    lines up with the per-sample values. Rank-1 values are already per sample.
    """
    if len(values.shape) >= 2:
        return ops.mean(values, axis=-1)
    return values


def _broadcast_weight(weight, like):
    """Broadcasts per-sample weights to ``like``'s shape.

    (batch,) weights against (batch, 1) predictions get trailing axes first, so
    each element of a sample gets that sample's weight.
    """
    weight = ops.cast(ops.convert_to_tensor(weight), like.dtype)
    while 0 < len(weight.shape) < len(like.shape):
        weight = ops.expand_dims(weight, axis=-1)
    return ops.broadcast_to(weight, ops.shape(like))


def soft_counts(y_true, y_pred, sample_weight=None, mask=None):
    """Soft confusion counts over the whole batch.

    TP = Σ w·p·y,  FP = Σ w·p·(1 − y),  FN = Σ w·(1 − p)·y,  with w = 1 without
    ``sample_weight``. A per-sample weight thus counts that pair w times, which is
    what Keras' ``class_weight`` turns into: weighting class 1 by w1 and class 0
    by w0 scales TP and FN by w1 and FP by w0. Masked-out elements get w = 0.
    """
    y_true = align(y_true, y_pred)
    weight = ops.ones_like(y_pred)
    if sample_weight is not None:
        weight = weight * _broadcast_weight(sample_weight, y_pred)
    if mask is not None:
        weight = weight * _broadcast_weight(mask, y_pred)
    tp = ops.sum(weight * y_pred * y_true)
    fp = ops.sum(weight * y_pred * (1.0 - y_true))
    fn = ops.sum(weight * (1.0 - y_pred) * y_true)
    return tp, fp, fn


class SoftCountLoss(keras.losses.Loss):
    """Base of the losses computed from batch-level soft TP, FP and FN.

    Subclasses set ``_owner`` (the factory name shown in error messages) and
    implement ``loss_from_counts(tp, fp, fn)``; a subclass with parameters of its
    own checks them in its ``__init__`` and adds them in ``get_config``.

    Every soft-count loss smooths its ratio with ``epsilon`` (> 0, default 1e-7),
    which keeps it finite on a batch with no positives and no predicted
    positives; it is checked and serialised here.

    These losses are defined on the whole batch, not per sample, so the value is
    a scalar and Keras' reduction has nothing left to reduce; ``reduction`` is
    accepted only so that the Keras API and configs stay uniform. ``sample_weight``
    (and so ``class_weight`` in ``fit``) weights the soft counts; Keras' masks
    from ``y_pred`` are folded into the same weights.
    """

    _owner = "SoftCountLoss"
    # The trainer feeds (batch, list) tensors only to losses that set this.
    expects_lists = False

    def __init__(
        self, epsilon=1e-7, name=None, reduction="sum_over_batch_size", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.epsilon = check_epsilon(self._owner, epsilon)

    def loss_from_counts(self, tp, fp, fn):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}

    def call(self, y_true, y_pred):
        return self.loss_from_counts(*soft_counts(y_true, y_pred))

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Overridden rather than relying on Loss.__call__: the base multiplies the
        # already-scalar loss by the weights, which would only rescale it instead
        # of weighting the counts.
        # Keras attaches masks from masking layers as `_keras_mask`.
        mask = getattr(y_pred, "_keras_mask", None)
        with keras.name_scope(self.name):
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
            return self.loss_from_counts(
                *soft_counts(y_true, y_pred, sample_weight, mask)
            )
