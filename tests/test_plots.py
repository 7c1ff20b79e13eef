"""Per-run figures: each is produced from a tiny input and shows what its name says."""

import numpy as np
import pytest

from lossmatch import plots

Y_VAL = [0, 0, 1, 1, 1, 0]
P_VAL = [0.1, 0.6, 0.7, 0.4, 0.9, 0.2]
Y_TEST = [0, 1, 1, 0]
P_TEST = [0.2, 0.8, 0.4, 0.1]
HISTORY = {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6], "pr_auc": [0.5, 0.6], "val_pr_auc": [0.4, 0.7]}


@pytest.fixture(scope="module")
def figures():
    figs = plots.run_figures(Y_VAL, P_VAL, 0.3, HISTORY, y_test=Y_TEST, p_test=P_TEST, missed_test=1)
    yield figs
    for fig in figs.values():
        plots.close(fig)


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_run_figures_names(figures):
    assert set(figures) == {"precision_recall", "f1_threshold", "confusion_matrix", "reliability", "training_curves"}


def test_precision_recall_marks_the_threshold(figures):
    ax = figures["precision_recall"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")
    # Validation at p >= 0.3: 0.9, 0.7, 0.6, 0.4 predicted -> tp 3, fp 1: recall 1, precision 3/4.
    # Test at p >= 0.3: 0.8, 0.4 -> tp 2, fp 0, and 1 missed match: recall 2/3, precision 1.
    points = [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
    assert points == [pytest.approx((1.0, 0.75)), pytest.approx((2 / 3, 1.0))]
    # AP of validation is 11/12 (see test_probability_metrics); test's is scaled by 2/3 for the missed match: 1 * 2/3.
    assert _legend(ax)[:2] == ["validation (AP 0.917)", "test (AP 0.667)"]
    assert _legend(ax)[2] == "threshold 0.300"


def test_f1_threshold_has_a_line_at_the_chosen_threshold(figures):
    ax = figures["f1_threshold"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("threshold", "F1")
    chosen = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(chosen) == 1 and list(chosen[0].get_xdata()) == [0.3, 0.3]
    # The validation curve's best F1 is 6/7 (cut at 0.4: tp 3, fp 1, fn 0).
    assert max(ax.lines[0].get_ydata()) == pytest.approx(6 / 7)


def test_confusion_matrix_counts_missed_matches_as_false_negatives(figures):
    ax = figures["confusion_matrix"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted label", "True label")
    # Test at 0.3: tn 2 (0.2, 0.1), tp 2 (0.8, 0.4), fp 0, fn 0 + 1 missed by blocking.
    cells = [int(t.get_text()) for t in ax.texts]
    assert cells == [2, 0, 1, 2]
    assert "1 missed by blocking" in ax.get_title()


def test_reliability_diagram_reports_ece(figures):
    ax, hist = figures["reliability"].axes
    assert ax.get_ylabel() == "fraction of matches" and hist.get_xlabel() == "predicted probability"
    # Validation pairs fall in six singleton bins: ECE = mean |y - p| = 1.9 / 6 = 0.317.
    assert "validation (ECE 0.317)" in _legend(ax)
    # Test: four singleton bins, |0-.2| + |1-.8| + |1-.4| + |0-.1| = 1.1, / 4 = 0.275.
    assert "test (ECE 0.275)" in _legend(ax)
    assert hist.get_yscale() == "log"


def test_training_curves_show_loss_and_validation_score(figures):
    left, right = figures["training_curves"].axes
    assert left.get_ylabel() == "loss" and _legend(left) == ["loss", "val_loss"]
    # No val_f1 recorded: the validation PR-AUC stands in.
    assert right.get_ylabel() == "PR-AUC" and _legend(right) == ["pr_auc", "val_pr_auc"]
    assert list(right.lines[1].get_ydata()) == [0.4, 0.7]


def test_training_curves_prefer_validation_f1():
    fig = plots.training_curves_figure({"loss": [1.0], "val_f1": [0.5, 0.8], "val_pr_auc": [0.3, 0.4]})
    right = fig.axes[1]
    assert right.get_ylabel() == "F1" and _legend(right) == ["val_f1"]
    plots.close(fig)


def test_validation_only_and_single_class_inputs():
    # The pipeline's current call (validation only); no test split given.
    figs = plots.run_figures(Y_VAL, P_VAL, 0.5, {})
    assert set(figs) == {"precision_recall", "f1_threshold", "confusion_matrix", "reliability"}
    assert figs["confusion_matrix"].axes[0].get_title().startswith("validation")
    for fig in figs.values():
        plots.close(fig)
    # No match among the pairs: no curve to draw, the counts and calibration still are.
    figs = plots.run_figures(np.zeros(4), [0.1, 0.2, 0.3, 0.4], 0.5, {"loss": [0.2]})
    assert set(figs) == {"confusion_matrix", "reliability", "training_curves"}
    for fig in figs.values():
        plots.close(fig)


def test_comparison_figures():
    import pandas as pd

    runs = pd.DataFrame(
        {"data": ["A"] * 4 + ["B"] * 2, "loss": ["bce", "bce", "focal", "focal", "bce", "focal"],
         "seed": [1, 2, 1, 2, 1, 1], "test_f1": [0.5, 0.6, 0.7, 0.8, 0.2, 0.1]}
    )
    fig = plots.f1_by_loss_figure(runs)
    a, b = fig.axes
    # One panel per data set, losses ordered by mean F1 with the best on top (last tick).
    assert (a.get_title(), b.get_title()) == ("A", "B")
    assert [t.get_text() for t in a.get_yticklabels()] == ["bce", "focal"]
    assert [t.get_text() for t in b.get_yticklabels()] == ["focal", "bce"]
    # The baseline's mean (0.55 on A) as a dashed line.
    assert [list(line.get_xdata()) for line in a.lines if line.get_linestyle() == "--"] == [[0.55, 0.55]]
    plots.close(fig)

    means = pd.DataFrame({"loss": ["focal", "bce"], "n_data": [2, 2], "mean_rank": [1.25, 1.75],
                          "rank_ci_low": [1.0, 1.0], "rank_ci_high": [2.0, 2.0]})
    fig = plots.mean_rank_figure(means, {"critical_difference": 0.9, "alpha": 0.05})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "mean rank across data sets (1 = best)"
    assert _legend(ax) == ["Nemenyi CD 0.90 (α 0.05)"]
    plots.close(fig)

    fig = plots.precision_recall_overlay_figure({"bce": (Y_VAL, P_VAL, 0), "focal": (Y_VAL, P_VAL, 1)})
    # AP 11/12, and with one missed match 11/16 = 0.6875 (format rounds it half-to-even: 0.687).
    assert _legend(fig.axes[0]) == ["bce (AP 0.917)", "focal (AP 0.687)"]
    plots.close(fig)


def test_run_figures_fixed_margins_hold_wide_labels():
    """Run figures use fixed margins (no tight_layout pass): labels must still fit inside the
    figure on wide inputs: a 6-digit confusion count, a loss of 12345.6, log counts to 10^5."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300_000, dtype=int), np.ones(50, dtype=int)]
    p = np.r_[rng.random(300_000) * 0.5, 0.5 + rng.random(50) * 0.5]
    history = {"loss": [12345.6, 0.0012], "val_loss": [9876.5, 0.0011], "val_f1": [0.1, 0.9]}
    figs = plots.run_figures(y, p, 0.5, history, y_test=y, p_test=p)
    try:
        for name, fig in figs.items():
            renderer = fig.canvas.get_renderer()
            box = fig.get_tightbbox(renderer)  # inches, everything drawn, labels included
            width, height = fig.get_size_inches()
            assert box.x0 >= -0.01 and box.y0 >= -0.01, name
            assert box.x1 <= width + 0.01 and box.y1 <= height + 0.01, name
    finally:
        for fig in figs.values():
            plots.close(fig)
