"""The evaluate stage on tiny hand-built splits, without a model or a config.

A stand-in Training returns each pair's first feature as the model's output, so every
probability, threshold and count below is known in advance. These are the tests the
mutation run (bench/mutation.py) uses for ``stages/evaluate.py``; the end-to-end
promises (the pipeline's threshold is the best-F1 threshold of its own validation
predictions) are in tests/test_stages.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lossmatch.common import SPLITS
from lossmatch.stages.evaluate import choose_threshold, evaluate
from lossmatch.stages.fit import FitResult, Fitted
from lossmatch.training import SplitData


def _split(scores, labels, missed=0):
    n = len(scores)
    pairs = pd.DataFrame({"left": np.arange(n), "right": np.arange(n)})
    return SplitData(pairs, np.asarray(scores, dtype=np.float64).reshape(-1, 1), np.asarray(labels, dtype=np.float32), missed)


class _RecordingTraining:
    """Duck-types the two Training methods the stage calls, and records how it calls them.

    Output of a pair = its first feature. The loss is the mean squared error of the outputs
    it is *given* (it refuses to predict again: the stage promises one prediction per split).
    """

    def __init__(self):
        self.predict_calls = []
        self.loss_calls = []

    def predict_raw(self, model, split, *, listwise=False, list_size=32):
        self.predict_calls.append((model, listwise, list_size))
        return split.X[:, 0].astype(np.float64)

    def loss_value(self, model, split, *, outputs=None, listwise=False, list_size=32):
        assert outputs is not None, "evaluate must pass the outputs it already has"
        self.loss_calls.append((model, listwise, list_size))
        return float(np.mean((split.y - np.asarray(outputs)) ** 2))


def _fitted(result=None, listwise=False):
    return Fitted(model=object(), loss=None, loss_name="stub", listwise=listwise, result=result or FitResult(), seconds=0.0)


def test_choose_threshold_counts_the_matches_blocking_missed():
    # Scores 0.9 0.8 0.7 0.6 0.4, labels 1 0 0 0 1; F1 = 2tp / (2tp + fp + fn + missed).
    # Cut between 0.9 and 0.8 (threshold 0.85): tp 1, fp 0, fn 1 -> 2 / (3 + missed).
    # Cut at the lowest score (threshold 0.4, nothing lower): tp 2, fp 3 -> 4 / (7 + missed).
    # missed 0: 2/3 > 4/7 -> 0.85.  missed 2: 2/5 = 0.40 < 4/9 = 0.44 -> 0.4.
    scores, labels = [0.9, 0.8, 0.7, 0.6, 0.4], [1, 0, 0, 0, 1]
    assert choose_threshold(_split(scores, labels), np.array(scores)) == pytest.approx(0.85)
    assert choose_threshold(_split(scores, labels, missed=2), np.array(scores)) == pytest.approx(0.4)


def test_evaluate_predicts_each_split_once_and_reuses_the_outputs_for_the_loss():
    training = _RecordingTraining()
    splits = {s: _split([0.9, 0.2], [1, 0]) for s in SPLITS}
    fitted = _fitted(listwise=True)
    ev = evaluate(fitted, training, splits, list_size=7)
    # One prediction per split, of the fitted model, and listwise / list_size reach both calls.
    assert training.predict_calls == [(fitted.model, True, 7)] * 3
    assert training.loss_calls == [(fitted.model, True, 7)] * 3
    # (1 - 0.9)^2 and (0 - 0.2)^2: mean of 0.01 and 0.04.
    for s in SPLITS:
        assert ev.metrics[s]["loss"] == pytest.approx(0.025)


def test_evaluate_maps_probabilities_back_to_the_true_prior_before_choosing_the_threshold():
    # Trained on a 50 % positive sample of data with 10 % positives: p' = p*0.2 / (p*0.2 + (1-p)*1.8)
    # = p / (9 - 8p).  0.9 -> 0.5, 0.75 -> 0.25, 0.6 -> 1/7, 0.5 -> 0.1, 0.1 -> 0.1/8.2.
    training = _RecordingTraining()
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        # Corrected val 0.5, 0.25 | 0.1, 0.012: the cut is halfway between 0.25 and 0.1 = 0.175
        # (uncorrected it would be halfway between 0.75 and 0.5 = 0.625).
        "val": _split([0.9, 0.75, 0.5, 0.1], [1, 1, 0, 0]),
        # Corrected test 0.5, 1/7, 0.1 at 0.175: tp 1 (0.5), fn 1 (1/7), tn 1 (0.1), fp 0.
        "test": _split([0.9, 0.6, 0.5], [1, 1, 0]),
    }
    ev = evaluate(_fitted(FitResult(prior=(0.1, 0.5))), training, splits, list_size=None)
    assert ev.threshold == pytest.approx(0.175)
    np.testing.assert_allclose(ev.probabilities["test"], [0.5, 1 / 7, 0.1])
    np.testing.assert_allclose(ev.probabilities["val"], [0.5, 0.25, 0.1, 0.1 / 8.2])
    t = ev.metrics["test"]
    assert (t["tp"], t["fp"], t["fn"], t["tn"]) == (1, 0, 1, 1)
    # Brier of the corrected test probabilities: ((0.5)^2 + (6/7)^2 + 0.1^2) / 3.
    assert t["brier"] == pytest.approx((0.25 + (6 / 7) ** 2 + 0.01) / 3)
    # The loss is taken on the model's own outputs, before the correction:
    # ((0.1)^2 + (0.4)^2 + (0.5)^2) / 3 = 0.42 / 3.
    assert t["loss"] == pytest.approx(0.42 / 3)


def test_evaluate_keeps_a_cross_fitted_threshold_and_the_out_of_fold_validation_scores():
    # trainer.cross_fit: the threshold was chosen out of fold, and the validation pairs
    # (trained on) are reported with their out-of-fold probabilities, not the model's.
    training = _RecordingTraining()
    out_of_fold = np.array([0.7, 0.3, 0.45, 0.1])
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        # The model's own (in-fold) val scores separate perfectly at 0.5; out of fold they do not.
        "val": _split([0.99, 0.98, 0.02, 0.01], [1, 1, 0, 0]),
        "test": _split([0.5, 0.3, 0.2], [1, 1, 0]),
    }
    result = FitResult(threshold=0.25, validation_probabilities=out_of_fold)
    ev = evaluate(_fitted(result), training, splits, list_size=None)
    assert ev.threshold == 0.25
    np.testing.assert_array_equal(ev.probabilities["val"], out_of_fold)
    # Val at 0.25 over 0.7, 0.3, 0.45, 0.1 (labels 1 1 0 0): tp 2, fp 1 (0.45), tn 1.
    v = ev.metrics["val"]
    assert (v["tp"], v["fp"], v["fn"], v["tn"]) == (2, 1, 0, 1)
    # The val loss uses the out-of-fold scores too: (0.09 + 0.49 + 0.2025 + 0.01) / 4.
    assert v["loss"] == pytest.approx(0.7925 / 4)
    # Test at 0.25 over 0.5, 0.3, 0.2: tp 2, tn 1.
    t = ev.metrics["test"]
    assert (t["tp"], t["fp"], t["fn"], t["tn"]) == (2, 0, 0, 1)


def test_evaluate_counts_missed_matches_in_every_split_figure():
    # Val 0.8 0.6 | 0.4 0.2 (labels 1 1 0 0) with 2 missed: recall at 0.5 is 2 / 4 either way,
    # so the cut stays halfway between 0.6 and 0.4 (F1 2*2 / (4 + 2) = 2/3; lower cuts add fp).
    training = _RecordingTraining()
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        "val": _split([0.8, 0.6, 0.4, 0.2], [1, 1, 0, 0], missed=2),
        # Test: 1 found match at 0.7, 1 missed by blocking; average precision over the
        # candidates is 1, scaled by 1 / (1 + 1) for the missed one.
        "test": _split([0.7, 0.3], [1, 0], missed=1),
    }
    ev = evaluate(_fitted(), training, splits, list_size=None)
    assert ev.threshold == pytest.approx(0.5)
    v, t = ev.metrics["val"], ev.metrics["test"]
    assert (v["tp"], v["fn"], v["recall"]) == (2, 2, 0.5)
    assert (t["tp"], t["fn"], t["fp"], t["tn"]) == (1, 1, 0, 1)
    assert t["pr_auc"] == pytest.approx(0.5)
    # Log loss and Brier cover the candidate pairs only: (0.09 + 0.09) / 2.
    assert t["brier"] == pytest.approx(0.09)


def test_evaluate_applies_the_configured_threshold_rule_on_validation():
    # Val 0.9 0.8 | 0.3 0.2 (labels 1 1 0 0): best F1 1.0. max_f1 cuts halfway between 0.8 and 0.3
    # (0.55); half_best_f1 cuts at half the best F1, 1.0 / 2 = 0.5.
    splits = {
        "train": _split([0.9, 0.1], [1, 0]),
        "val": _split([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 0]),
        # Test 0.52: a match at 0.5 (half_best_f1), not at 0.55 (max_f1).
        "test": _split([0.52, 0.1], [1, 0]),
    }
    default = evaluate(_fitted(), _RecordingTraining(), splits, list_size=None)
    half = evaluate(_fitted(), _RecordingTraining(), splits, list_size=None, threshold_rule="half_best_f1")
    assert (default.threshold, half.threshold) == (pytest.approx(0.55), pytest.approx(0.5))
    assert (default.metrics["test"]["tp"], half.metrics["test"]["tp"]) == (0, 1)
