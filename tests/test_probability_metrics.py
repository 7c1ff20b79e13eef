"""Threshold-free scores (PR-AUC, log loss, Brier, ECE) on vectors checked by hand."""

import math
import warnings

import numpy as np
import pytest

from lossmatch import metrics as match_metrics

# The same six pairs as tests/test_metrics.py.
Y = [0, 0, 1, 1, 1, 0]
P = [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]


def test_pr_auc_is_average_precision():
    # By score: 0.9(1) 0.7(1) 0.6(0) 0.4(1) 0.2(0) 0.1(0). Recall steps of 1/3 at
    # 0.9 (precision 1), 0.7 (precision 1) and 0.4 (precision 3/4):
    # AP = 1/3 * 1 + 1/3 * 1 + 1/3 * 3/4 = 11/12.
    assert match_metrics.pr_auc(Y, P) == pytest.approx(11 / 12)


def test_pr_auc_counts_matches_missed_by_blocking():
    # One more true match that was never a candidate: recall steps become 1/4,
    # AP = 1/4 + 1/4 + 1/4 * 3/4 = 11/16 (= 11/12 * 3/4).
    assert match_metrics.pr_auc(Y, P, missed_matches=1) == pytest.approx(11 / 16)
    # Only missed matches: nothing is ever retrieved.
    assert match_metrics.pr_auc([0, 0], [0.2, 0.8], missed_matches=2) == 0.0
    # No true match anywhere: the curve is undefined.
    assert math.isnan(match_metrics.pr_auc([0, 0], [0.2, 0.8]))


def test_brier_score():
    # Squared errors: 0.1² 0.6² 0.3² 0.6² 0.1² 0.2² = .01 + .36 + .09 + .36 + .01 + .04 = 0.87; / 6.
    assert match_metrics.brier_score(Y, P) == pytest.approx(0.87 / 6)


def test_log_loss():
    # Probability given to the true label: 0.9 0.4 0.7 0.4 0.9 0.8, product 0.072576;
    # mean negative log = -ln(0.072576) / 6 ≈ 0.43719.
    assert match_metrics.log_loss(Y, P) == pytest.approx(-math.log(0.072576) / 6)
    # Only non-matches (a common validation batch) is still defined: -(ln 0.9 + ln 0.7) / 2.
    assert match_metrics.log_loss([0, 0], [0.1, 0.3]) == pytest.approx(-(math.log(0.9) + math.log(0.7)) / 2)


def test_log_loss_of_a_confident_miss_is_finite():
    # p = 0 for a true match is clipped to float64's eps: -ln(2.2e-16) ≈ 36.04, not infinity.
    assert match_metrics.log_loss([1], [0.0]) == pytest.approx(-math.log(np.finfo(np.float64).eps))


def test_expected_calibration_error_weights_bins_by_count():
    y = [0, 0, 1, 0, 1, 1]
    p = [0.05, 0.15, 0.15, 0.85, 0.85, 0.95]
    # Ten uniform bins; non-empty ones:
    #   [0, .1]   : 1 pair,  positives 0,   mean p .05 -> |0 - .05|   = .05
    #   (.1, .2]  : 2 pairs, positives 1/2, mean p .15 -> |.5 - .15|  = .35
    #   (.8, .9]  : 2 pairs, positives 1/2, mean p .85 -> |.5 - .85|  = .35
    #   (.9, 1]   : 1 pair,  positives 1,   mean p .95 -> |1 - .95|   = .05
    # ECE = (1 * .05 + 2 * .35 + 2 * .35 + 1 * .05) / 6 = 1.5 / 6 = 0.25
    assert match_metrics.expected_calibration_error(y, p) == pytest.approx(0.25)
    frac, mean, counts = match_metrics.calibration_bins(y, p)
    assert counts.tolist() == [1, 2, 2, 1]
    assert frac.tolist() == pytest.approx([0, 0.5, 0.5, 1])
    assert mean.tolist() == pytest.approx([0.05, 0.15, 0.85, 0.95])


def test_perfectly_calibrated_bin_has_zero_ece():
    # Four pairs at p = 0.25, one of them a match: fraction 1/4 = mean probability.
    assert match_metrics.expected_calibration_error([1, 0, 0, 0], [0.25] * 4) == pytest.approx(0.0)


def test_calibration_bins_use_calibration_curves_edges():
    # 0.5 is an inner edge: calibration_curve puts it in (0.4, 0.5], with 0.45, not with 0.55.
    frac, mean, counts = match_metrics.calibration_bins([0, 1], [0.45, 0.5])
    assert counts.tolist() == [2] and mean.tolist() == pytest.approx([0.475])
    frac, mean, counts = match_metrics.calibration_bins([0, 1], [0.5, 0.55])
    assert counts.tolist() == [1, 1] and frac.tolist() == [0.0, 1.0]


def test_probability_scores_names_match_the_logged_keys():
    scores = match_metrics.probability_scores(Y, P, missed_matches=1)
    assert tuple(scores) == match_metrics.PROBABILITY_KEYS
    assert scores["pr_auc"] == pytest.approx(11 / 16)
    # Singleton bins here: ECE = mean |y - p| = (.1 + .6 + .3 + .6 + .1 + .2) / 6.
    assert scores["ece"] == pytest.approx(1.9 / 6)
    assert all(math.isnan(v) for v in match_metrics.probability_scores([], []).values())


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="3 values but y_prob has 2"):
        match_metrics.brier_score([0, 1, 1], [0.2, 0.4])


