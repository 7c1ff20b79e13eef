"""A weighted average of several models' match probabilities, fitted on validation.

Models trained with different losses err on different pairs (a soft-F1 model is
sharp near its threshold, a cross-entropy one ranks well), so their average can beat
each of them. The weights maximise validation F1, which is piecewise constant in the
weights (it only changes when two pairs swap order), so a gradient-free global search
is the right tool: ``scipy.optimize.differential_evolution``, seeded, without its
gradient-based polishing step. For each candidate weight vector the threshold is
found *exactly* by :func:`lossmatch.metrics.best_f1_threshold` (one sort of the
validation scores) rather than searched as one more dimension: a one-dimensional
search over a step function is solved exactly in O(n log n), and leaving it to the
evolution would only add noise. Test pairs are never seen here.

    ensemble = fit_ensemble({"bce": p_val_bce, "soft_f1": p_val_soft}, y_val, seed=0)
    p_test = ensemble.combine({"bce": p_test_bce, "soft_f1": p_test_soft})
    metrics.evaluate(y_test, p_test, ensemble.threshold)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import differential_evolution

from lossmatch import metrics as match_metrics
from lossmatch.errors import InputError

__all__ = ["Ensemble", "fit_ensemble"]


@dataclass(frozen=True)
class Ensemble:
    """Normalised weights (summing to 1), the decision threshold and the validation F1 they reach."""

    weights: dict[str, float]
    threshold: float
    val_f1: float

    def combine(self, probabilities: Mapping[str, np.ndarray]) -> np.ndarray:
        """The weighted average of ``{model: probabilities}`` (same models as fitted)."""
        names, stacked = _stack(probabilities)
        if set(names) != set(self.weights):
            raise InputError(f"ensemble: expected probabilities of {sorted(self.weights)}, got {sorted(names)}")
        w = np.array([self.weights[n] for n in names])
        return w @ stacked

    def predict(self, probabilities: Mapping[str, np.ndarray]) -> np.ndarray:
        """1 where the combined probability reaches the threshold."""
        return (self.combine(probabilities) >= self.threshold).astype(int)


def _stack(probabilities: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    if not probabilities:
        raise InputError("ensemble: no model probabilities given")
    names = list(probabilities)
    arrays = [np.asarray(probabilities[n], dtype=np.float64).ravel() for n in names]
    lengths = {n: len(a) for n, a in zip(names, arrays)}
    if len(set(lengths.values())) != 1:
        raise InputError(f"ensemble: every model must score the same pairs; got lengths {lengths}")
    return names, np.vstack(arrays)


def _normalise(raw: np.ndarray) -> np.ndarray:
    total = raw.sum()
    # All-zero weights carry no preference: the plain average.
    return raw / total if total > 0 else np.full(len(raw), 1.0 / len(raw))


def _max_f1(y: np.ndarray, p: np.ndarray, n_true: int) -> float:
    """Best F1 over all thresholds: the evolution's objective, evaluated thousands of times.

    Written with NumPy (one sort, two cumulative sums) because scikit-learn's input
    checks cost ~5 ms per call on small arrays, 30x the work itself; the final
    threshold and F1 come from :mod:`lossmatch.metrics`. ``n_true`` counts all true
    matches, those missed by blocking included.
    """
    order = np.argsort(-p, kind="stable")
    tp = np.cumsum(y[order])
    cut = np.r_[p[order][1:] != p[order][:-1], True]  # last pair of each run of equal scores
    tp, predicted = tp[cut], np.flatnonzero(cut) + 1
    return float(np.max(2 * tp / (predicted + n_true))) if n_true else 0.0


def fit_ensemble(
    probabilities: Mapping[str, np.ndarray],
    y_val,
    *,
    missed_matches: int = 0,
    seed: int = 0,
    maxiter: int = 60,
    popsize: int = 15,
) -> Ensemble:
    """Weights and threshold that maximise validation F1 of the weighted average.

    Args:
        probabilities: ``{model name: validation probabilities}``, all for the same pairs.
        y_val: validation labels (0/1) of those pairs.
        missed_matches: validation matches blocking never proposed (false negatives at any threshold).
        seed: seed of the evolution; the same inputs and seed give the same ensemble.
        maxiter, popsize: differential evolution's budget (generations, population per weight).
    """
    names, stacked = _stack(probabilities)
    y = np.asarray(y_val).astype(int).ravel()
    if len(y) != stacked.shape[1]:
        raise InputError(f"ensemble: {len(y)} validation labels for {stacked.shape[1]} scored pairs")

    n_true = int(y.sum()) + int(missed_matches)

    def f1_of(weights: np.ndarray) -> tuple[float, float]:
        p = weights @ stacked
        t = match_metrics.best_f1_threshold(y, p, missed_matches=missed_matches)
        return match_metrics.evaluate(y, p, t, missed_matches=missed_matches)["f1"], t

    if len(names) == 1:
        f1, t = f1_of(np.ones(1))
        return Ensemble({names[0]: 1.0}, t, f1)
    result = differential_evolution(
        lambda raw: -_max_f1(y, _normalise(raw) @ stacked, n_true),
        bounds=[(0.0, 1.0)] * len(names),
        rng=np.random.default_rng(seed),
        maxiter=maxiter,
        popsize=popsize,
        polish=False,  # gradient polishing is meaningless on a step function
    )
    weights = _normalise(result.x)
    f1, t = f1_of(weights)
    return Ensemble({n: float(w) for n, w in zip(names, weights)}, t, f1)
