"""Class imbalance toolkit: class weights, resampling and prior-shift correction.

These functions back ``trainer.class_weight`` (none | balanced | validation |
{0: w0, 1: w1}) and ``trainer.sampling`` / ``trainer.sampling_ratio``. Resampling
is applied to the training split only; because it changes the class prior the
model learns, ``correct_prior`` maps its probabilities back before thresholding.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np

from lossmatch.errors import InputError

SAMPLING_METHODS = ("none", "oversample", "undersample")


def balanced_class_weights(y) -> dict[int, float]:
    """scikit-learn's "balanced" weights, w_c = n_samples / (n_classes · count_c).

    Returns:
        ``{class: weight}`` with python int keys and float values, the form
        ``keras.Model.fit(class_weight=...)`` expects.
    """
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(y).ravel()
    if y.size == 0:
        raise ValueError("balanced_class_weights: y is empty")
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    return {int(c): float(w) for c, w in zip(classes, weights)}


def class_weights_from_losses(per_class_losses, smoothing=1.0) -> np.ndarray:
    """Weights that grow with each class's loss.

    w_c = K · L_c^s / Σ_k L_k^s, for K classes, losses L and smoothing s, so the
    weights sum to K. s = 0 gives all ones; larger s puts more weight on the
    classes the model finds hard. If every loss is 0 (nothing to correct) the
    weights are all ones.
    """
    losses = np.asarray(per_class_losses, dtype=np.float64).ravel()
    if losses.size == 0 or not np.all(np.isfinite(losses)) or np.any(losses < 0):
        raise ValueError(
            "class_weights_from_losses: per_class_losses must be non-empty, finite "
            f"and >= 0, got {per_class_losses!r}"
        )
    if (
        not isinstance(smoothing, numbers.Real)
        or isinstance(smoothing, bool)
        or not math.isfinite(smoothing)
        or smoothing < 0
    ):
        raise ValueError(
            f"class_weights_from_losses: smoothing must be a number in [0, inf), got {smoothing!r}"
        )
    powered = losses**smoothing  # 0**0 == 1, so s = 0 gives ones even for a zero loss
    total = powered.sum()
    if total == 0:
        return np.ones_like(losses)
    return powered / total * losses.size


def validation_class_weights(y_true, y_prob, smoothing=1.0) -> np.ndarray:
    """Class weights from each class's log loss on a validation split.

    Class c's loss is scikit-learn's ``log_loss`` of the one-vs-rest column c
    (P(class c)) on the rows whose true class is c, i.e. the mean of
    −log P(y = c) over the class-c pairs: how badly the model does on that class.
    A binary ``y_prob`` of shape (n,) holds P(class 1) and is read as the two
    columns [1 − p, p]. The losses go through
    ``class_weights_from_losses(losses, smoothing)``.

    NOTE: the one-vs-rest log loss over *all* rows would not do: for two classes
    the columns are 1 − p and p with complementary labels, so both classes get
    the same loss and the weights are always [1, 1].

    Returns:
        An array of K weights, index = class. A class absent from ``y_true``
        gets loss 0.
    """
    from sklearn.metrics import log_loss

    y_true = np.asarray(y_true).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim == 1:
        y_prob = np.column_stack([1.0 - y_prob, y_prob])
    if y_prob.ndim != 2 or y_prob.shape[0] != y_true.shape[0]:
        raise ValueError(
            "validation_class_weights: y_prob must have shape (n,) or (n, n_classes) "
            f"with n = len(y_true) = {y_true.shape[0]}, got {y_prob.shape}"
        )
    losses = []
    for c in range(y_prob.shape[1]):
        rows = y_true == c
        if not rows.any():
            losses.append(0.0)
            continue
        # Every selected row is a positive of column c; labels=[0, 1] tells
        # log_loss the other label exists even though it does not occur here.
        losses.append(log_loss(np.ones(rows.sum()), y_prob[rows, c], labels=[0, 1]))
    return class_weights_from_losses(losses, smoothing)


def check_class_weight_mapping(mapping) -> dict[int, float]:
    """Validates an explicit ``trainer.class_weight`` such as ``{0: 3.0, 1: 1.0}``.

    Keys may be ints or the strings "0"/"1" (YAML and command-line overrides
    give strings); both classes must be present, nothing else; weights must be
    positive finite numbers.

    Returns:
        ``{0: float, 1: float}``.

    Raises:
        InputError: naming ``trainer.class_weight`` and the value received.
    """

    def fail(why):
        raise InputError(
            f"trainer.class_weight: {why}; expected a mapping {{0: w0, 1: w1}} with "
            f"positive finite weights, got {mapping!r}"
        )

    if not isinstance(mapping, Mapping):
        fail("not a mapping")
    result: dict[int, float] = {}
    for key, weight in mapping.items():
        # bool is an int subclass: {True: 2.0} must not pass as class 1.
        if isinstance(key, bool):
            fail(f"key {key!r} is not a class")
        if isinstance(key, str) and key.strip() in ("0", "1"):
            key = int(key.strip())
        if not (isinstance(key, numbers.Integral) and key in (0, 1)):
            fail(f"key {key!r} is not class 0 or 1")
        key = int(key)
        if key in result:
            fail(f"class {key} is given twice")
        if (
            not isinstance(weight, numbers.Real)
            or isinstance(weight, bool)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            fail(f"weight {weight!r} of class {key} is not a positive finite number")
        result[key] = float(weight)
    missing = sorted({0, 1} - set(result))
    if missing:
        fail(f"class {missing[0]} is missing")
    return result


def resample(X, y, method="none", ratio=1.0, seed=None):
    """Resamples the training split with imbalanced-learn.

    ``method`` is "none" (X, y returned unchanged), "oversample"
    (``RandomOverSampler``: duplicates positives) or "undersample"
    (``RandomUnderSampler``: drops negatives). ``ratio`` is the desired
    minority/majority ratio after resampling (imbalanced-learn's float
    ``sampling_strategy``), in (0, 1]; it must be at least the current ratio,
    since neither sampler can move it the other way.

    Returns:
        (X_res, y_res).

    Raises:
        InputError: naming ``trainer.sampling`` or ``trainer.sampling_ratio``.
    """
    if method not in SAMPLING_METHODS:
        raise InputError(
            f"trainer.sampling must be one of {', '.join(SAMPLING_METHODS)}, got {method!r}"
        )
    if method == "none":
        return X, y
    if (
        not isinstance(ratio, numbers.Real)
        or isinstance(ratio, bool)
        or not math.isfinite(ratio)
        or not 0 < ratio <= 1
    ):
        raise InputError(
            f"trainer.sampling_ratio must be a number in (0, 1] "
            f"(minority/majority after resampling), got {ratio!r}"
        )
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    counts = np.bincount(np.asarray(y).astype(int).ravel(), minlength=2)
    if counts.min() and counts.min() / counts.max() >= ratio:
        # Already at least this balanced: imbalanced-learn would refuse; resampling is a no-op.
        warnings.warn(
            f"trainer.sampling={method!r}: the training split is already balanced to "
            f"{counts.min() / counts.max():.3f} >= trainer.sampling_ratio={ratio}; not resampled"
        )
        return X, y
    sampler_cls = RandomOverSampler if method == "oversample" else RandomUnderSampler
    sampler = sampler_cls(sampling_strategy=float(ratio), random_state=seed)
    try:
        return sampler.fit_resample(X, y)
    except ValueError as err:
        # imbalanced-learn refuses a ratio below the current one, and float
        # ratios on anything but two classes; say which setting to change.
        raise InputError(
            f"trainer.sampling_ratio={ratio!r} cannot be used with "
            f"trainer.sampling={method!r} on this training split: {err}"
        ) from err


def correct_prior(p, train_prior, sampled_prior):
    """Maps probabilities learnt under the resampled prior back to the true prior.

    With π = positive rate of the training split and π_s = positive rate after
    resampling, Bayes' rule with the class-conditional likelihoods unchanged gives::

        p' = p·π/π_s / (p·π/π_s + (1 − p)·(1 − π)/(1 − π_s))

    The identity when π = π_s. Apply it before choosing or using a threshold.
    """
    for name, prior in (("train_prior", train_prior), ("sampled_prior", sampled_prior)):
        if (
            not isinstance(prior, numbers.Real)
            or isinstance(prior, bool)
            or not 0 < prior < 1
        ):
            raise ValueError(f"correct_prior: {name} must be a number in (0, 1), got {prior!r}")
    p = np.asarray(p, dtype=np.float64)
    positive = p * (train_prior / sampled_prior)
    negative = (1.0 - p) * ((1.0 - train_prior) / (1.0 - sampled_prior))
    return positive / (positive + negative)
