"""Pair-level metrics and the validation threshold, on vectors checked by hand."""

import math
import warnings

import numpy as np
import pytest

from lossmatch.metrics import best_f1_threshold, choose_threshold, evaluate, half_best_f1_threshold

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
    # The 2 missed matches are 2 more rows (true 1, predicted 0): tp 2, fp 1, tn 2, fn 1 + 2 = 3.
    # precision 2/3 (unchanged), recall 2/5, F1 = 4 / (4 + 1 + 3) = 1/2, accuracy (2 + 2) / 8,
    # MCC over the 8 rows: (2*2 - 1*3) / sqrt((2+1)(2+3)(2+1)(2+3)) = 1/15
    assert m == pytest.approx(
        {"f1": 0.5, "precision": 2 / 3, "recall": 2 / 5, "accuracy": 0.5, "mcc": 1 / 15,
         "tp": 2, "fp": 1, "tn": 2, "fn": 3},
        rel=1e-12,
    )
    assert all(type(m[k]) is int for k in ("tp", "fp", "tn", "fn"))
    assert all(type(m[k]) is float for k in ("f1", "precision", "recall", "accuracy", "mcc"))


def test_score_equal_to_the_threshold_is_a_match():
    # Row 1 scores exactly 0.6: predicted 1 (p >= t), so tp 2, fp 1 as at 0.5.
    assert {k: evaluate(Y, P, 0.6)[k] for k in ("tp", "fp", "fn", "tn")} == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    # Just above, row 1 becomes a true negative.
    assert {k: evaluate(Y, P, 0.6000001)[k] for k in ("tp", "fp", "fn", "tn")} == {"tp": 2, "fp": 0, "fn": 1, "tn": 3}


def test_only_missed_matches_and_empty_input():
    # No candidate pairs at all, 3 missed matches: everything is a false negative, MCC 0.
    m = evaluate([], [], 0.5, missed_matches=3)
    assert m == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.0, "mcc": 0.0,
                 "tp": 0, "fp": 0, "tn": 0, "fn": 3}
    # Nothing at all: zeros, not NaN or ZeroDivisionError.
    assert evaluate([], [], 0.5) == {k: 0 for k in ("f1", "precision", "recall", "accuracy", "mcc", "tp", "fp", "tn", "fn")}


def test_all_negative_predictions_on_negatives_only():
    # Two true negatives: accuracy 1, the ratios with an empty denominator are 0.
    m = evaluate([0, 0], [0.1, 0.2], 0.5)
    assert (m["tn"], m["accuracy"], m["precision"], m["recall"], m["f1"]) == (2, 1.0, 0.0, 0.0, 0.0)


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
    # Cuts below each score, F1 = 2tp / (2tp + fp + fn):
    #   0.8: tp 1, fp 0, fn 1 -> 2/3;   0.5: tp 1, fp 1, fn 1 -> 1/2;
    #   0.35: tp 1, fp 2, fn 1 -> 2/5;  0.3: tp 2, fp 2, fn 0 -> 4/6 = 2/3.
    # 0.8 and 0.3 tie: the higher one wins, and the threshold is the midpoint between 0.8
    # and the next lower score 0.5: (0.8 + 0.5) / 2 = 0.65.
    assert best_f1_threshold([1, 0, 1, 0], [0.8, 0.5, 0.3, 0.35]) == pytest.approx(0.65, rel=1e-12)


def test_threshold_counts_matches_missed_by_blocking():
    y, p = [1, 0, 1, 0, 0], [0.8, 0.5, 0.3, 0.35, 0.1]
    # Without missed matches the tie above repeats: 0.65.
    assert best_f1_threshold(y, p) == pytest.approx(0.65, rel=1e-12)
    # With 1 missed match there are 3 true matches, so every cut has one more FN:
    #   0.8: 2 / (2 + 0 + 2) = 1/2;  0.3: 4 / (4 + 2 + 1) = 4/7 -> 0.3 wins,
    # midpoint to the next lower score 0.1: (0.3 + 0.1) / 2 = 0.2.
    assert best_f1_threshold(y, p, missed_matches=1) == pytest.approx(0.2, rel=1e-12)


def test_threshold_at_the_lowest_score_is_that_score():
    # The best cut keeps every pair (F1 = 2*2 / (2*2 + 1) = 4/5 beats 2/3 at 0.9);
    # there is no lower score to take a midpoint with, so the threshold is 0.3 itself.
    assert best_f1_threshold([1, 0, 1], [0.9, 0.8, 0.3]) == 0.3


def test_column_vectors_and_float32_scores():
    # (n, 1) columns, as a Keras model predicts them, give the same counts as flat vectors.
    m = evaluate(np.array(Y)[:, None], np.array(P)[:, None], 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 2)
    # float32 scores: the midpoint is taken in float64 between the two float32 scores, so it
    # lies strictly between them (float32 arithmetic would give 0.64999998, not this).
    t = best_f1_threshold(np.array([[1], [0], [1], [0]]), np.array([[0.8], [0.5], [0.3], [0.35]], np.float32))
    assert t == (float(np.float32(0.8)) + float(np.float32(0.5))) / 2
    assert type(t) is float


