"""The losses' parameters and their checks, without TensorFlow.

The loss classes (``lossmatch.losses``) check their arguments with these functions, and the
config schema (``lossmatch.config``) runs the same checks on ``loss.*`` before TensorFlow is
imported, so a bad ``loss.alpha`` answers in about a second with the loss's own message.

``LOSS_PARAMETERS`` says which checks apply to each ``_target_`` of ``conf/loss/``. A loss
without an entry still works: its constructor checks its arguments when it is built, which
is later (after the TensorFlow import) but still before any run is tracked.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "LOSS_PARAMETERS",
    "LossSpec",
    "check_alpha",
    "check_epsilon",
    "check_gamma",
    "check_loss_params",
    "check_number",
    "check_positive",
    "check_unit_interval",
]


def check_number(
    owner: str,
    name: str,
    value,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Returns ``value`` as a float if it is a real number within the bounds.

    Booleans, strings, None, NaN and infinities are rejected: ``True`` is an int
    in Python, and a YAML typo such as ``alpha: yes`` must not become ``1``.

    Args:
        owner: name shown first in the message, usually the factory function.
        name: the parameter's name.
        value: what the user passed.
        low, high: bounds of the allowed interval.
        low_open, high_open: whether each bound is excluded.

    Raises:
        ValueError: ``"{owner}: {name} must be a number in {range}, got {value!r}"``.

    >>> check_number("focal_loss", "alpha", 1, low=0.0, high=1.0)
    1.0
    >>> check_number("focal_loss", "alpha", 1.5, low=0.0, high=1.0)
    Traceback (most recent call last):
    ValueError: focal_loss: alpha must be a number in [0, 1], got 1.5
    """
    interval = f"{'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value_f = float(value)
        ok = (
            math.isfinite(value_f)
            and (value_f > low if low_open else value_f >= low)
            and (value_f < high if high_open else value_f <= high)
        )
    if not ok:
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    return value_f


def _fmt(bound: float) -> str:
    if math.isinf(bound):
        return "inf" if bound > 0 else "-inf"
    return f"{bound:g}"


def check_epsilon(owner: str, epsilon) -> float:
    """epsilon > 0: it keeps the soft-count ratios finite when a batch has no positives."""
    return check_number(owner, "epsilon", epsilon, low=0.0, low_open=True, high_open=True)


def check_alpha(owner: str, alpha) -> float:
    """alpha in [0, 1]: the weight of the positive class in the focal loss."""
    return check_number(owner, "alpha", alpha, low=0.0, high=1.0)


def check_gamma(owner: str, gamma) -> float:
    """gamma >= 0: the focusing exponent of the focal loss."""
    return check_number(owner, "gamma", gamma, low=0.0, high_open=True)


def check_unit_interval(owner: str, name: str, value) -> float:
    """A share in [0, 1], such as ``weight_f1``."""
    return check_number(owner, name, value, low=0.0, high=1.0)


def check_positive(owner: str, name: str, value) -> float:
    """A finite number > 0, such as ``beta``, ``pos_weight`` or ``temperature``."""
    return check_number(owner, name, value, low=0.0, low_open=True, high_open=True)


Check = Callable[[str, object], float]


@dataclass(frozen=True)
class LossSpec:
    """What the config schema needs to know of one loss without building it.

    Attributes:
        owner: the name its messages start with (the factory or class name).
        params: parameter name -> check ``(owner, value) -> float``.
        expects_lists: the loss ranks candidate lists (the trainer feeds lists).
    """

    owner: str
    params: Mapping[str, Check] = field(default_factory=dict)
    expects_lists: bool = False


def _named(check: Callable[[str, str, object], float], name: str) -> Check:
    return lambda owner, value: check(owner, name, value)


_SOFT_COUNT = {"epsilon": check_epsilon}
_FOCAL = {"alpha": check_alpha, "gamma": check_gamma}

# Keyed by the ``_target_`` of conf/loss/<name>.yaml.
LOSS_PARAMETERS: dict[str, LossSpec] = {
    "lossmatch.losses.bce_loss": LossSpec("bce_loss"),
    "lossmatch.losses.weighted_bce_loss": LossSpec(
        "weighted_bce_loss", {"pos_weight": _named(check_positive, "pos_weight")}
    ),
    "lossmatch.losses.focal_loss": LossSpec("focal_loss", _FOCAL),
    "lossmatch.losses.soft_f1_loss": LossSpec("soft_f1_loss", _SOFT_COUNT),
    "lossmatch.losses.soft_jaccard_loss": LossSpec("soft_jaccard_loss", _SOFT_COUNT),
    "lossmatch.losses.soft_fbeta_loss": LossSpec(
        "soft_fbeta_loss", {"beta": _named(check_positive, "beta"), **_SOFT_COUNT}
    ),
    "lossmatch.losses.combined_loss": LossSpec(
        "combined_loss", {"weight_f1": _named(check_unit_interval, "weight_f1"), **_SOFT_COUNT, **_FOCAL}
    ),
    "lossmatch.losses.PairwiseSoftZeroOneLoss": LossSpec(
        "PairwiseSoftZeroOneLoss",
        {"temperature": _named(check_positive, "temperature"), "reduction": lambda owner, value: value},
        expects_lists=True,
    ),
}


def check_loss_params(target: str, params: Mapping) -> LossSpec | None:
    """Check ``params`` of the loss built by ``target``; ``None`` if the loss is not listed.

    Raises:
        ValueError: an unknown parameter (naming the known ones) or a value out of range,
            in the loss's own words.
    """
    spec = LOSS_PARAMETERS.get(target)
    if spec is None:
        return None
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        known = ", ".join(sorted(spec.params)) or "none"
        raise ValueError(f"{spec.owner}: unknown parameter {unknown[0]!r} (parameters: {known})")
    for name, value in params.items():
        spec.params[name](spec.owner, value)
    return spec
