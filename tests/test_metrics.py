"""Pair-level metrics and the validation threshold, on vectors checked by hand."""

import math

import pytest

from lossmatch.metrics import best_f1_threshold, evaluate

Y = [0, 0, 1, 1, 1, 0]
P = [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]


def test_evaluate_counts_and_scores_at_half():
    m = evaluate(Y, P, 0.5)
    # predicted 1 at p >= 0.5: rows 1, 2, 4 -> tp = rows 2, 4 = 2; fp = row 1; fn = row 3; tn = rows 0, 5
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 2)
    # precision 2/3, recall 2/3, F1 = 2*2 / (2*2 + 1 + 1) = 4/6, accuracy 4/6
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(4 / 6)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # MCC = (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (4 - 1) / sqrt(3*3*3*3) = 3/9
    assert m["mcc"] == pytest.approx(1 / 3)


def test_matches_missed_by_blocking_are_false_negatives():
    m = evaluate(Y, P, 0.5, missed_matches=2)
    # fn = 1 + 2 missed; recall = 2/5; F1 = 4 / (4 + 1 + 3) = 1/2
    assert m["fn"] == 3
    assert m["recall"] == pytest.approx(2 / 5)
    assert m["f1"] == pytest.approx(0.5)
    # MCC over 8 rows: tp 2, tn 2, fp 1, fn 3: (4 - 3) / sqrt(3 * 5 * 3 * 5) = 1/15
    assert m["mcc"] == pytest.approx(1 / 15)


def test_no_predicted_positive_gives_zero_not_nan():
    m = evaluate([0, 1], [0.1, 0.2], 0.9)
    assert m["precision"] == 0.0 and m["f1"] == 0.0 and not math.isnan(m["mcc"])


def test_threshold_maximises_validation_f1():
    # Sorted scores 0.9(1) 0.7(1) 0.6(0) 0.4(1) 0.2(0) 0.1(0): cutting below 0.4 gives
    # tp 3, fp 1, F1 = 6/7, the best; the threshold is the midpoint to the next lower score.
    t = best_f1_threshold(Y, P)
    assert t == pytest.approx((0.4 + 0.2) / 2)
    assert evaluate(Y, P, t)["f1"] == pytest.approx(6 / 7)


def test_threshold_ties_go_to_the_higher_threshold():
    # Cutting at 0.8 (tp 1, fp 0, fn 1 -> F1 2/3) and at 0.3 (tp 2, fp 2 -> F1 4/6) tie: higher wins.
    t = best_f1_threshold([1, 0, 1, 0], [0.8, 0.5, 0.3, 0.35])
    assert 0.5 < t <= 0.8


def test_threshold_without_positives_is_half():
    assert best_f1_threshold([0, 0, 0], [0.2, 0.4, 0.9]) == 0.5