def test_threshold_without_positives_is_half():
    assert best_f1_threshold([0, 0, 0], [0.2, 0.4, 0.9]) == 0.5
    assert best_f1_threshold([], []) == 0.5


# Cases the mutation run found untested (bench/mutation.py): counts that are equal to each other.
def test_precision_recall_f1_when_counts_coincide():
    # y = [1, 0], p = [0.9, 0.8] at 0.5: tp 1, fp 1, fn 0 -> precision 1/2, recall 1,
    # F1 = 2*1 / (2*1 + 1 + 0) = 2/3 (tp equal to fp, and tp + fn equal to fp).
    r = evaluate([1, 0], [0.9, 0.8], 0.5)
    assert (r["precision"], r["recall"], r["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    # y = [1, 1], p = [0.9, 0.1] at 0.5: tp 1, fp 0, fn 1 -> precision 1, recall 1/2, F1 2/3.
    r = evaluate([1, 1], [0.9, 0.1], 0.5)
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 0.5, pytest.approx(2 / 3))


def test_best_threshold_when_the_top_scored_pair_is_not_a_match():
    # Above the first cut only the non-match (p 0.9) is predicted: tp 0, precision + recall 0,
    # F1 0 there. Both predicted: tp 1, fp 1 -> F1 2/3, the best.
    t = best_f1_threshold([0, 1], [0.9, 0.2])
    assert evaluate([0, 1], [0.9, 0.2], t)["f1"] == pytest.approx(2 / 3)
    # With 3 matches blocking missed, recall is 1/4 and precision 1/2 (their sum 0.75 < 1):
    # F1 = 2*1 / (2*1 + 1 + 4) = 1/3 is still the best, not F1 0 at the top cut.
    t = best_f1_threshold([0, 1], [0.9, 0.2], missed_matches=3)
    assert evaluate([0, 1], [0.9, 0.2], t, missed_matches=3)["f1"] == pytest.approx(1 / 3)


def test_best_threshold_of_a_single_matching_pair_predicts_it():
    # One pair, a match: predicting it gives F1 1.
    t = best_f1_threshold([1], [0.7])
    assert evaluate([1], [0.7], t)["f1"] == 1.0


def test_half_best_f1_threshold_is_half_the_best_validation_f1():
    # y 1 0 1 0 at p 0.8 0.5 0.3 0.35. Cuts from the top: {0.8}: tp 1 fn 1 -> F1 2/3;
    # + 0.5: tp 1 fp 1 fn 1 -> 1/2; + 0.35: tp 1 fp 2 fn 1 -> 2/5; + 0.3: tp 2 fp 2 -> 4/6 = 2/3.
    # Best F1 2/3, so the cut is 1/3 (max_f1 would cut at 0.65, above the first match).
    y, p = [1, 0, 1, 0], [0.8, 0.5, 0.3, 0.35]
    assert half_best_f1_threshold(y, p) == pytest.approx(1 / 3, rel=1e-12)
    # One match missed by blocking adds a false negative everywhere: {0.8}: 2/(2+0+2) = 1/2;
    # all four: 4/(4+2+1) = 4/7, now the best -> cut 2/7.
    assert half_best_f1_threshold(y, p, missed_matches=1) == pytest.approx(2 / 7, rel=1e-12)
    # No match at all: the default 0.5, like max_f1.
    assert half_best_f1_threshold([0, 0], [0.2, 0.9]) == 0.5
    assert half_best_f1_threshold([], []) == 0.5


def test_choose_threshold_applies_the_named_rule():
    y, p = [1, 0, 1, 0], [0.8, 0.5, 0.3, 0.35]
    assert choose_threshold(y, p, "max_f1") == best_f1_threshold(y, p) == pytest.approx(0.65)
    assert choose_threshold(y, p) == pytest.approx(0.65)  # the default rule is max_f1
    assert choose_threshold(y, p, "half_best_f1", missed_matches=1) == pytest.approx(2 / 7)
    with pytest.raises(ValueError, match="max_f1, half_best_f1.*'median'"):
        choose_threshold(y, p, "median")


def test_best_threshold_of_a_single_low_scored_match_is_its_score():
    # One pair, a match scored 0.3: predicting it (F1 1) needs a threshold <= 0.3, and with no
    # lower score the threshold is 0.3 itself (the default 0.5 would miss it).
    assert best_f1_threshold([1], [0.3]) == 0.3


def test_best_threshold_scores_a_cut_with_no_true_positive_quietly():
    # The top pair (0.9) is not a match: at that cut precision and recall are both 0, and F1 is
    # 0 there without a 0/0 RuntimeWarning. Predicting both pairs: tp 1, fp 1, F1 2/3, the best;
    # no lower score, so the threshold is 0.2.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert best_f1_threshold([0, 1], [0.9, 0.2]) == 0.2


@pytest.mark.parametrize("case", ["random", "ties", "missed", "all_matches", "no_found_match", "one_pair"])
def test_epoch_figures_equal_the_three_functions_exactly(case):
    """epoch_figures (one curve per epoch) gives bit for bit what best_f1_threshold, pr_auc and
    evaluate's F1 at that threshold give apart: early stopping and the logs must not change."""
    from lossmatch.metrics import best_f1_threshold, epoch_figures, evaluate, pr_auc

    rng = np.random.default_rng(7)
    y = (rng.random(3000) < 0.05).astype(int)
    p = np.clip(y * 0.4 + rng.random(3000) * 0.7, 0, 1)
    missed = 0
    if case == "ties":
        p = np.round(p, 1)  # 11 distinct scores, many ties across classes
    elif case == "missed":
        missed = 17
    elif case == "all_matches":
        y = np.ones_like(y)
    elif case == "no_found_match":
        y, missed = np.zeros_like(y), 3
    elif case == "one_pair":
        y, p = np.array([1]), np.array([0.2])
    got = epoch_figures(y, p.astype(np.float32), missed_matches=missed)
    threshold = best_f1_threshold(y, p.astype(np.float32), missed_matches=missed)
    assert got["threshold"] == threshold
    want_ap = pr_auc(y, p.astype(np.float32), missed_matches=missed)
    assert got["pr_auc"] == want_ap or (np.isnan(want_ap) and np.isnan(got["pr_auc"]))
    assert got["f1"] == evaluate(y, p.astype(np.float32), threshold, missed_matches=missed)["f1"]


@pytest.mark.parametrize("seed", range(12))
def test_epoch_figures_cut_is_f1_optimal_by_brute_force(seed):
    """Independently of the threshold functions it shares code with: on overlapping scores, F1
    counted at every distinct cut (2tp / (2tp + fp + fn), missed matches as false negatives)
    peaks at epoch_figures' f1, its threshold predicts exactly the pairs at or above that best
    cut (halfway to the next lower score), and its pr_auc is scikit-learn's average precision."""
    from sklearn.metrics import average_precision_score

    from lossmatch.metrics import epoch_figures

    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    y = (rng.random(n) < rng.uniform(0.05, 0.5)).astype(int)
    y[0] = 1
    p = np.round(np.clip(y * rng.uniform(0.05, 0.4) + rng.random(n), 0, 1), int(rng.integers(1, 4)))
    missed = int(rng.integers(0, 4))
    got = epoch_figures(y, p, missed_matches=missed)

    cuts = np.unique(p)
    f1 = np.array([2 * ((p >= c) & (y == 1)).sum() / (2 * ((p >= c) & (y == 1)).sum() + ((p >= c) & (y == 0)).sum()
                                                       + ((p < c) & (y == 1)).sum() + missed) for c in cuts])
    assert got["f1"] == pytest.approx(f1.max(), abs=1e-12)
    best = cuts[np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))[-1]]  # ties: the highest cut
    below = cuts[cuts < best]
    assert got["threshold"] == pytest.approx((best + below.max()) / 2 if below.size else best, abs=1e-12)
    assert got["pr_auc"] == pytest.approx(average_precision_score(y, p) * y.sum() / (y.sum() + missed), abs=1e-12)


