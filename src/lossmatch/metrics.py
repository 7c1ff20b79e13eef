"""Pair-level classification metrics and the choice of the decision threshold.

Counts and scores come from scikit-learn; the only hand-written parts are the
blocking correction (matches that never became candidates are false
negatives) and the threshold search over the precision-recall curve.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, matthews_corrcoef, precision_recall_curve

METRIC_KEYS = ("f1", "precision", "recall", "accuracy", "mcc", "tp", "fp", "tn", "fn")


def evaluate(y_true, y_prob, threshold: float, *, missed_matches: int = 0) -> dict:
    """Precision, recall, F1, accuracy, MCC and confusion counts at ``threshold``.

    ``missed_matches`` are true matches that blocking never proposed: they are
    added as false negatives, so a blocking step cannot inflate recall or F1.

    Examples:
        Predicted matches at p >= 0.5 are rows 1, 2 and 4:

        >>> y_true, y_prob = [0, 0, 1, 1, 1, 0], [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]
        >>> m = evaluate(y_true, y_prob, 0.5)
        >>> m["tp"], m["fp"], m["tn"], m["fn"], round(m["f1"], 4), round(m["mcc"], 4)
        (2, 1, 2, 1, 0.6667, 0.3333)

        Two matches that blocking missed are two more false negatives:

        >>> m = evaluate(y_true, y_prob, 0.5, missed_matches=2)
        >>> m["fn"], m["recall"], m["f1"], round(m["mcc"], 4)
        (3, 0.4, 0.5, 0.0667)
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = (np.asarray(y_prob).ravel() >= threshold).astype(int)
    if len(y_true):
        tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    else:
        # scikit-learn refuses empty input; no candidate pairs (blocking found none) is no counts.
        tn = fp = fn = tp = 0
    fn = fn + int(missed_matches)
    if missed_matches:
        # MCC needs the missed matches as rows too: a missed match is (true 1, predicted 0).
        y_true = np.concatenate([y_true, np.ones(missed_matches, dtype=int)])
        y_pred = np.concatenate([y_pred, np.zeros(missed_matches, dtype=int)])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    total = tp + fp + tn + fn
    return {
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "accuracy": float((tp + tn) / total) if total else 0.0,
        "mcc": float(matthews_corrcoef(y_true, y_pred)) if len(y_true) else 0.0,
        "tp": int(tp),
        "fp": int(fp),
        "tn": int(tn),
        "fn": int(fn),
    }


def best_f1_threshold(y_true, y_prob, *, missed_matches: int = 0) -> float:
    """The probability threshold that maximises F1 on the given (validation) pairs.

    Ties go to the highest threshold (fewest predicted matches). Threshold is
    the midpoint between the chosen score and the next lower one, so it does
    not sit on a training-set-specific exact value. With no positive pairs the
    default 0.5 is returned.

    Examples:
        Cutting below 0.4 (3 of 3 matches, 1 false match) gives the best F1, 6/7; the
        threshold is halfway to the next lower score, 0.2:

        >>> round(best_f1_threshold([0, 0, 1, 1, 1, 0], [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]), 4)
        0.3
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    n_pos = int(y_true.sum()) + int(missed_matches)
    if n_pos == 0 or len(y_true) == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y_true, y_prob)
    # precision_recall_curve's recall is relative to the candidates; rescale it
    # to all true matches so that the missed ones count.
    recall = recall[:-1] * (int(y_true.sum()) / n_pos)
    precision = precision[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = np.flatnonzero(f1 == f1.max())[-1]
    chosen = thresholds[best]
    lower = y_prob[y_prob < chosen]
    return float((chosen + lower.max()) / 2) if lower.size else float(chosen)
