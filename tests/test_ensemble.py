"""Ensemble of per-loss probabilities: weights and threshold from validation, on fabricated scores."""

import numpy as np
import pytest

from lossmatch import metrics as match_metrics
from lossmatch.ensemble import Ensemble, fit_ensemble
from lossmatch.errors import InputError

Y = [1, 1, 0, 0]
# Each model misorders one pair: A puts the second match (0.4) below a non-match (0.6),
# B the first (0.4 below 0.6). Alone, each is best cut just below 0.4: tp 2, fp 1 -> F1 4/5.
A = [0.9, 0.4, 0.6, 0.1]
B = [0.4, 0.9, 0.1, 0.6]


def test_each_model_alone_reaches_four_fifths():
    for p in (A, B):
        assert match_metrics.evaluate(Y, p, match_metrics.best_f1_threshold(Y, p))["f1"] == pytest.approx(0.8)


def test_weighted_average_separates_what_neither_model_does():
    ensemble = fit_ensemble({"a": A, "b": B}, Y, seed=0)
    # With weight w on A: matches 0.4 + 0.5w and 0.9 - 0.5w, non-matches 0.1 + 0.5w and 0.6 - 0.5w.
    # min(matches) > max(non-matches) exactly when 0.2 < w < 0.8: F1 = 1 there.
    assert ensemble.val_f1 == 1.0
    assert 0.2 < ensemble.weights["a"] < 0.8
    assert sum(ensemble.weights.values()) == pytest.approx(1.0)
    # The threshold sits between the lowest match and the highest non-match.
    combined = ensemble.combine({"a": A, "b": B})
    assert combined[2:].max() < ensemble.threshold <= combined[:2].min()
    assert ensemble.predict({"b": B, "a": A}).tolist() == Y


def test_a_useless_model_gets_little_weight():
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(20), np.zeros(180)]
    good = np.r_[rng.uniform(0.6, 1.0, 20), rng.uniform(0.0, 0.5, 180)]  # separates perfectly
    noise = rng.uniform(0, 1, 200)
    ensemble = fit_ensemble({"good": good, "noise": noise}, y, seed=0)
    assert ensemble.val_f1 == 1.0
    # Perfect separation survives only while the noise weight stays small: gaps are 0.1 wide.
    assert ensemble.weights["good"] > 0.8


def test_seeded_and_deterministic():
    rng = np.random.default_rng(2)
    y = (rng.random(300) < 0.1).astype(int)
    probs = {name: np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1) for name in ("bce", "focal", "soft_f1")}
    first = fit_ensemble(probs, y, seed=3)
    again = fit_ensemble(probs, y, seed=3)
    assert first == again


def test_missed_matches_count_against_validation_f1():
    # Perfect on the candidates, but 2 of 4 matches were never proposed: recall 1/2, F1 = 2/3.
    ensemble = fit_ensemble({"a": A, "b": B}, Y, missed_matches=2, seed=0)
    assert ensemble.val_f1 == pytest.approx(2 / 3)


def test_single_model_and_bad_input():
    single = fit_ensemble({"a": A}, Y)
    assert single.weights == {"a": 1.0} and single.val_f1 == pytest.approx(0.8)
    with pytest.raises(InputError, match="same pairs"):
        fit_ensemble({"a": A, "b": B[:3]}, Y)
    with pytest.raises(InputError, match="3 validation labels for 4 scored pairs"):
        fit_ensemble({"a": A}, Y[:3])
    with pytest.raises(InputError, match=r"expected probabilities of \['a', 'b'\]"):
        Ensemble({"a": 0.5, "b": 0.5}, 0.5, 1.0).combine({"a": A})


def test_fast_objective_equals_the_metrics_module():
    from lossmatch.ensemble import _max_f1

    rng = np.random.default_rng(4)
    y = (rng.random(500) < 0.05).astype(int)
    p = np.round(rng.random(500), 2)  # rounded: many tied scores
    for missed in (0, 3):
        expected = match_metrics.precision_recall_f1_curve(y, p, missed_matches=missed)[3].max()
        assert _max_f1(y, p, int(y.sum()) + missed) == pytest.approx(expected)