def test_epoch_figures_without_any_match():
    """No match among the pairs and none missed: the figures of the separate functions (threshold
    0.5, F1 0, PR-AUC undefined), not a division by zero."""
    from lossmatch.metrics import epoch_figures

    got = epoch_figures([0, 0, 0], [0.2, 0.9, 0.4])
    assert got["threshold"] == 0.5 and got["f1"] == 0.0 and np.isnan(got["pr_auc"])


def test_epoch_figures_when_the_top_scored_pair_is_not_a_match():
    """The highest cut predicts one non-match only (precision = recall = 0: F1 0 there, not NaN).
    y = [0, 1, 0, 1], p = [0.9, 0.8, 0.3, 0.7]. F1 = 2tp / (2tp + fp + fn) by cut:
    0.9: tp 0 fp 1 fn 2 -> 0; 0.8: tp 1 fp 1 fn 1 -> 2/4 = 0.5; 0.7: tp 2 fp 1 fn 0 -> 4/5 = 0.8;
    0.3: tp 2 fp 2 -> 4/6. Best at 0.7, threshold halfway to 0.3: 0.5. Average precision: recall
    steps 1/2 at 0.8 (precision 1/2) and 1/2 at 0.7 (precision 2/3): 1/4 + 1/3 = 7/12."""
    from lossmatch.metrics import epoch_figures

    got = epoch_figures([0, 1, 0, 1], [0.9, 0.8, 0.3, 0.7])
    assert got["threshold"] == pytest.approx(0.5)
    assert got["f1"] == pytest.approx(0.8)
    assert got["pr_auc"] == pytest.approx(7 / 12)