def test_precision_recall_f1_curve_at_every_score():
    thresholds, precision, _, f1 = match_metrics.precision_recall_f1_curve(Y, P)
    # Cut at p >= t:   0.1: tp 3 fp 3 | 0.2: tp 3 fp 2 | 0.4: tp 3 fp 1 | 0.6: tp 2 fp 1 fn 1
    #                  0.7: tp 2 fp 0 fn 1 | 0.9: tp 1 fn 2;  F1 = 2tp / (2tp + fp + fn).
    assert thresholds.tolist() == [0.1, 0.2, 0.4, 0.6, 0.7, 0.9]
    assert f1.tolist() == pytest.approx([6 / 9, 6 / 8, 6 / 7, 4 / 6, 4 / 5, 2 / 4])
    # One missed match: recall over 4 true matches, precision unchanged.
    _, p2, r2, _ = match_metrics.precision_recall_f1_curve(Y, P, missed_matches=1)
    assert r2.tolist() == pytest.approx([3 / 4, 3 / 4, 3 / 4, 2 / 4, 2 / 4, 1 / 4])
    assert p2.tolist() == pytest.approx(precision.tolist())


def test_precision_recall_f1_curve_without_a_found_match_is_empty():
    # No true match among the candidates: no curve (four empty arrays), not an error.
    curve = match_metrics.precision_recall_f1_curve([0, 0], [0.3, 0.8], missed_matches=2)
    assert len(curve) == 4 and all(a.shape == (0,) for a in curve)


def test_precision_recall_f1_curve_scores_a_cut_with_no_true_positive_as_zero_quietly():
    # One match (p 0.5) under a non-match (p 0.9). Cuts at p >= t:
    #   0.2: tp 1 fp 2 -> P 1/3, R 1, F1 2/(2+2) = 1/2;   0.5: tp 1 fp 1 -> P 1/2, R 1, F1 2/3;
    #   0.9: tp 0 fp 1 -> P 0, R 0: F1 0 (0/0 in the formula: no NaN, no RuntimeWarning).
    y, p = [0, 1, 0], [0.9, 0.5, 0.2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        thresholds, precision, recall, f1 = match_metrics.precision_recall_f1_curve(y, p)
    assert thresholds.tolist() == [0.2, 0.5, 0.9]
    assert precision.tolist() == pytest.approx([1 / 3, 1 / 2, 0])
    assert recall.tolist() == [1, 1, 0]
    assert f1.tolist() == pytest.approx([1 / 2, 2 / 3, 0])
    # With 3 matches blocking missed, recall is 1/4 where the match is found, so
    # precision + recall < 1 there: F1 = 2tp / (2tp + fp + fn) = 2/(2+2+3) = 2/7 and 2/(2+1+3) = 1/3.
    _, _, recall, f1 = match_metrics.precision_recall_f1_curve(y, p, missed_matches=3)
    assert recall.tolist() == pytest.approx([1 / 4, 1 / 4, 0])
    assert f1.tolist() == pytest.approx([2 / 7, 1 / 3, 0])


def test_probability_scores_count_no_missed_match_unless_told():
    # The default is no missed match: PR-AUC is plain average precision, 11/12 (not 11/16).
    assert match_metrics.probability_scores(Y, P)["pr_auc"] == pytest.approx(11 / 12)


def test_log_loss_of_float32_scores_clips_at_float64_eps():
    # A Keras model predicts float32. Clipped in float32 (eps 1.2e-7) a confident miss would
    # cost -ln(1.2e-7) = 15.9; the scores are taken as float64, so it costs -ln(2.2e-16) = 36.04.
    scores = np.array([0.0, 1.0], dtype=np.float32)
    assert match_metrics.log_loss([1, 0], scores) == pytest.approx(-math.log(np.finfo(np.float64).eps))


def test_expected_calibration_error_of_one_pair_and_of_none():
    # One pair: one bin, |1 - 0.7| = 0.3.  No pair: undefined, NaN.
    assert match_metrics.expected_calibration_error([1], [0.7]) == pytest.approx(0.3)
    assert math.isnan(match_metrics.expected_calibration_error([], []))


def test_expected_calibration_error_with_fewer_bins():
    y, p = [0, 1, 1, 0], [0.1, 0.4, 0.6, 0.8]
    # Two bins [0, .5] and (.5, 1]: positives 1/2 in each, mean p .25 and .7:
    # ECE = (2 * |.5 - .25| + 2 * |.5 - .7|) / 4 = (.5 + .4) / 4 = 0.225.
    assert match_metrics.expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.225)
    # Ten bins: four singletons, mean |y - p| = (.1 + .6 + .4 + .8) / 4 = 0.475.
    assert match_metrics.expected_calibration_error(y, p) == pytest.approx(0.475)


def test_calibration_bin_counts_follow_the_ten_equal_bins():
    # 0.22 and 0.28 share the bin (0.2, 0.3]: one bin of 2 pairs, positives 1/2, mean 0.25.
    frac, mean, counts = match_metrics.calibration_bins([0, 1], [0.22, 0.28])
    assert counts.tolist() == [2] and frac.tolist() == [0.5] and mean.tolist() == pytest.approx([0.25])
