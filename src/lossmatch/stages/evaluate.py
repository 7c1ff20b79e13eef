"""Stage 4, evaluate: choose the threshold on validation, then measure every split at it.

The threshold comes from the validation split only; the test split is scored once, at
that threshold, and never used to choose anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lossmatch import metrics as match_metrics
from lossmatch.common import SPLITS
from lossmatch.imbalance import correct_prior
from lossmatch.stages.fit import Fitted
from lossmatch.training import SplitData, Training


@dataclass
class Evaluation:
    """Probabilities, the threshold and the figures of each split."""

    probabilities: dict[str, np.ndarray]
    threshold: float
    metrics: dict[str, dict]


def evaluate(fitted: Fitted, training: Training, splits: Mapping[str, SplitData], *, list_size: int | None,
             threshold_rule: str = "max_f1") -> Evaluation:
    """Predict each split once; the loss is computed from those predictions, not a second pass.

    ``threshold_rule`` (the config's ``threshold_rule``) picks the cut on validation: see
    :func:`lossmatch.metrics.choose_threshold`.
    """
    outputs = {
        s: training.predict_raw(fitted.model, splits[s], listwise=fitted.listwise, list_size=list_size) for s in SPLITS
    }
    prior = fitted.result.prior
    probabilities = {s: correct_prior(outputs[s], *prior) if prior else outputs[s] for s in SPLITS}
    if fitted.result.threshold is not None:
        # Cross-fitted (trainer.cross_fit): the validation pairs were trained on, so they are
        # scored out of fold, and the threshold was chosen out of fold over train + valid.
        probabilities["val"] = outputs["val"] = fitted.result.validation_probabilities
        threshold = fitted.result.threshold
    else:
        threshold = choose_threshold(splits["val"], probabilities["val"], threshold_rule)
    metrics = {}
    for s in SPLITS:
        missed = splits[s].missed_matches
        metrics[s] = match_metrics.evaluate(splits[s].y, probabilities[s], threshold, missed_matches=missed)
        # Threshold-free and calibration figures: PR-AUC, log loss, Brier score, ECE.
        metrics[s].update(match_metrics.probability_scores(splits[s].y, probabilities[s], missed_matches=missed))
        metrics[s]["loss"] = training.loss_value(
            fitted.model, splits[s], outputs=outputs[s], listwise=fitted.listwise, list_size=list_size
        )
    return Evaluation(probabilities, threshold, metrics)


def choose_threshold(val: SplitData, p_val: np.ndarray, rule: str = "max_f1") -> float:
    """The threshold of ``rule`` on the validation pairs, counting the matches blocking missed."""
    return match_metrics.choose_threshold(val.y, p_val, rule, missed_matches=val.missed_matches)
